// Roles, share links, locked cells and presenting: the pure decisions behind them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NO_PRESENTATION, presentStep, presenterClient, rejoin, rgbOf, stepOut, type PresentFacts, type PresentPeer } from '../src/logic/present';
import {
  cellReadOnly,
  commandRefusal,
  describeExpiry,
  describeGrant,
  describeUses,
  grantSeconds,
  isLocked,
  linkRequest,
  linkStatus,
  lockOf,
  lockRefusal,
  parseCapabilities,
  roleUi,
  type Capability,
  type LinkInfo,
} from '../src/logic/roles';
import { terminalClose } from '../src/logic/status';
import { parseAccess, parseLinkList, parsePresenter } from '../src/protocol/access';

const ROLE_CAPS: Record<string, Capability[]> = {
  viewer: ['read'],
  commenter: ['read', 'comment'],
  runner: ['read', 'comment', 'execute', 'interrupt'],
  editor: ['read', 'comment', 'execute', 'interrupt', 'edit', 'restart'],
  owner: ['read', 'comment', 'execute', 'interrupt', 'edit', 'restart', 'share'],
};
const ui = (role: string, copy = true) => roleUi(new Set(ROLE_CAPS[role]), copy);

test('roles: each role\'s badge and controls', () => {
  assert.deepEqual(['viewer', 'commenter', 'runner', 'editor', 'owner'].map((r) => ui(r).badge),
    ['Viewing', 'Commenting', 'Running', 'Editing', 'Owner']);
  const viewer = ui('viewer');
  assert.equal(viewer.canEdit || viewer.canRun || viewer.canRestart || viewer.canShare, false);
  assert.equal(viewer.canCopy, true, 'people who cannot edit may make their copy');
  assert.equal(ui('viewer', false).canCopy, false, 'unless the server says they may not (guests without guest_copies)');
  const runner = ui('runner');
  assert.equal(runner.canRun && runner.canInterrupt, true);
  assert.equal(runner.canEdit || runner.canRestart, false);
  assert.equal(runner.canCopy, true);
  const editor = ui('editor');
  assert.equal(editor.canEdit && editor.canRestart && !editor.canShare && !editor.canCopy, true);
  assert.equal(ui('owner').canShare, true);
  assert.deepEqual([...parseCapabilities(['read', 'fly', 3, 'edit'])].sort(), ['edit', 'read']);
  assert.equal(parseCapabilities(null).size, 0);
});

test('roles: commands refused with a reason to those without the capability', () => {
  const viewer = new Set(ROLE_CAPS['viewer']);
  const runner = new Set(ROLE_CAPS['runner']);
  for (const command of ['insertAbove', 'insertBelow', 'delete', 'cut', 'paste', 'undoDelete', 'toCode', 'toMarkdown', 'toRaw'] as const) {
    assert.match(commandRefusal(command, runner) ?? '', /cannot change/, command);
  }
  assert.match(commandRefusal('runAdvance', viewer) ?? '', /cannot run/);
  assert.equal(commandRefusal('runAdvance', runner), null);
  assert.match(commandRefusal('interrupt', viewer) ?? '', /interrupt/);
  for (const command of ['up', 'down', 'first', 'last', 'copy', 'edit'] as const) assert.equal(commandRefusal(command, viewer), null);
});

test('locks: nbformat flags, read-only for whom, and what a lock refuses', () => {
  const open = lockOf({});
  const locked = lockOf({ editable: false, deletable: false, other: 1 });
  assert.deepEqual(open, { editable: true, deletable: true });
  assert.deepEqual(lockOf({ editable: 'no', deletable: null }), { editable: true, deletable: true }, 'only false locks, as on the server');
  assert.equal(isLocked(open), false);
  assert.equal(isLocked(locked), true);
  assert.equal(isLocked(lockOf({ deletable: false })), true);
  assert.equal(lockOf(undefined).editable, true);
  // Editors cannot change a locked cell; owners can; viewers cannot change any.
  assert.equal(cellReadOnly(locked, ui('editor')), true);
  assert.equal(cellReadOnly(open, ui('editor')), false);
  assert.equal(cellReadOnly(locked, ui('owner')), false);
  assert.equal(cellReadOnly(open, ui('viewer')), true);
  assert.equal(cellReadOnly(lockOf({ deletable: false }), ui('editor')), false, 'undeletable but editable');
  // Deleting, cutting, moving or retyping a locked cell is refused unless you manage locks.
  for (const command of ['delete', 'cut', 'move', 'toMarkdown'] as const) {
    assert.match(lockRefusal(command, locked, false) ?? '', /locked/, command);
    assert.equal(lockRefusal(command, locked, true), null);
    assert.equal(lockRefusal(command, open, false), null);
  }
  assert.equal(lockRefusal('insertBelow', locked, false), null);
  assert.equal(lockRefusal('copy', locked, false), null);
});

const link = (over: Partial<LinkInfo> = {}): LinkInfo => ({
  id: 'abc', role: 'viewer', label: '', uses: 0, maxUses: null, created: 0, expiresAt: null, revokedAt: null, ...over,
});

test('share links: the dialog\'s fields become the request body', () => {
  assert.deepEqual(linkRequest({ role: 'viewer', expiresInS: null, maxUses: '', label: '  ' }), { ok: true, body: { role: 'viewer' } });
  assert.deepEqual(linkRequest({ role: 'editor', expiresInS: 3600, maxUses: ' 30 ', label: ' Monday <b>class</b> ' }),
    { ok: true, body: { role: 'editor', expires_in_s: 3600, max_uses: 30, label: 'Monday <b>class</b>' } });
  for (const uses of ['0', '-2', '1.5', 'many']) {
    assert.equal(linkRequest({ role: 'viewer', expiresInS: null, maxUses: uses, label: '' }).ok, false, uses);
  }
  assert.equal(linkRequest({ role: 'owner', expiresInS: null, maxUses: '', label: '' }).ok, false, 'links never make owners');
});

test('share links: status, uses and expiry as listed', () => {
  const now = 1_000_000;
  assert.equal(linkStatus(link(), now), 'active');
  assert.equal(linkStatus(link({ revokedAt: now - 5, expiresAt: now - 1 }), now), 'revoked');
  assert.equal(linkStatus(link({ expiresAt: now }), now), 'expired');
  assert.equal(linkStatus(link({ uses: 3, maxUses: 3 }), now), 'used up');
  assert.equal(describeUses(link({ uses: 2, maxUses: 10 })), '2 / 10 used');
  assert.equal(describeUses(link({ uses: 1 })), '1 person');
  assert.equal(describeExpiry(link(), now), 'No expiry');
  assert.equal(describeExpiry(link({ expiresAt: now + 3600 }), now), 'Expires in 1 h');
  assert.equal(describeExpiry(link({ expiresAt: now + 600 }), now), 'Expires in 10 min');
  assert.equal(describeExpiry(link({ expiresAt: now + 86_400 }), now), 'Expires in 24 h');
  assert.equal(describeExpiry(link({ expiresAt: now + 7 * 86_400 }), now), 'Expires in 7 days');
  assert.equal(describeExpiry(link({ expiresAt: now - 1 }), now), 'Expired');
});

test('hand over: grants described, minutes checked', () => {
  const now = 500;
  assert.equal(describeGrant({ role: 'editor', until: now + 540 }, now), 'can edit · 9 min left');
  assert.equal(describeGrant({ role: 'runner', until: now + 30 }, now), 'can run · 1 min left');
  assert.equal(describeGrant({ role: 'runner', until: now }, now), null, 'ended');
  assert.equal(describeGrant(undefined, now), null);
  assert.equal(grantSeconds('10'), 600);
  assert.equal(grantSeconds('240'), 14_400);
  for (const bad of ['0', '-1', '241', 'x', '']) assert.equal(grantSeconds(bad), null, bad);
});

test('access replies and the presenter in the server presence are decoded defensively', () => {
  const access = parseAccess({ role: 'viewer', capabilities: ['read', 'share-all'], guest: true });
  assert.deepEqual({ ...access, capabilities: [...access.capabilities] }, { role: 'viewer', capabilities: ['read'], guest: true, copy: false });
  assert.equal(parseAccess({ capabilities: ['read'], copy: true }).copy, true);
  assert.equal(parseAccess({ capabilities: ['read'], copy: 'yes' }).copy, false);
  assert.equal(parseAccess('nonsense').capabilities.size, 0);
  const list = parseLinkList({
    links: [{ id: 'a', role: 'viewer', created: 1, uses: 2, max_uses: null, expires_at: 9, revoked_at: null, label: '<i>x</i>' },
      { id: 'b', role: 'editor', created: 5 }, { nope: true }],
    grants: { 'guest-1': { role: 'editor', until: 99 }, bad: { role: 3 } },
  });
  assert.deepEqual(list.links.map((l) => l.id), ['b', 'a'], 'newest first, junk dropped');
  assert.equal(list.links[1]!.label, '<i>x</i>');
  assert.deepEqual([...list.grants], [['guest-1', { role: 'editor', until: 99 }]]);
  const states = new Map<number, unknown>([
    [1, { user: { username: 'x' } }],
    [0, { huddle: { queue: [], presenter: { username: 'alice', name: 'Alice', since: 12.5 } } }],
  ]);
  assert.deepEqual(parsePresenter(states, 0), { username: 'alice', name: 'Alice', since: 12.5 });
  assert.equal(parsePresenter(new Map([[0, { huddle: { presenter: null } }]]), 0), null);
  assert.equal(parsePresenter(new Map([[0, { huddle: { presenter: { name: 'no username' } } }]]), 0), null);
});

test('close codes: 4403 ends access (no reconnect), 4001 reconnects', () => {
  assert.equal(terminalClose(4403), 'ended');
  assert.equal(terminalClose(4001), null);
});

// --- presenting -------------------------------------------------------------------------------

const alice: PresentPeer = { clientId: 10, username: 'alice', activeCellId: 'c1', isMe: false };
const me: PresentPeer = { clientId: 20, username: 'eve', activeCellId: null, isMe: true };
const presenter = { username: 'alice', name: 'Alice', since: 100 };
const facts = (over: Partial<PresentFacts> = {}): PresentFacts =>
  ({ presenter, myUsername: 'eve', people: [alice, me], following: null, ...over });

test('present: everyone else follows the presenter; the presenter follows no one', () => {
  const first = presentStep(NO_PRESENTATION, facts());
  assert.deepEqual(first.action, { kind: 'follow', clientId: 10 });
  // Following now: nothing more to do.
  const second = presentStep(first.state, facts({ following: 10 }));
  assert.deepEqual(second.action, { kind: 'none' });
  assert.equal(second.state.leading, 10);
  // The presenter's own page.
  const own = presentStep(NO_PRESENTATION, facts({ myUsername: 'alice', people: [{ ...alice, isMe: true }] }));
  assert.deepEqual(own.action, { kind: 'none' });
  // No presenter: nothing.
  assert.deepEqual(presentStep(NO_PRESENTATION, facts({ presenter: null })).action, { kind: 'none' });
});

test('present: scrolling away (following stopped) steps out; Follow presenter rejoins', () => {
  const following = presentStep(presentStep(NO_PRESENTATION, facts()).state, facts({ following: 10 })).state;
  const out = presentStep(following, facts({ following: null }));
  assert.equal(out.state.steppedOut, true);
  assert.deepEqual(out.action, { kind: 'none' });
  assert.deepEqual(presentStep(out.state, facts()).action, { kind: 'none' }, 'stays out');
  const back = presentStep(rejoin(out.state), facts());
  assert.deepEqual(back.action, { kind: 'follow', clientId: 10 });
  // Step out explicitly: stop following.
  const explicit = stepOut({ ...following }, 10);
  assert.deepEqual(explicit.action, { kind: 'unfollow' });
  assert.equal(explicit.state.steppedOut, true);
});

test('present: the presenter reconnecting is followed again, not taken as stepping out', () => {
  const following = presentStep(presentStep(NO_PRESENTATION, facts()).state, facts({ following: 10 })).state;
  const again = { ...alice, clientId: 11 };
  const step = presentStep(following, facts({ following: null, people: [again, me] }));
  assert.deepEqual(step.action, { kind: 'follow', clientId: 11 });
  assert.equal(step.state.steppedOut, false);
  // Not here at all: wait.
  assert.deepEqual(presentStep(following, facts({ following: null, people: [me] })).action, { kind: 'none' });
});

test('present: the presentation ends, or a new one starts', () => {
  const following = presentStep(presentStep(NO_PRESENTATION, facts()).state, facts({ following: 10 })).state;
  const ended = presentStep(following, facts({ presenter: null, following: 10 }));
  assert.deepEqual(ended.action, { kind: 'unfollow' });
  assert.deepEqual(ended.state, NO_PRESENTATION);
  // Someone followed by choice is not unfollowed when the presentation ends.
  assert.deepEqual(presentStep(following, facts({ presenter: null, following: 33 })).action, { kind: 'none' });
  // Stepped out of one presentation, back in for the next.
  const out = stepOut(following, 10).state;
  const next = presentStep(out, facts({ presenter: { ...presenter, since: 200 } }));
  assert.deepEqual(next.action, { kind: 'follow', clientId: 10 });
  // Following someone else by choice when a presentation starts: the presenter wins.
  assert.deepEqual(presentStep(NO_PRESENTATION, facts({ following: 33 })).action, { kind: 'follow', clientId: 10 });
});

test('present: which of the presenter\'s tabs to follow', () => {
  const tabs: PresentPeer[] = [
    { clientId: 5, username: 'alice', activeCellId: 'a', isMe: false },
    { clientId: 9, username: 'alice', activeCellId: null, isMe: false },
    { clientId: 7, username: 'alice', activeCellId: 'b', isMe: false },
    me,
  ];
  assert.equal(presenterClient(presenter, tabs), 7, 'the newest tab that is in a cell');
  assert.equal(presenterClient(presenter, [me]), null);
});

test('present: a hex colour as browsers serialize it, to find the presenter\'s caret', () => {
  assert.equal(rgbOf('#1a7f37'), 'rgb(26, 127, 55)');
  assert.equal(rgbOf('#FFF'), 'rgb(255, 255, 255)');
  for (const bad of ['red', '#12345', 'rgb(1, 2, 3)', '#1a7f37"] *{x', '']) assert.equal(rgbOf(bad), null, bad);
});
