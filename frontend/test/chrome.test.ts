import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CommandKeys, type KeyPress } from '../src/logic/keys';
import { distinctNames, initialCandidates, lastRunText } from '../src/logic/people';
import { parseServerPresence } from '../src/protocol/presence';

const key = (k: string, mods: Partial<KeyPress> = {}): KeyPress =>
  ({ key: k, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods });

test('Home / End and Ctrl (Cmd) + Home / End go to the first / last cell', () => {
  const keys = new CommandKeys();
  assert.equal(keys.handle(key('Home'), 0), 'first');
  assert.equal(keys.handle(key('End'), 1000), 'last');
  assert.equal(keys.handle(key('Home', { ctrlKey: true }), 2000), 'first');
  assert.equal(keys.handle(key('End', { metaKey: true }), 3000), 'last');
  assert.equal(keys.handle(key('End', { altKey: true }), 4000), null);
});

test('people of one name, or one set of initials, are told apart the same way on every page', () => {
  const ann = { username: 'u-1', displayName: 'Anonymous Carme', initials: 'AC' };
  const bob = { username: 'u-2', displayName: 'Anonymous Callisto', initials: 'AC' };
  const cid = { username: 'u-3', displayName: 'Anonymous Carme', initials: 'AC' };
  const dee = { username: 'u-4', displayName: 'Dee Ex', initials: 'DE' };
  const a = distinctNames([dee, cid, bob, ann]);
  const b = distinctNames([ann, bob, cid, dee, ann]);
  assert.deepEqual([...a].sort(), [...b].sort()); // the order people arrive in changes nothing
  assert.equal(a.get('u-1')!.displayName, 'Anonymous Carme');
  assert.equal(a.get('u-3')!.displayName, 'Anonymous Carme 2');
  const initials = ['u-1', 'u-2', 'u-3'].map((u) => a.get(u)!.initials);
  assert.equal(new Set(initials).size, 3, `initials ${initials.join()} must differ`);
  assert.deepEqual(initials, ['AC', 'Ca', 'Cr']); // the first (by username) keeps theirs
  assert.equal(a.get('u-4')!.initials, 'DE'); // unique ones stay
  assert.deepEqual(initialCandidates('Io', 'I').slice(0, 3), ['I', 'Io', 'I2']);
});

test('run lines: quiet when alone, and say why a cell of a failed Run all did not run', () => {
  const run = { by: 'Ann', reason: '', mine: true, alone: true };
  assert.equal(lastRunText({ ...run, state: 'done' }, null), null);
  assert.equal(lastRunText({ ...run, state: 'done', alone: false }, null)!.text, 'Ran · by Ann');
  assert.equal(lastRunText({ ...run, state: 'done', mine: false }, null)!.text, 'Ran · by Ann');
  const aborted = { ...run, state: 'aborted', reason: 'an earlier cell in the same run did not finish' };
  assert.equal(lastRunText(aborted, 3)!.text, 'Not run: cell 3 failed');
  assert.equal(lastRunText(aborted, null)!.text, 'Not run: an earlier cell failed');
  assert.equal(lastRunText({ ...aborted, reason: 'the kernel was restarted by ann' }, null)!.text, 'Not run: the kernel restarted');
  assert.equal(lastRunText({ ...run, state: 'error' }, null)!.text, 'Run failed · by Ann');
});

test('the server presence carries who restarted the kernel and each failed run\'s batch', () => {
  const states = new Map<number, unknown>([[7, { huddle: {
    runs: { c1: { state: 'error', batch: 'b1', requested_by: { username: 'ann' } },
      c2: { state: 'aborted', batch: 'b1', reason: 'an earlier cell in the same run did not finish' } },
    kernel_action: { action: 'restart', at: 12.5, by: { username: 'bob', display_name: 'Bob' } },
  } }]]);
  const server = parseServerPresence(states, 7);
  assert.deepEqual(server.kernelAction, { action: 'restart', at: 12.5, by: { username: 'bob', displayName: 'Bob' } });
  assert.equal(server.runs.get('c2')!.batch, 'b1');
  assert.equal(server.runs.get('c2')!.reason, 'an earlier cell in the same run did not finish');
  const forged = parseServerPresence(new Map([[7, { huddle: { kernel_action: { action: 'rm -rf', at: 1 } } }]]), 7);
  assert.equal(forged.kernelAction, null);
});
