// Review threads: anchors resolved against a Y.Doc, panel order and filters, mentions, and
// the decoding of the `comments` root; where threads show in the notebook (their marks).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as Y from 'yjs';

import {
  byPosition,
  filterThreads,
  handleOf,
  heldRangeNow,
  holdRange,
  insertMention,
  isUnreadMention,
  matchMentions,
  mentionCandidates,
  mentionQuery,
  openCounts,
  openOutputThreads,
  outputFirstLine,
  outputQuote,
  placeOf,
  placeThreads,
  unreadMentions,
  type Anchor,
  type Placed,
  type Thread,
} from '../src/logic/threads';
import { authorColor, filterShowing, openCommentsLabel, textMarks, threadTarget, unreadMentionsLabel } from '../src/logic/thread-marks';
import { userColor } from '../src/logic/colors';
import { parseThread, parseUsers, ThreadStore } from '../src/protocol/comments';

/** A text anchor as the server makes it: start sticks to the character after it, end to
 * the one before it (Yjs RelativePosition JSON). */
function serverAnchor(text: Y.Text, cellId: string, start: number, end: number): Anchor {
  const json = (index: number, assoc: number) =>
    Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, index, assoc));
  return { cellId, kind: 'text', quote: text.toString().slice(start, end), start: json(start, 0), end: json(end, -1), outputIndex: null };
}

function cellText(doc: Y.Doc, source: string): Y.Text {
  const cells = doc.getArray<Y.Map<unknown>>('cells');
  const cell = new Y.Map<unknown>();
  const text = new Y.Text(source);
  cell.set('source', text);
  cells.push([cell]);
  return text;
}

test('anchors follow edits before, inside and after the range; deleted text detaches', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'hello brave world');
  const anchor = serverAnchor(text, 'c1', 6, 11); // "brave"
  const at = () => placeOf(anchor, { index: 2, source: text });
  assert.deepEqual(at(), { state: 'attached', cellIndex: 2, start: 6, end: 11 });
  text.insert(0, '>> ');
  assert.deepEqual([at().start, at().end], [9, 14], 'moved by text before it');
  text.insert(11, 'XX'); // inside
  assert.deepEqual([at().start, at().end], [9, 16], 'text typed inside joins it');
  text.insert(9, '['); // at its start edge
  text.insert(17, ']'); // at its end edge
  assert.equal(text.toString().slice(at().start, at().end), 'brXXave', 'text typed at its edges stays out');
  text.delete(at().start, at().end - at().start);
  assert.equal(at().state, 'detached');
});

test('anchors: orphaned without a cell, detached for another text; cell anchors attach', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'abc');
  const other = cellText(doc, 'xyz');
  const anchor = serverAnchor(text, 'c1', 0, 2);
  assert.equal(placeOf(anchor, null).state, 'orphaned');
  assert.equal(placeOf(anchor, { index: 1, source: other }).state, 'detached');
  assert.equal(placeOf({ ...anchor, start: { nonsense: true } }, { index: 0, source: text }).state, 'detached');
  const cell: Anchor = { cellId: 'c1', kind: 'cell', quote: '', start: null, end: null, outputIndex: null };
  assert.deepEqual(placeOf(cell, { index: 0, source: text }), { state: 'attached', cellIndex: 0, start: 0, end: 0 });
});

test('output anchors: attached while the output is there, detached once it is gone', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'print(1)');
  const output: Anchor = { cellId: 'c1', kind: 'output', quote: '', start: null, end: null, outputIndex: 1 };
  assert.deepEqual(placeOf(output, { index: 4, source: text, outputs: 2 }), { state: 'attached', cellIndex: 4, start: 0, end: 0 });
  assert.equal(placeOf(output, { index: 4, source: text, outputs: 1 }).state, 'detached', 'a re-run left one output');
  assert.equal(placeOf(output, { index: 4, source: text, outputs: 0 }).state, 'detached', 'cleared');
  assert.equal(placeOf({ ...output, outputIndex: null }, { index: 4, source: text, outputs: 3 }).state, 'detached');
  assert.equal(placeOf(output, { index: 4, source: text }).state, 'attached', 'output count unknown');
  assert.equal(placeOf(output, null).state, 'orphaned');
});

test('an output thread says when a re-run wrote another output in its place', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'print(x)');
  const anchor: Anchor = { cellId: 'c1', kind: 'output', quote: 'total: 42', start: null, end: null, outputIndex: 0 };
  const stream = (t: string) => () => ({ output_type: 'stream', name: 'stdout', text: t });
  const same = placeOf(anchor, { index: 0, source: text, outputs: 1, output: stream('  total: 42\nmore\n') });
  assert.deepEqual(same, { state: 'attached', cellIndex: 0, start: 0, end: 0 });
  const rerun = placeOf(anchor, { index: 0, source: text, outputs: 1, output: stream('total: 43\n') });
  assert.equal(rerun.state, 'attached');
  assert.equal(rerun.outputChanged, true);
  const error = () => ({ output_type: 'error', ename: 'ValueError', evalue: 'bad' });
  assert.equal(placeOf({ ...anchor, quote: 'ValueError: bad' }, { index: 0, source: text, outputs: 1, output: error }).outputChanged, undefined);
  // An output without text (an image) was quoted as "": nothing to compare, not "changed".
  const image = () => ({ output_type: 'display_data', data: { 'image/png': 'AAAA' } });
  assert.equal(placeOf({ ...anchor, quote: '' }, { index: 0, source: text, outputs: 1, output: image }).outputChanged, undefined);
  assert.equal(outputFirstLine({ output_type: 'execute_result', data: { 'text/plain': ['  a\n', 'b'] } }), 'a');
});

test('output threads per cell and output (open only, oldest first); output quotes', () => {
  const on = (id: string, cellId: string, outputIndex: number, extra: Partial<Thread> = {}): Thread =>
    thread(id, { anchor: { cellId, kind: 'output', quote: '', start: null, end: null, outputIndex }, ...extra });
  const marks = openOutputThreads([
    on('late', 'c', 0, { created: 20 }), on('early', 'c', 0, { created: 10 }), on('second', 'c', 1),
    on('resolved', 'c', 2, { status: 'resolved' }), on('other', 'd', 0), thread('text-anchor'),
  ]);
  assert.deepEqual([...marks.keys()].sort(), ['c', 'd']);
  assert.deepEqual(marks.get('c')!.get(0)!.map((t) => t.id), ['early', 'late']);
  assert.deepEqual(marks.get('c')!.get(1)!.map((t) => t.id), ['second']);
  assert.equal(marks.get('c')!.has(2), false, 'resolved threads leave no mark');

  assert.equal(outputQuote({ output_type: 'stream', name: 'stdout', text: ['\n', '  hello\n', 'world\n'] }, 0, 1), 'hello');
  assert.equal(outputQuote({ output_type: 'stream', text: '\x1b[31mred\x1b[0m\n' }, 0, 1), 'red');
  assert.equal(outputQuote({ output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: [] }, 0, 1),
    'ZeroDivisionError: division by zero');
  assert.equal(outputQuote({ output_type: 'execute_result', data: { 'text/plain': '42', 'image/png': 'AAAA' } }, 0, 1), '42');
  assert.equal(outputQuote({ output_type: 'display_data', data: { 'image/png': 'AAAA' } }, 1, 5), 'Output 2 of cell 5');
  assert.equal(outputQuote(undefined, 0, 3), 'Output 1 of cell 3');
  const long = outputQuote({ output_type: 'stream', text: 'x'.repeat(200) }, 0, 1);
  assert.equal(long.length, 80);
  assert.ok(long.endsWith('…'));
});

test('non-ASCII text: offsets are UTF-16 units, as the server counts', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'π 😀 ok');
  const anchor = serverAnchor(text, 'c', 2, 4); // the emoji: two UTF-16 units
  assert.deepEqual(placeOf(anchor, { index: 0, source: text }), { state: 'attached', cellIndex: 0, start: 2, end: 4 });
});

const author = (username: string) => ({ username, displayName: username.toUpperCase(), color: null });

function thread(id: string, extra: Partial<Thread> = {}): Thread {
  return {
    id, anchor: { cellId: 'c', kind: 'cell', quote: '', start: null, end: null, outputIndex: null },
    status: 'open', created: 100, author: author('ann'), resolvedBy: null, mentions: [], readBy: ['ann'],
    suggestion: null, messages: [{ id: `${id}-m`, author: author('ann'), body: 'hi', created: 100, edited: null }], ...extra,
  };
}

const placed = (t: Thread, cellIndex: number, start = 0, state: Placed['place']['state'] = 'attached'): Placed =>
  ({ thread: t, place: { state, cellIndex: state === 'orphaned' ? -1 : cellIndex, start, end: start } });

test('panel order: by cell, then range start, then age; orphaned last', () => {
  const list = [
    placed(thread('orphan-old', { created: 1 }), -1, 0, 'orphaned'),
    placed(thread('c2'), 2, 0),
    placed(thread('c0-late', { created: 200 }), 0, 5),
    placed(thread('c0-early-pos'), 0, 1),
    placed(thread('c0-same-pos-older', { created: 50 }), 0, 5),
  ];
  assert.deepEqual([...list].sort(byPosition).map((p) => p.thread.id),
    ['c0-early-pos', 'c0-same-pos-older', 'c0-late', 'c2', 'orphan-old']);
});

test('filters: open, resolved, mine, mentions, and questions oldest first', () => {
  const bobReplied = thread('bob-replied', { messages: [
    { id: 'm1', author: author('ann'), body: 'q', created: 1, edited: null },
    { id: 'm2', author: author('bob'), body: 'a', created: 2, edited: null }] });
  const list = [
    placed(thread('ann-new', { created: 300 }), 0),
    placed(thread('ann-old', { created: 100 }), 3),
    placed(thread('bob-own', { author: author('bob'), created: 50 }), 1),
    placed(thread('resolved', { status: 'resolved', mentions: ['bob'] }), 2),
    placed(bobReplied, 4),
  ];
  const ids = (f: Parameters<typeof filterThreads>[1]) => filterThreads(list, f, 'bob').map((p) => p.thread.id);
  assert.deepEqual(ids('open'), ['ann-new', 'bob-own', 'ann-old', 'bob-replied']);
  assert.deepEqual(ids('resolved'), ['resolved']);
  assert.deepEqual(ids('mine'), ['bob-own', 'bob-replied']);
  assert.deepEqual(ids('mentions'), ['resolved']);
  assert.deepEqual(ids('questions'), ['ann-old', 'bob-replied', 'ann-new'], 'open, by others, oldest first');
});

test('unread mentions and open counts per cell', () => {
  const unread = thread('u', { mentions: ['bob'], readBy: ['ann'] });
  const read = thread('r', { mentions: ['bob'], readBy: ['ann', 'bob'] });
  const resolved = thread('x', { status: 'resolved', anchor: { ...unread.anchor, cellId: 'd' } });
  assert.equal(isUnreadMention(unread, 'bob'), true);
  assert.equal(isUnreadMention(unread, 'ann'), false, 'not mentioned');
  assert.deepEqual(unreadMentions([unread, read, resolved], 'bob'), ['u']);
  assert.deepEqual([...openCounts([unread, read, resolved])], [['c', 2]]);
});

test('mention handles, queries, matches and insertion', () => {
  assert.equal(handleOf('Anonymous Io'), 'anonymousio');
  assert.equal(handleOf('Zoë Ångström-Li'), 'zoëångström-li');
  assert.equal(handleOf('<img src=x onerror=alert(1)>'), 'imgsrcxonerroralert1');
  assert.deepEqual(mentionQuery('hi @al', 6), { at: 3, query: 'al' });
  assert.deepEqual(mentionQuery('@', 1), { at: 0, query: '' });
  assert.equal(mentionQuery('mail@example', 12), null, 'an e-mail address is not a mention');
  assert.equal(mentionQuery('hi @al there', 12), null, 'the caret is past the word');
  const people = [
    { username: 'u1', displayName: 'Alice Smith', handle: 'alicesmith' },
    { username: 'u2', displayName: 'Bob Allen', handle: 'boballen' },
    { username: 'u1', displayName: 'Alice Smith', handle: 'alicesmith' },
    { username: 'u3', displayName: 'Al', handle: 'al' },
  ];
  assert.deepEqual(matchMentions(people, 'al').map((p) => p.username), ['u1', 'u3', 'u2'], 'handle prefix first, no duplicates');
  assert.deepEqual(matchMentions(people, 'AL', 1).map((p) => p.username), ['u1']);
  assert.deepEqual(insertMention('hi @al!', 3, 6, 'alicesmith'), { text: 'hi @alicesmith !', caret: 15 });
});

test('a held selection moves with edits and is gone when its text is', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'abcdef');
  const held = holdRange(text, 2, 4); // "cd"
  text.insert(0, 'xx');
  assert.deepEqual(heldRangeNow(held), { start: 4, end: 6 });
  text.insert(6, '!'); // at its end: stays out
  assert.equal(text.toString().slice(4, 6), 'cd');
  text.delete(3, 4);
  assert.equal(heldRangeNow(held), null);
});

test('threads decode from the comments root, as the server writes it', () => {
  const doc = new Y.Doc();
  const root = doc.getMap<Y.Map<unknown>>('comments');
  const map = new Y.Map<unknown>();
  const messages = new Y.Array<unknown>();
  messages.push([{ id: 'm1', author: { username: 'ann', display_name: 'Ann <b>', color: '#123456' }, body: 'see @bob', created: 5, edited: null }]);
  for (const [k, v] of Object.entries({
    id: 't1', status: 'open', created: 5, author: { username: 'ann', display_name: 'Ann <b>', color: '#123456' },
    anchor: { cell_id: 'c', kind: 'text', quote: 'q', start: { item: { client: 1, clock: 0 }, assoc: 0 }, end: null },
    resolved_by: null, resolved_at: null, mentions: ['bob'], read_by: ['ann'],
    suggestion: { text: 'new', state: 'open', decided_by: null, decided_at: null },
  })) map.set(k, v);
  map.set('messages', messages);
  const store = new ThreadStore(doc);
  let changes = 0;
  store.changed.on(() => changes++);
  root.set('t1', map);
  const t = store.get('t1');
  assert.ok(t);
  assert.equal(changes, 1);
  assert.equal(t.author.displayName, 'Ann <b>');
  assert.equal(t.anchor.kind, 'text');
  assert.deepEqual(t.suggestion, { text: 'new', state: 'open', decidedBy: null });
  assert.deepEqual(t.messages.map((m) => m.body), ['see @bob']);
  doc.transact(() => {
    map.set('status', 'resolved');
    messages.push([{ id: 'm2', author: { username: 'bob' }, body: 'done', created: 6, edited: null }]);
  });
  assert.equal(changes, 2, 'one change per transaction');
  assert.equal(store.get('t1')?.status, 'resolved');
  assert.equal(store.get('t1')?.messages[1]?.author.displayName, 'bob');
  root.delete('t1');
  assert.equal(store.get('t1'), null);
  assert.equal(parseThread('x', 'not an object'), null);
  store.destroy();
});

test('users for mentions: the server\'s handle, or one made from the name', () => {
  assert.deepEqual(parseUsers([{ username: 'u1', display_name: 'Ann Lee', handle: 'annlee' }, { username: 'u2', display_name: 'Bo Ko' }, { nope: 1 }, 'x']),
    [{ username: 'u1', displayName: 'Ann Lee', handle: 'annlee' }, { username: 'u2', displayName: 'Bo Ko', handle: 'boko' }]);
  assert.deepEqual(parseUsers(null), []);
});

// --- where threads show (logic/thread-marks.ts) and placing them ----------------------------

test('placing threads: by cell id in notebook order, the first of two cells with one id', () => {
  const doc = new Y.Doc();
  const a = cellText(doc, 'alpha');
  const b = cellText(doc, 'beta');
  const onB = thread('on-b', { anchor: serverAnchor(b, 'b', 0, 2) });
  const onOutput = thread('on-out', { anchor: { cellId: 'a', kind: 'output', quote: '', start: null, end: null, outputIndex: 1 } });
  const gone = thread('gone', { anchor: { ...onOutput.anchor, cellId: 'zz' } });
  const cells = [{ id: 'a', source: a, outputs: 1 }, { id: 'b', source: b, outputs: 0 }, { id: 'a', source: b, outputs: 5 }];
  const places = placeThreads([onB, onOutput, gone], cells).map((p) => [p.thread.id, p.place.state, p.place.cellIndex]);
  assert.deepEqual(places, [['on-b', 'attached', 1], ['on-out', 'detached', 0], ['gone', 'orphaned', -1]],
    'the output is gone from the first cell "a" (one output), whatever the duplicate has');
});

test('editor marks: open text threads of the cell, in the author\'s colour, the current one marked', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'π = 3.14159 😀 done');
  const long = 'x'.repeat(300);
  const pi = thread('pi', { anchor: serverAnchor(text, 'c', 0, 1), author: { username: 'bob', displayName: 'Bob', color: '#123456' },
    messages: [{ id: 'm', author: author('bob'), body: long, created: 1, edited: null }] });
  const emoji = thread('emoji', { anchor: serverAnchor(text, 'c', 12, 14) });
  const resolved = thread('resolved', { anchor: serverAnchor(text, 'c', 4, 8), status: 'resolved' });
  const elsewhere = thread('elsewhere', { anchor: serverAnchor(text, 'd', 4, 8) });
  const whole = thread('whole');
  const marks = textMarks([pi, emoji, resolved, elsewhere, whole], 'c', text, 'emoji');
  assert.deepEqual(marks.map((m) => [m.threadId, m.from, m.to, m.current]), [['pi', 0, 1, false], ['emoji', 12, 14, true]]);
  assert.equal(marks[0]!.color, '#123456');
  assert.equal(marks[1]!.color, userColor('ann'));
  assert.equal(marks[0]!.title, `Comment by Bob: ${'x'.repeat(120)}`);
  text.delete(12, 2);
  assert.deepEqual(textMarks([emoji], 'c', text, null), [], 'its text deleted: no mark');
  assert.equal(authorColor({ username: 'ann', displayName: 'Ann', color: 'not a colour' }), userColor('ann'));
});

test('thread targets: the text selected, the output shown, or just the cell; none when orphaned', () => {
  const text = thread('t', { anchor: { cellId: 'c', kind: 'text', quote: 'q', start: {}, end: {}, outputIndex: null } });
  const out = thread('o', { anchor: { cellId: 'c', kind: 'output', quote: '', start: null, end: null, outputIndex: 2 } });
  const at = (state: Placed['place']['state']) => ({ state, cellIndex: 3, start: 4, end: 9 });
  assert.deepEqual(threadTarget(text, at('attached')), { cellId: 'c', range: { start: 4, end: 9 }, output: null });
  assert.deepEqual(threadTarget(text, at('detached')), { cellId: 'c', range: null, output: null }, 'its text is gone');
  assert.deepEqual(threadTarget(out, at('attached')), { cellId: 'c', range: null, output: 2 });
  assert.deepEqual(threadTarget(out, at('detached')), { cellId: 'c', range: null, output: null }, 'the output is gone');
  assert.deepEqual(threadTarget(thread('cell'), at('attached')), { cellId: 'c', range: null, output: null });
  assert.equal(threadTarget(text, at('orphaned')), null);
  assert.equal(threadTarget(text, undefined), null);
});

test('opening a thread: the panel keeps a filter that shows it, else Open or Resolved', () => {
  const open = thread('open', { author: author('bob') });
  const resolved = thread('resolved', { status: 'resolved' });
  assert.equal(filterShowing(open, [placed(open, 0)], 'mine', 'bob'), 'mine');
  assert.equal(filterShowing(open, [placed(open, 0)], 'resolved', 'bob'), 'open');
  assert.equal(filterShowing(resolved, [placed(resolved, 0)], 'open', 'bob'), 'resolved');
  assert.equal(filterShowing(resolved, [], 'mentions', 'bob'), 'resolved', 'not placed');
});

test('badge labels count in words', () => {
  assert.equal(openCommentsLabel(1, 'cell'), '1 open comment on this cell');
  assert.equal(openCommentsLabel(3, 'output'), '3 open comments on this output');
  assert.equal(unreadMentionsLabel(0), '0 unread mentions');
  assert.equal(unreadMentionsLabel(1), '1 unread mention');
});

test('mention candidates: people here first (as the server knows them), then the rest, never me', () => {
  const known = [
    { username: 'ann', displayName: 'Ann Lee', handle: 'annlee' },
    { username: 'zoë', displayName: 'Zoë', handle: 'zoë' },
    { username: 'me', displayName: 'Me', handle: 'me' },
  ];
  const here = [{ username: 'zoë', displayName: 'Z' }, { username: 'guest-1', displayName: 'Anonymous Io' }, { username: 'me', displayName: 'Me' }];
  assert.deepEqual(mentionCandidates(here, known, 'me').map((p) => [p.username, p.handle]),
    [['zoë', 'zoë'], ['guest-1', 'anonymousio'], ['ann', 'annlee'], ['zoë', 'zoë']],
    'duplicates are left to matchMentions');
  assert.deepEqual(mentionCandidates(here, null, 'me').map((p) => p.username), ['zoë', 'guest-1'], 'the server does not list its users');
});

test('a thread on a code cell that ran carries its prompt, as the gutter shows it', () => {
  const doc = new Y.Doc();
  const text = cellText(doc, 'x = 1');
  const thread = parseThread('t1', { anchor: { cell_id: 'c1', kind: 'cell', quote: '' } })!;
  const [ran] = placeThreads([thread], [{ id: 'c1', source: text, executionCount: 5 }]);
  assert.equal(ran!.place.executionCount, 5);
  const [fresh] = placeThreads([thread], [{ id: 'c1', source: text, executionCount: null }]);
  assert.equal(fresh!.place.executionCount, undefined);
});
