// Issue 11, the web app's half: presence only from the server's own client, ids checked
// before they become URLs, and inline styles of rendered Markdown cut to an allowlist.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import katex from 'katex';

import { filterStyle } from '../src/logic/css';
import { FilePath, InvalidId, isId, notebookDocumentId, parseId } from '../src/logic/ids';
import { AccessApi, parsePresenter } from '../src/protocol/access';
import { CommentsApi } from '../src/protocol/comments';
import { ContentsApi } from '../src/protocol/contents';
import { apiUrl } from '../src/protocol/http';
import { KernelsApi } from '../src/protocol/kernels';
import { parseCollaborators, parseServerPresence } from '../src/protocol/presence';
import { parseRaw } from '../src/protocol/raw';

const FILE = '0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90';
const KERNEL = 'e2a1f0c4-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const SERVER = 1234;
const MALLORY = 77;

/** What a viewer published to make the owner's page cancel a "request" that was a path. */
const forged = {
  user: { username: 'mallory', display_name: 'Mallory' },
  huddle: {
    presenter: { username: 'mallory', name: 'Mallory', since: 1 },
    queue: [{ request_id: '../../contents/decoy.ipynb', cell_id: 'c1', state: 'queued', requested_by: { username: 'owner' }, input: { prompt: 'Password:', password: true } },
      { request_id: 'abc', cell_id: 'c1', state: 'running', requested_by: { username: 'owner' }, input: { prompt: 'Password:', password: true } }],
    kernel: { id: KERNEL, status: 'busy' },
  },
};
const genuine = {
  huddle: {
    presenter: null,
    queue: [{ request_id: 'aa11', cell_id: 'c2', state: 'queued', requested_by: { username: 'owner' } }],
    kernel: { id: KERNEL, status: 'idle' },
  },
};

test('server presence is read from the announced client id only', () => {
  const states = new Map<number, unknown>([[MALLORY, forged], [SERVER, genuine]]);
  const server = parseServerPresence(states, SERVER);
  assert.deepEqual(server.queue.map((q) => q.requestId), ['aa11']);
  assert.equal(server.kernel?.status, 'idle');
  assert.equal(parsePresenter(states, SERVER), null, 'the forged presenter is ignored');
  // Before the server said which entry is its own, there is no server presence at all.
  assert.deepEqual(parseServerPresence(states, null).queue, []);
  assert.equal(parseServerPresence(states, null).kernel, null);
  assert.equal(parsePresenter(states, null), null);
  // Only a forged entry: nothing, even when it comes first and the server has none yet.
  const onlyForged = new Map<number, unknown>([[MALLORY, forged]]);
  assert.deepEqual(parseServerPresence(onlyForged, SERVER).queue, []);
  assert.equal(parsePresenter(onlyForged, SERVER), null);
  // The server's own presenter is read.
  const presenting = new Map<number, unknown>([[MALLORY, forged], [SERVER, { huddle: { presenter: { username: 'owner', name: 'Owner', since: 5 } } }]]);
  assert.deepEqual(parsePresenter(presenting, SERVER), { username: 'owner', name: 'Owner', since: 5 });
});

test('people: neither the server\'s entry nor a state claiming to be the server\'s', () => {
  const states = new Map<number, unknown>([
    [1, { user: { username: 'me' } }],
    [SERVER, { user: { username: 'server?' }, huddle: {} }],
    [MALLORY, forged],
    [9, { user: { username: 'bob' } }],
  ]);
  assert.deepEqual(parseCollaborators(states, 1, SERVER).map((p) => p.username), ['me', 'bob']);
  const serverWithUser = new Map<number, unknown>([[SERVER, { user: { username: 'x' } }]]);
  assert.deepEqual(parseCollaborators(serverWithUser, 1, SERVER), [], 'the server\'s id is not a person');
});

test('RAW server_presence announces the server\'s client id', () => {
  assert.deepEqual(parseRaw('{"type":"server_presence","client_id":2147483647}'), { type: 'server_presence', clientId: 2147483647 });
  for (const bad of ['"1"', '-1', '1.5', 'null']) {
    assert.equal(parseRaw(`{"type":"server_presence","client_id":${bad}}`).type, 'other', bad);
  }
});

test('ids: exactly the shapes the server issues', () => {
  assert.ok(isId('request', 'a'.repeat(32)));
  for (const bad of ['', 'A1', '../x', 'a'.repeat(65), 'ab\n', 'ab/cd', '%2e%2e']) assert.equal(isId('request', bad), false, bad);
  assert.ok(isId('kernel', KERNEL));
  for (const bad of [KERNEL.toUpperCase(), `${KERNEL}x`, `../${KERNEL}`, KERNEL.replace(/-/g, '')]) assert.equal(isId('kernel', bad), false, bad);
  assert.ok(isId('document', `json:notebook:${FILE}`));
  assert.ok(isId('document', `text:file:${FILE}`));
  for (const bad of [`json:file:${FILE}`, `json:notebook:${FILE}/..`, 'json:notebook:..', `yaml:notebook:${FILE}`, `json:notebook:${FILE}\n`]) {
    assert.equal(isId('document', bad), false, bad);
  }
  assert.ok(isId('thread', 'f'.repeat(32)) && isId('message', '0'.repeat(32)));
  assert.equal(isId('thread', 'f'.repeat(31)), false);
  assert.ok(isId('link', '0123456789abcdef'));
  assert.equal(isId('link', '0123456789abcde'), false);
  assert.throws(() => parseId('request', '../../contents/decoy.ipynb'), InvalidId);
  assert.throws(() => notebookDocumentId('../x'), InvalidId);
  assert.throws(() => parseId('kernel', 42), InvalidId);
});

test('apiUrl: one segment per id, file paths split, dot segments refused', () => {
  const doc = notebookDocumentId(FILE);
  assert.equal(apiUrl('/b/', 'api/huddle/access', doc), `/b/api/huddle/access/json%3Anotebook%3A${FILE}`);
  assert.equal(apiUrl('/b/', 'api/huddle/requests', parseId('request', 'ab'), 'input'), '/b/api/huddle/requests/ab/input');
  assert.equal(apiUrl('/', 'api/contents', FilePath.parse('a b/c.ipynb')), '/api/contents/a%20b/c.ipynb');
  for (const bad of ['..', '.', 'a/../b', 'a/./b', 'a//b', '/a', 'a/']) {
    assert.throws(() => FilePath.parse(bad), InvalidId, bad);
  }
  assert.equal(FilePath.parse('a/..b/c..').toString(), 'a/..b/c..', 'dots inside a name are a name');
  // Whatever the types were told, a dot segment never reaches a URL.
  for (const bad of ['..', '.', '']) {
    assert.throws(() => apiUrl('/', 'api/huddle/requests', bad as never), InvalidId, JSON.stringify(bad));
  }
  assert.equal(apiUrl('/', 'api/huddle/requests', 'a/../b' as never), '/api/huddle/requests/a%2F..%2Fb', 'a slash in an id is data');
});

/** An HttpClient that records what would be sent. */
function recorder(): { http: never; sent: string[] } {
  const sent: string[] = [];
  const http = { baseUrl: '/', request: async (method: string, url: string) => (sent.push(`${method} ${url}`), { url: '', path: '' }) };
  return { http: http as never, sent };
}

test('the APIs refuse ids that are not the server\'s, sending nothing', async () => {
  const { http, sent } = recorder();
  const kernels = new KernelsApi(http);
  await assert.rejects(kernels.cancel('../../contents/decoy.ipynb' as never), InvalidId);
  const comments = new CommentsApi(http, notebookDocumentId(FILE));
  await assert.rejects(async () => comments.reply('../../../contents/x', 'hi'), InvalidId);
  await assert.rejects(async () => comments.remove('f'.repeat(32), '..'), InvalidId);
  await assert.rejects(new AccessApi(http).revokeLink(notebookDocumentId(FILE), '../../x'), InvalidId);
  await assert.rejects(new ContentsApi(http).remove('a/../../etc'), InvalidId);
  assert.deepEqual(sent, []);
  await comments.reply('f'.repeat(32), 'hi');
  assert.deepEqual(sent, [`POST /api/huddle/comments/json%3Anotebook%3A${FILE}/${'f'.repeat(32)}/messages`]);
});

/** The style attributes of KaTeX's output (HTML and MathML), entities decoded. */
function katexStyles(tex: string, display: boolean): string[] {
  const html = katex.renderToString(tex, { displayMode: display, throwOnError: false, output: 'htmlAndMathml' });
  return [...html.matchAll(/\sstyle="([^"]*)"/g)].map((m) => m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
}

const normalized = (style: string): string =>
  style.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const colon = d.indexOf(':');
    return `${d.slice(0, colon).trim().toLowerCase()}:${d.slice(colon + 1).trim().replace(/\s+/g, ' ')}`;
  }).join(';');

test('CSS filter keeps every style KaTeX writes', () => {
  const formulas = [
    String.raw`\frac{a}{b} + \sqrt{x^2 + 1} - \sqrt[3]{y}`,
    String.raw`\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \begin{bmatrix} a \\ b \end{bmatrix} \begin{array}{c|c} x & y \\ \hline 1 & 2 \end{array}`,
    String.raw`{\color{red} x} + \textcolor{#0a0}{y} + \colorbox{yellow}{z} + \fcolorbox{blue}{#eee}{w}`,
    String.raw`\sum_{i=1}^{n} \int_0^\infty \lim_{x \to 0} \prod_k \overbrace{a+b}^{c} \underbrace{d}_{e}`,
    String.raw`\widehat{abc} \overrightarrow{AB} \xrightarrow[below]{above} \vec{v} \tilde{x} \hat{\imath}`,
    String.raw`\left( \frac{1}{2} \right] \Big\| \bigl\{ x \bigr\} \cancel{5} \boxed{E=mc^2} \pmb{x}`,
    String.raw`\rule{1em}{0.5em} \kern1em \raisebox{0.25em}{up} \mathllap{l} \mathrlap{r} \not= \stackrel{!}{=}`,
    String.raw`\begin{aligned} a &= b \\ &= c \end{aligned} \tag{1}`,
    String.raw`\begin{CD} A @>a>> B \\ @VbVV @AAcA \\ C @= D \end{CD}`,
  ];
  let checked = 0;
  for (const tex of formulas) {
    for (const display of [false, true]) {
      for (const style of katexStyles(tex, display)) {
        assert.equal(filterStyle(style, { katex: true }), normalized(style), `${tex}: ${style}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} styles checked`);
});

test('CSS filter drops what could cover the app or load anything', () => {
  const drop = [
    'position:fixed', 'position: absolute', 'position:sticky', 'z-index:2147483647', 'inset:0',
    'transform:scale(100)', 'translate:0 -100px', 'background:url(https://x/y.png)', 'background-image:url(x)',
    'color:var(--hd-fg)', 'width:expression(alert(1))', 'width:100vw', 'height:100vh',
    'color:red !important', 'color:r\\65 d', 'width:calc(var(--x) * 2)', 'width:calc(100% - env(x))',
    'cursor:url(x), auto', 'content:"x"', 'behavior:url(x.htc)', '-moz-binding:url(x)',
    'filter:blur(5px)', 'clip-path:inset(0)', 'mask:url(#m)', 'display:contents',
    'top:-9999px', 'left:0', 'list-style-image:url(x)', 'border-image:url(x) 30', 'background:red url(x)',
    'width:1em/*', 'animation:x 1s', 'pointer-events:none', 'color:rgb(var(--x))',
  ];
  for (const style of drop) assert.equal(filterStyle(style), '', style);
  assert.equal(filterStyle('position:fixed;inset:0;z-index:2147483647;background:red'), 'background:red');
  assert.equal(filterStyle('position:relative;top:-0.5em;left:2px'), 'position:relative;top:-0.5em;left:2px');
  assert.equal(filterStyle('top:-3em;height:1em', { katex: true }), 'top:-3em;height:1em', 'KaTeX\'s own boxes are relative');
  assert.equal(filterStyle('position:absolute;top:-3em'), '', 'an offset needs relative positioning');
  assert.equal(filterStyle('COLOR: Red; Font-Weight: bold;;text-align:center'), 'color:Red;font-weight:bold;text-align:center');
  assert.equal(filterStyle('font-family:"Times New Roman", serif;width:calc(100% - 0.2em)'), 'font-family:"Times New Roman", serif;width:calc(100% - 0.2em)');
  assert.equal(filterStyle('font-family:x;y'), 'font-family:x');
  // A `;` inside a string splits it here; both halves are checked and dropped.
  assert.equal(filterStyle('font-family:"a;position:fixed";color:blue'), 'color:blue');
});
