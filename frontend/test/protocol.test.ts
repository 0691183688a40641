import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { FilePath, notebookDocumentId, parseId } from '../src/logic/ids';
import { parentPath, siblingPath, sortEntries, type Entry } from '../src/protocol/contents';
import { apiUrl, readCookie } from '../src/protocol/http';
import { findSession, sha256Hex } from '../src/protocol/kernels';
import { KernelsApi } from '../src/protocol/kernels';
import {
  cssColor,
  parseCollaborators,
  parseServerPresence,
  queueEntryOf,
  queuePosition,
} from '../src/protocol/presence';
import { encodeSaveRequest, parseRaw } from '../src/protocol/raw';
import { roomServerUrl } from '../src/protocol/room';

const FILE = '0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90';
const KERNEL = 'e2a1f0c4-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

test('sha256Hex matches the server\'s source_hash, also for non-ASCII', async () => {
  for (const text of ['', 'print(1)', 'x = "héllo 👋"\n']) {
    assert.equal(await sha256Hex(text), createHash('sha256').update(text, 'utf8').digest('hex'));
  }
});

test('cookies and API URLs', () => {
  assert.equal(readCookie('a=1; _xsrf=2|ab%7Ccd; b=3', '_xsrf'), '2|ab|cd');
  assert.equal(readCookie('a=1', '_xsrf'), null);
  assert.equal(apiUrl('/base/', 'api/contents', FilePath.parse('dir a/n#1.ipynb')), '/base/api/contents/dir%20a/n%231.ipynb');
  assert.equal(apiUrl('/', 'api/contents', FilePath.parse('')), '/api/contents');
});

test('room URL follows the page scheme', () => {
  assert.equal(roomServerUrl({ protocol: 'https:', host: 'h:1' }, '/b/'), 'wss://h:1/b/api/collaboration/room');
  assert.equal(roomServerUrl({ protocol: 'http:', host: 'h' }, '/'), 'ws://h/api/collaboration/room');
});

test('contents helpers', () => {
  const e = (name: string, type: Entry['type']): Entry => ({ name, path: name, type, last_modified: '' });
  assert.deepEqual(sortEntries([e('b.ipynb', 'notebook'), e('Z', 'directory'), e('a.txt', 'file')]).map((x) => x.name), ['Z', 'a.txt', 'b.ipynb']);
  assert.equal(parentPath('a/b/c.ipynb'), 'a/b');
  assert.equal(parentPath('c.ipynb'), '');
  assert.equal(siblingPath('a/b.ipynb', 'c.ipynb'), 'a/c.ipynb');
  assert.equal(siblingPath('b.ipynb', 'c.ipynb'), 'c.ipynb');
});

test('sessions: by path, else by file id (JupyterLab\'s placeholder path)', () => {
  const s = (path: string, kernel: string | null) => ({ id: path, path, name: '', kernel: kernel ? { id: kernel, name: 'python3' } : null });
  assert.equal(findSession([s('x.ipynb', 'k1'), s('a.ipynb', 'k2')], 'a.ipynb', 'f')?.kernel?.id, 'k2');
  assert.equal(findSession([s('RTC:f-123', 'k3')], 'a.ipynb', 'f-123')?.kernel?.id, 'k3');
  assert.equal(findSession([s('a.ipynb', null)], 'a.ipynb', 'f'), null);
});

test('server presence: queue, runs, kernel, input prompt', () => {
  const states = new Map<number, unknown>([
    [1, { user: { username: 'ada', display_name: 'Ada', color: '#111111' }, activeCellId: 'c1' }],
    [2, { huddle: {
      kernel: { id: KERNEL, status: 'busy' },
      queue: [
        { request_id: 'a1', cell_id: 'c1', state: 'running', requested_by: { username: 'ada', display_name: 'Ada' }, input: { prompt: 'Name?', password: false } },
        { request_id: 'a2', cell_id: 'c2', state: 'queued', requested_by: { username: 'bob' } },
        { request_id: 'a3', cell_id: 'c3', state: 'queued', requested_by: { username: 'bob' } },
        { request_id: '../../contents/x', cell_id: 'c4', state: 'queued', requested_by: { username: 'bob' } },
        { junk: true },
      ],
      runs: { c0: { requested_by: { username: 'bob', display_name: 'Bob' }, state: 'done', execution_count: 4 } },
    } }],
  ]);
  const server = parseServerPresence(states, 2);
  assert.deepEqual(server.kernel, { id: KERNEL, status: 'busy' });
  assert.equal(server.queue.length, 3, 'junk and a request id that is not one are dropped');
  assert.deepEqual(queueEntryOf(server, 'c1')?.input, { prompt: 'Name?', password: false });
  assert.equal(queueEntryOf(server, 'c2')?.requestedBy.displayName, 'bob');
  assert.equal(queuePosition(server, 'a3'), 2);
  assert.equal(queuePosition(server, 'a1'), 0);
  assert.equal(server.runs.get('c0')?.requestedBy.displayName, 'Bob');
  assert.equal(server.runs.get('c0')?.executionCount, 4);
  assert.equal(parseServerPresence(new Map(), null).queue.length, 0);
  const oddKernel = new Map<number, unknown>([[2, { huddle: { kernel: { id: '../x', status: 'idle' } } }]]);
  assert.equal(parseServerPresence(oddKernel, 2).kernel, null, 'a kernel id that is not a uuid is not adopted');
  assert.equal(server.historyDurable, true, 'durable until the server says otherwise');
  const failing = new Map<number, unknown>([[2, { huddle: { history_durable: false } }], [3, { huddle: { history_durable: true } }]]);
  assert.equal(parseServerPresence(failing, 2).historyDurable, false);
  assert.equal(parseServerPresence(failing, 3).historyDurable, true);
});

test('collaborators: people only (not the server), me first', () => {
  const states = new Map<number, unknown>([
    [5, { user: { username: 'zed', name: 'Zed' } }],
    [7, { user: { username: 'me', display_name: 'Me', initials: 'ME', color: '#222222' }, activeCellId: 'x' }],
    [9, { huddle: { queue: [] } }],
    [10, null],
  ]);
  const people = parseCollaborators(states, 7, 9);
  assert.deepEqual(people.map((p) => [p.username, p.isMe, p.activeCellId]), [['me', true, 'x'], ['zed', false, null]]);
  assert.equal(people[1]?.displayName, 'Zed');
  assert.equal(people[1]?.initials, 'Z');
});

test('RAW notices', () => {
  assert.deepEqual(parseRaw('{"type":"save","responseTo":3,"status":"success"}'), { type: 'save', responseTo: 3, status: 'success' });
  assert.deepEqual(parseRaw('{"type":"error","reason":"read_only"}'), { type: 'refused', reason: 'read_only', message: '' });
  assert.deepEqual(parseRaw('{"type":"error","reason":"locked","message":"That cell is locked"}'), { type: 'refused', reason: 'locked', message: 'That cell is locked' });
  assert.deepEqual(parseRaw('{"type":"error","reason":"protected","message":"m"}'), { type: 'refused', reason: 'protected', message: 'm' });
  assert.deepEqual(parseRaw('{"type":"stale_copy","kept_in":"a.recovered-1.ipynb"}'), { type: 'stale_copy', keptIn: 'a.recovered-1.ipynb' });
  assert.deepEqual(parseRaw('{"type":"stale_copy","kept_in":3}'), { type: 'other', text: '{"type":"stale_copy","kept_in":3}' });
  assert.equal(parseRaw('{"type":"error","reason":"other"}').type, 'other');
  assert.deepEqual(parseRaw('{"type":"file_changed","conflicts":["a",1],"backup":"x.ipynb"}'), { type: 'file_changed', conflicts: ['a'], backup: 'x.ipynb' });
  assert.equal(parseRaw('not json').type, 'other');
});

test('runner: starts the kernel once, asks again once when the kernel is gone', async () => {
  const { NotebookRunner } = await import('../src/protocol/runner');
  const { ApiError } = await import('../src/protocol/http');
  const calls: string[] = [];
  let kernels = 0;
  let failNext = false;
  const api = {
    existingKernel: async () => null,
    ensureKernel: async () => (calls.push('ensure'), `k${++kernels}`),
    execute: async (kernelId: string) => {
      calls.push(`execute ${kernelId}`);
      if (failNext) {
        failNext = false;
        throw new ApiError(404, `unknown kernel ${kernelId}`);
      }
      return [];
    },
  };
  const runner = new NotebookRunner(api as never, { path: 'a.ipynb', fileId: FILE, documentId: notebookDocumentId(FILE) }, () => 'python3');
  assert.equal(await runner.interrupt(), false, 'no kernel yet');
  await runner.run([{ cellId: 'c', source: 'x' }]);
  await runner.run([{ cellId: 'c', source: 'x' }]);
  failNext = true;
  await runner.run([{ cellId: 'c', source: 'x' }]);
  assert.deepEqual(calls, ['ensure', 'execute k1', 'execute k1', 'execute k1', 'ensure', 'execute k2']);
  api.execute = async () => {
    throw new ApiError(409, 'the source changed');
  };
  await assert.rejects(runner.run([{ cellId: 'c', source: 'x' }]), /source changed/);
});

test('RAW save request: [2, "save", id] as the server decodes it', () => {
  assert.deepEqual([...encodeSaveRequest(1)], [2, 4, ...Buffer.from('save'), 1]);
  assert.deepEqual([...encodeSaveRequest(300)].slice(-2), [0xac, 0x02], 'a varuint id');
});

test('presence colours: hex kept, JupyterLab variables resolved, anything else grey', () => {
  assert.equal(cssColor('#a1b2c3'), '#a1b2c3');
  assert.equal(cssColor('var(--jp-collaborator-color3)'), '#72dd76');
  assert.equal(cssColor('red; background: url(x)'), '#888888');
  assert.equal(cssColor(42), '#888888');
  const states = new Map<number, unknown>([
    [1, { user: { username: 'lab', color: 'var(--jp-collaborator-color1)' } }],
    [2, { user: { username: 'app', color: '#0969da', colorSource: 'auto', joined: 1234 } }],
  ]);
  const [app, lab] = parseCollaborators(states, 0, null); // by name
  assert.deepEqual([app?.username, app?.colorExplicit, app?.since], ['app', false, 1234]);
  assert.deepEqual([lab?.username, lab?.colorExplicit, lab?.since, lab?.color], ['lab', true, 0, '#ffad8e']);
});

test('export and cancel URLs', async () => {
  const requests: [string, string][] = [];
  const http = { baseUrl: '/base/', request: async (method: string, url: string) => (requests.push([method, url]), null) };
  const api = new KernelsApi(http as never);
  assert.equal(api.exportUrl(notebookDocumentId(FILE), 'markdown'), `/base/api/huddle/export/json%3Anotebook%3A${FILE}?format=markdown`);
  await api.cancel(parseId('request', 'ab12'));
  assert.deepEqual(requests, [['DELETE', '/base/api/huddle/requests/ab12']]);
});
