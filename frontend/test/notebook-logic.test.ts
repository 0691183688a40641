// The notebook page's pure decisions: where cell commands land, the banners and notices,
// settling my colour among the people in the room, the comment key, and where a jump to
// someone's cell scrolls.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { copyNote, fileChangedText, HISTORY_DURABLE_AGAIN, HISTORY_NOT_DURABLE, statusBanner } from '../src/logic/banners';
import { advanceAfterRun, clampIndex, insertIndex, moveTarget } from '../src/logic/cells';
import { myColorIn, PALETTE, type ColorPerson } from '../src/logic/colors';
import { centreScroll } from '../src/logic/follow';
import { isCommentKey } from '../src/logic/keys';
import { isTerminal, type ConnectionStatus } from '../src/logic/status';

test('cells: activating keeps within the cells; an empty notebook has only index 0', () => {
  assert.equal(clampIndex(-1, 5), 0);
  assert.equal(clampIndex(2, 5), 2);
  assert.equal(clampIndex(9, 5), 4);
  assert.equal(clampIndex(3, 0), 0);
});

test('cells: inserting above or below the active cell; none active counts as the first', () => {
  assert.equal(insertIndex(2, 5, 0), 2, 'above');
  assert.equal(insertIndex(2, 5, 1), 3, 'below');
  assert.equal(insertIndex(-1, 5, 1), 1);
  assert.equal(insertIndex(-1, 0, 1), 0, 'an empty notebook');
  assert.equal(insertIndex(0, 0, 0), 0);
});

test('cells: moving stops at either end and without an active cell', () => {
  assert.equal(moveTarget(2, -1, 5), 1);
  assert.equal(moveTarget(2, 1, 5), 3);
  assert.equal(moveTarget(0, -1, 5), null);
  assert.equal(moveTarget(4, 1, 5), null);
  assert.equal(moveTarget(-1, 1, 5), null);
});

test('cells: after a run, a new cell past the last one or on Alt+Enter, only for editors', () => {
  assert.equal(advanceAfterRun(1, 5, false, true), 'next');
  assert.equal(advanceAfterRun(4, 5, false, true), 'insert', 'the last cell');
  assert.equal(advanceAfterRun(1, 5, true, true), 'insert', 'Alt+Enter');
  assert.equal(advanceAfterRun(4, 5, false, false), 'next', 'a runner cannot add cells');
  assert.equal(advanceAfterRun(1, 5, true, false), 'next');
});

test('banners: one for each way a connection ends, none while it lasts', () => {
  for (const status of ['connecting', 'live', 'reconnecting', 'offline'] as ConnectionStatus[]) {
    assert.equal(statusBanner(status, '', true), null, status);
    assert.equal(isTerminal(status), false, status);
  }
  for (const status of ['stale', 'gone', 'ended', 'failed'] as ConnectionStatus[]) {
    assert.equal(statusBanner(status, '', true)?.kind, status);
    assert.equal(isTerminal(status), true, status);
  }
  const stale = statusBanner('stale', '', true)!;
  assert.deepEqual(stale.action, { label: 'Reload', does: 'reload' });
  assert.doesNotMatch(stale.text, /kept in/);
  assert.match(statusBanner('stale', 'notes (stale copy).ipynb', true)!.text,
    /What you typed here is kept in notes \(stale copy\)\.ipynb\. Reload to continue\.$/);
  assert.deepEqual(statusBanner('gone', '', true)!.action, { label: 'Back to files', does: 'files' });
  assert.equal(statusBanner('gone', '', false)!.action, undefined, 'guests have no file list');
  assert.equal(statusBanner('ended', '', true)!.action, undefined, 'nothing to do but ask the owner');
  assert.deepEqual(statusBanner('failed', '', false)!.action, { label: 'Reload', does: 'reload' });
});

test('notices: a file changed outside Huddle, merged or with cells replaced; the history store', () => {
  assert.equal(fileChangedText(0, null), 'The file was changed outside Huddle; the changes were merged.');
  assert.equal(fileChangedText(2, null), 'The file was changed outside Huddle; 2 cell(s) edited here were replaced.');
  assert.equal(fileChangedText(1, 'ü.ipynb.bak'),
    'The file was changed outside Huddle; 1 cell(s) edited here were replaced (your version is in ü.ipynb.bak).');
  assert.equal(HISTORY_NOT_DURABLE.kind, 'durability');
  assert.equal(HISTORY_NOT_DURABLE.action, undefined);
  assert.match(HISTORY_DURABLE_AGAIN, /again/);
});

test('my colour: settled among the people here, none before I am among them', () => {
  const red = PALETTE[0];
  const person = (username: string, clientId: number, since: number, isMe: boolean, colorExplicit = false): ColorPerson =>
    ({ username, clientId, color: red, colorExplicit, since, isMe });
  assert.equal(myColorIn([]), null);
  assert.equal(myColorIn([person('ada', 1, 100, false)]), null, 'my presence has not come back yet');
  assert.equal(myColorIn([person('bob', 2, 200, true)]), red, 'alone: my own');
  const moved = myColorIn([person('ada', 1, 100, false), person('bob', 2, 200, true)]);
  assert.notEqual(moved, red, 'Ada was there first');
  assert.ok((PALETTE as readonly string[]).includes(moved!));
  assert.equal(myColorIn([person('ada', 1, 100, true), person('bob', 2, 200, false)]), red, 'there first: kept');
  assert.equal(myColorIn([person('ada', 1, 100, false), person('bob', 2, 200, true, true)]), red, 'an identity colour is never moved');
});

test('comment key: Ctrl+Alt+M by the key\'s place, whatever the layout types', () => {
  const press = (code: string, ctrlKey = true, altKey = true) => ({ code, ctrlKey, altKey });
  assert.equal(isCommentKey(press('KeyM')), true);
  assert.equal(isCommentKey(press('KeyM', true, false)), false);
  assert.equal(isCommentKey(press('KeyM', false, true)), false);
  assert.equal(isCommentKey(press('KeyN')), false);
});

test('jump to a person: their cell in the middle of the view, under the header', () => {
  const view = { top: 100, bottom: 900 };
  assert.equal(centreScroll({ top: 450, height: 100 }, view), 0, 'already in the middle');
  assert.equal(centreScroll({ top: 2450, height: 100 }, view), 2000);
  assert.equal(centreScroll({ top: -1550, height: 100 }, view), -2000);
  const cell = { top: 3000, height: 200 };
  const after = cell.top - centreScroll(cell, view);
  assert.equal(after - view.top, view.bottom - (after + cell.height), 'as much room above as below');
});

test('a personal copy says whose copy of which notebook it is; odd paths are ignored', () => {
  const meta = { copy_of: { path: 'reports/sales.ipynb', by: 'ann' } };
  assert.deepEqual(copyNote(meta, 'ann'), { text: 'Your copy of sales.ipynb', originalPath: 'reports/sales.ipynb' });
  assert.deepEqual(copyNote(meta, 'bob'), { text: 'A copy of sales.ipynb', originalPath: 'reports/sales.ipynb' });
  assert.equal(copyNote({}, 'ann'), null);
  assert.equal(copyNote(undefined, 'ann'), null);
  for (const path of ['../secret.ipynb', '/abs.ipynb', 'a//b.ipynb', 'a/./b.ipynb', '', 42]) {
    assert.equal(copyNote({ copy_of: { path, by: 'ann' } }, 'ann'), null, String(path));
  }
});
