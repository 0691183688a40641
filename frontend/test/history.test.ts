// Version history: the wire format decoded, and the pure logic of the history views.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  alignBlame,
  blameLabel,
  canRestoreCell,
  cellNotes,
  cellPlace,
  changeMarks,
  changesBanner,
  diffRows,
  foldLines,
  LookTracker,
  markText,
  peopleText,
  relativeTime,
  restoredText,
  spanSegments,
  summaryText,
  versionDetail,
  versionTimeFromId,
  versionTitle,
} from '../src/logic/history';
import { InvalidId, notebookDocumentId } from '../src/logic/ids';
import {
  HistoryApi,
  parseBlame,
  parseChanges,
  parseDiff,
  parseListing,
  parseVersion,
  type DiffCell,
  type DiffLine,
  type VersionSummary,
} from '../src/protocol/history';
import { HttpClient } from '../src/protocol/http';
import { parseRaw } from '../src/protocol/raw';

const VERSION = '018f3c2a1b2c3d4e5f';
const OTHER = '018f3c2a1b2c000001';
const ZERO: VersionSummary = { added: 0, deleted: 0, changed: 0, moved: 0, outputsChanged: 0, metadataChanged: 0 };
const ann = { username: 'ann', displayName: 'Ann' };
const bob = { username: 'bob', displayName: 'Bob' };

const rawVersion = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: VERSION, created_at: 1_700_000_000.5, kind: 'auto', name: null,
  authors: [{ username: 'ann', display_name: 'Ann' }, { username: 'bob', display_name: '' }, 'junk'],
  summary: { added: 1, deleted: 0, changed: 2, moved: 0, outputs_changed: 1, metadata_changed: 0 },
  flags: ['outputs', 7], label: null, by: null, ...extra,
});

// --- the wire ----------------------------------------------------------------------------------

test('versions: decoded with defaults; a version without a valid id is dropped', () => {
  const version = parseVersion(rawVersion())!;
  assert.equal(version.id, VERSION);
  assert.equal(version.createdAt, 1_700_000_000.5);
  assert.deepEqual(version.authors, [ann, { username: 'bob', displayName: 'bob' }]);
  assert.deepEqual(version.summary, { added: 1, deleted: 0, changed: 2, moved: 0, outputsChanged: 1, metadataChanged: 0 });
  assert.deepEqual(version.flags, ['outputs']);
  assert.equal(version.restored, null);
  assert.equal(parseVersion({ ...rawVersion(), id: '../../contents' }), null);
  assert.equal(parseVersion('nope'), null);
  const listing = parseListing({ versions: [rawVersion(), { id: 'x' }], live_changed: true, contributors: [{ username: 'ann', display_name: 'Ann' }] });
  assert.equal(listing.versions.length, 1);
  assert.equal(listing.liveChanged, true);
  assert.deepEqual(listing.contributors, [ann]);
  const restore = parseVersion(rawVersion({ kind: 'restore', by: { username: 'ann', display_name: 'Ann' },
    restored: { version_id: OTHER, cell_id: 'abc', index: 3 } }))!;
  assert.deepEqual(restore.restored, { versionId: OTHER, cellId: 'abc', index: 3 });
});

test('diffs, blame and changes decoded', () => {
  const diff = parseDiff({
    from: { id: VERSION, created_at: 5, kind: 'auto', name: null }, to: { id: 'live', created_at: 9 },
    summary: { changed: 1 }, metadata: { changed: true, keys: ['kernelspec'] },
    cells: [
      { id: 'a', status: 'changed', index_from: 0, index_to: 0, cell_type: 'code',
        source: [{ op: '-', text: 'x = 1', spans: [[4, 5]] }, { op: '+', text: 'x = 10', spans: [[4, 6], ['bad']] }],
        outputs: { from: 0, to: 1, added: 1, removed: 0, changed: 0 }, execution_count: [null, 2] },
      { id: 'b', status: 'weird' }, { status: 'same' },
    ],
  });
  assert.equal(diff.to.id, 'live');
  assert.deepEqual(diff.metadata, { changed: true, keys: ['kernelspec'] });
  assert.equal(diff.cells.length, 2);
  const [a, b] = diff.cells as [DiffCell, DiffCell];
  assert.deepEqual(a.source, [{ op: '-', text: 'x = 1', spans: [[4, 5]] }, { op: '+', text: 'x = 10', spans: [[4, 6]] }]);
  assert.deepEqual(a.executionCount, [null, 2]);
  assert.equal(b.status, 'changed');
  assert.equal(b.source, null);

  const blame = parseBlame({ cells: { a: [
    { text: 'x = 1', author: { username: 'ann', display_name: 'Ann' }, at: 10 },
    { text: 'y', author: null, at: null },
    { text: 'z', author: { username: null, display_name: 'changed on disk' }, at: 3 },
  ] } });
  assert.deepEqual(blame.get('a'), [
    { text: 'x = 1', author: ann, at: 10 },
    { text: 'y', author: null, at: null },
    { text: 'z', author: { username: null, displayName: 'changed on disk' }, at: 3 },
  ]);

  const changes = parseChanges({ since: { version_id: VERSION, seen_at: 4, exact: true },
    cells: [{ id: 'a', change: 'changed', by: [{ username: 'bob', display_name: 'Bob' }] }, { nope: 1 }], deleted: 2 });
  assert.deepEqual(changes, { since: { versionId: VERSION, seenAt: 4, exact: true },
    cells: [{ id: 'a', change: 'changed', by: [bob] }], deleted: 2 });
  assert.deepEqual(parseChanges({ since: null, cells: [], deleted: 0 }), { since: null, cells: [], deleted: 0 });
});

test('RAW history messages are told apart from other notices', () => {
  const notice = parseRaw(JSON.stringify({ type: 'history', version: rawVersion() }));
  assert.equal(notice.type, 'history');
  assert.equal(parseVersion(notice.type === 'history' ? notice.version : null)?.id, VERSION);
  assert.equal(parseRaw(JSON.stringify({ type: 'history' })).type, 'other');
});

test('the API: every route, ids checked before they go into a URL, XSRF on changes', async () => {
  const calls: { method: string; url: string; body: unknown; keepalive: boolean; xsrf: string | undefined }[] = [];
  const replies: unknown[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    calls.push({ method: String(init.method), url, body: init.body ? JSON.parse(String(init.body)) : undefined,
      keepalive: init.keepalive === true, xsrf: headers['X-XSRFToken'] });
    return new Response(JSON.stringify(replies.shift() ?? {}), { status: 200 });
  }) as typeof fetch;
  try {
    const doc = notebookDocumentId('0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90');
    const api = new HistoryApi(new HttpClient('/base/', 'tok'), doc);
    const root = `/base/api/huddle/history/${encodeURIComponent(doc)}`;
    replies.push({ versions: [rawVersion()], live_changed: false, contributors: [] });
    assert.equal((await api.list()).versions.length, 1);
    replies.push(rawVersion({ kind: 'named', name: 'submitted' }));
    assert.equal((await api.name('submitted')).name, 'submitted');
    replies.push(rawVersion({ name: null }));
    await api.rename(VERSION, null);
    replies.push({ version: rawVersion(), notebook: { cells: [{ id: 'a', source: 'x' }, 5], metadata: {} } });
    assert.equal((await api.preview(VERSION)).notebook.cells.length, 1);
    replies.push({ changed: true, restore_id: '0123456789abcdef', version: rawVersion({ kind: 'restore' }) });
    assert.equal((await api.restore(VERSION, 'cell-1')).restoreId, '0123456789abcdef');
    replies.push({ version: rawVersion({ kind: 'undo' }) });
    await api.undo('0123456789abcdef');
    await api.diff(VERSION, 'live');
    await api.blame('cell-1');
    await api.changes();
    replies.push({ version_id: VERSION, seen_at: 1, exact: false });
    assert.equal((await api.seen(true))?.versionId, VERSION);
    assert.deepEqual(calls.map((c) => [c.method, c.url.replace(root, '')]), [
      ['GET', ''],
      ['POST', ''],
      ['PATCH', `/versions/${VERSION}`],
      ['GET', `/versions/${VERSION}`],
      ['POST', `/versions/${VERSION}/restore`],
      ['POST', '/restores/0123456789abcdef/undo'],
      ['GET', `/diff?from=${VERSION}&to=live`],
      ['GET', '/blame?version=live&cell_id=cell-1'],
      ['GET', '/changes'],
      ['POST', '/seen'],
    ]);
    assert.deepEqual(calls[1]!.body, { name: 'submitted' });
    assert.deepEqual(calls[2]!.body, { name: null });
    assert.deepEqual(calls[4]!.body, { cell_id: 'cell-1' });
    assert.equal(calls[0]!.xsrf, undefined);
    assert.ok(calls.slice(1).filter((c) => c.method !== 'GET').every((c) => c.xsrf === 'tok'));
    assert.equal(calls.at(-1)!.keepalive, true, 'the look sent from pagehide outlives the page');
    // Ids of another shape are refused before anything is sent.
    const before = calls.length;
    await assert.rejects(api.preview('../../contents'), InvalidId);
    await assert.rejects(api.undo('../x'), InvalidId);
    await assert.rejects(api.diff('live', 'x&from=y'), InvalidId);
    await assert.rejects(api.blame('a b'), InvalidId);
    await assert.rejects(api.restore(VERSION, '../../x'), InvalidId);
    assert.equal(calls.length, before);
  } finally {
    globalThis.fetch = realFetch;
  }
});

// --- words --------------------------------------------------------------------------------------

test('summary wording', () => {
  assert.equal(summaryText({ ...ZERO, changed: 2, added: 1, outputsChanged: 1 }), '2 cells changed, 1 added, outputs changed');
  assert.equal(summaryText({ ...ZERO, added: 1 }), '1 cell added');
  assert.equal(summaryText({ ...ZERO, deleted: 3, moved: 1 }), '3 cells deleted, 1 moved');
  assert.equal(summaryText({ ...ZERO, outputsChanged: 4, metadataChanged: 1 }), 'outputs changed, metadata changed');
  assert.equal(summaryText(ZERO), 'no changes');
});

test('version titles, restores and people', () => {
  const version = parseVersion(rawVersion())!;
  assert.equal(versionTitle(version), 'Edits');
  assert.equal(versionTitle({ kind: 'named', name: 'submitted' }), 'submitted');
  assert.equal(versionTitle({ kind: 'new-kind', name: null }), 'new-kind');
  assert.equal(restoredText(2, '14:05'), 'Restored cell 3 from 14:05');
  assert.equal(restoredText(null, '14:05'), 'Restored the notebook from 14:05');
  const restore = parseVersion(rawVersion({ kind: 'restore', label: 'restored cell 1 from 2026-01-01 10:00 UTC by Ann',
    by: { username: 'ann', display_name: 'Ann' }, restored: { version_id: OTHER, cell_id: 'c', index: 0 } }))!;
  assert.equal(versionDetail(restore, (id) => (id === OTHER ? '10:00' : '?')), 'Restored cell 1 from 10:00 by Ann');
  const undo = parseVersion(rawVersion({ kind: 'undo', label: 'undid: restored cell 1' }))!;
  assert.equal(versionDetail(undo, () => ''), 'Undid: restored cell 1');
  assert.equal(versionDetail(version, () => ''), null);
  assert.equal(peopleText([ann]), 'Ann');
  assert.equal(peopleText([ann, bob, ann]), 'Ann and Bob');
  assert.equal(peopleText([ann, bob, { username: 'c', displayName: 'Cy' }, { username: 'd', displayName: 'Di' }, { username: 'e', displayName: 'Ed' }]),
    'Ann, Bob, Cy and 2 others');
  assert.equal(versionTimeFromId(VERSION), 0x018f3c2a1b2c / 1000);
});

test('relative times', () => {
  const now = 1_700_000_000;
  assert.equal(relativeTime(now - 5, now), 'just now');
  assert.equal(relativeTime(now + 5, now), 'just now', 'a clock a little ahead');
  assert.equal(relativeTime(now - 60, now), '1 min ago');
  assert.equal(relativeTime(now - 25 * 60, now), '25 min ago');
  assert.equal(relativeTime(now - 3 * 3600, now), '3 h ago');
  assert.equal(relativeTime(now - 30 * 3600, now), 'yesterday');
  assert.equal(relativeTime(now - 5 * 86400, now), '5 days ago');
  assert.match(relativeTime(now - 90 * 86400, now), /\d/);
});

// --- diffs --------------------------------------------------------------------------------------

const cell = (id: string, status: DiffCell['status'], from: number | null, to: number | null, extra: Partial<DiffCell> = {}): DiffCell => ({
  id, status, indexFrom: from, indexTo: to, cellType: 'code', source: null, outputs: null, metadata: null,
  executionCount: null, cellTypeFrom: null, ...extra,
});

test('diff rows: runs of unchanged cells fold into one row each', () => {
  const rows = diffRows([
    cell('a', 'same', 0, 0), cell('b', 'same', 1, 1), cell('c', 'changed', 2, 2), cell('d', 'deleted', 3, null),
    cell('e', 'same', 4, 3), cell('f', 'added', null, 4), cell('g', 'same', 5, 5), cell('h', 'same', 6, 6), cell('i', 'same', 7, 7),
  ]);
  assert.deepEqual(rows.map((r) => (r.kind === 'fold' ? `${r.count} same` : r.cell.id)), ['2 same', 'c', 'd', '1 same', 'f', '3 same']);
  assert.deepEqual(rows[0], { kind: 'fold', count: 2, ids: ['a', 'b'] });
  assert.deepEqual(diffRows([]), []);
});

test('diff lines: unchanged lines far from a change fold, a single one stays', () => {
  const same = (text: string): DiffLine => ({ op: ' ', text, spans: [] });
  const lines = [...'abcdefgh'.split('').map(same), { op: '-', text: 'x', spans: [] } as DiffLine, { op: '+', text: 'y', spans: [] } as DiffLine,
    same('i'), same('j'), same('k'), same('l'), same('m')];
  const rows = foldLines(lines, 3);
  assert.deepEqual(rows.map((r) => (r.kind === 'fold' ? `…${r.count}` : r.line.text)), ['…5', 'f', 'g', 'h', 'x', 'y', 'i', 'j', 'k', '…2']);
  assert.deepEqual(foldLines(lines.slice(4), 3).map((r) => (r.kind === 'fold' ? `…${r.count}` : r.line.text)),
    ['e', 'f', 'g', 'h', 'x', 'y', 'i', 'j', 'k', '…2'], 'one unchanged line is shown, not folded');
});

test('changed spans cut a line, in UTF-16 offsets, clipped and merged', () => {
  assert.deepEqual(spanSegments('x = 101', [[5, 7]]), [{ text: 'x = 1', changed: false }, { text: '01', changed: true }]);
  assert.deepEqual(spanSegments('abcdef', [[4, 5], [0, 1], [1, 3], [2, 9]]), [{ text: 'abcdef', changed: true }]);
  assert.deepEqual(spanSegments('abcdef', [[0, 1], [3, 4]]),
    [{ text: 'a', changed: true }, { text: 'bc', changed: false }, { text: 'd', changed: true }, { text: 'ef', changed: false }]);
  // An emoji is two UTF-16 units: the server counts them so, and so does slice.
  assert.deepEqual(spanSegments('a👋b', [[1, 3]]), [{ text: 'a', changed: false }, { text: '👋', changed: true }, { text: 'b', changed: false }]);
  assert.deepEqual(spanSegments('', []), [{ text: '', changed: false }]);
  assert.deepEqual(spanSegments('abc', [[2, 1], [7, 9]]), [{ text: 'abc', changed: false }]);
  assert.equal(spanSegments('abcdef', [[0, 3], [2, 5]]).map((s) => s.text).join(''), 'abcdef');
});

test('diff cells described: place, notes, whether a cell can be restored', () => {
  assert.equal(cellPlace(cell('a', 'changed', 2, 2)), 'Cell 3');
  assert.equal(cellPlace(cell('a', 'deleted', 1, null)), 'Was cell 2');
  assert.equal(cellPlace(cell('a', 'moved', 1, 3)), 'Cell 2 → 4');
  assert.equal(cellPlace(cell('a', 'added', null, 0)), 'Cell 1');
  assert.deepEqual(cellNotes(cell('a', 'changed', 0, 0, {
    outputs: { from: 1, to: 2, added: 1, removed: 0, changed: 1 }, metadata: { changed: true, keys: ['tags'] },
    executionCount: [1, 4], cellTypeFrom: 'markdown',
  })), ['Was a markdown cell, now code', 'Outputs changed: 1 added, 1 changed (1 output → 2)', 'Execution count 1 → 4', 'Metadata changed: tags']);
  assert.equal(canRestoreCell(cell('a', 'changed', 0, 0), 'live'), true);
  assert.equal(canRestoreCell(cell('a', 'deleted', 0, null), 'live'), true);
  assert.equal(canRestoreCell(cell('a', 'added', null, 0), 'live'), false, 'the version has no such cell');
  assert.equal(canRestoreCell(cell('a', 'same', 0, 0), 'live'), false);
  assert.equal(canRestoreCell(cell('a', 'changed', 0, 0), VERSION), false, 'only against the live notebook');
});

// --- blame ----------------------------------------------------------------------------------------

test('blame lines matched to the editor\'s lines, labelled with names, colours and times', () => {
  const line = (text: string, author: typeof ann | null, at: number | null = 100) => ({ text, author, at });
  const blame = [line('a', ann), line('b', bob), line('c', null, null)];
  assert.deepEqual(alignBlame(['a', 'b', 'c'], blame), blame);
  // The page is ahead by one inserted line: the lines around it keep their authors.
  assert.deepEqual(alignBlame(['a', 'new', 'b', 'c'], blame), [blame[0], null, blame[1], blame[2]]);
  assert.deepEqual(alignBlame(['a', 'B!', 'c'], blame), [blame[0], null, blame[2]]);
  assert.deepEqual(alignBlame(['x'], []), [null]);
  const colors = new Map([['ann', '#0969da']]);
  const labelled = blameLabel(line('a', ann, 1000 - 120), colors, 1000);
  assert.deepEqual([labelled.name, labelled.color, labelled.when], ['Ann', '#0969da', '2 min ago']);
  assert.equal(blameLabel(line('b', bob), colors, 1000).color, null, 'not here: no colour');
  const unknown = blameLabel(line('c', null, null), colors, 1000);
  assert.deepEqual([unknown.name, unknown.color, unknown.when], ['unknown', null, '']);
  assert.equal(blameLabel(line('d', { username: null, displayName: 'changed on disk' } as never), colors, 1000).name, 'changed on disk');
});

// --- changes since you last looked ----------------------------------------------------------------

test('marks: changed cells still here, not mine alone; their words', () => {
  const changes = { since: null, deleted: 1, cells: [
    { id: 'a', change: 'changed', by: [bob] },
    { id: 'b', change: 'added', by: [bob, ann] },
    { id: 'gone', change: 'changed', by: [bob] },
    { id: 'mine', change: 'changed', by: [ann] },
    { id: 'quiet', change: 'changed', by: [] },
  ] };
  const marks = changeMarks(changes, new Set(['a', 'b', 'mine', 'quiet']), 'ann');
  assert.deepEqual(marks.map((m) => m.cellId), ['a', 'b', 'quiet']);
  assert.deepEqual(marks[1]!.by, [bob], 'my own name is not news');
  assert.equal(markText(marks[0]!), 'changed since you looked · by Bob');
  assert.equal(markText(marks[1]!), 'added since you looked · by Bob');
  assert.equal(markText(marks[2]!), 'changed since you looked');
  assert.equal(changesBanner(marks, 1), '3 cells changed since you last looked (by Bob); 1 cell deleted');
  assert.equal(changesBanner([], 2), '2 cells deleted since you last looked');
  assert.equal(changesBanner([], 0), null);
});

test('marks left: seen after a moment in view, not when only passing through', () => {
  const tracker = new LookTracker(['a', 'b', 'c'], 1000);
  tracker.inView('a', true, 0);
  tracker.inView('b', true, 0);
  assert.equal(tracker.due(), 1000);
  tracker.inView('b', false, 500); // scrolled past
  assert.deepEqual(tracker.settle(999), []);
  assert.deepEqual(tracker.settle(1000), ['a']);
  assert.deepEqual(tracker.remaining().sort(), ['b', 'c']);
  assert.equal(tracker.due(), null);
  tracker.inView('a', true, 1100); // already seen: nothing
  tracker.inView('b', true, 2000);
  tracker.inView('b', true, 2500); // still in view: the time counts from 2000
  assert.deepEqual(tracker.settle(3000), ['b']);
  tracker.drop('c'); // deleted meanwhile
  assert.equal(tracker.done, true);
  assert.equal(new LookTracker([], 1000).done, true);
});
