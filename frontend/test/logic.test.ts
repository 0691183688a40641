import assert from 'node:assert/strict';
import { test } from 'node:test';

import { contrast, hashString, initialsOf, lightColor, PALETTE, settleColor, textOn, userColor, type ColorClaim } from '../src/logic/colors';
import { CommandKeys, DOUBLE_PRESS_MS, type KeyPress } from '../src/logic/keys';
import { extractMath, restoreMath } from '../src/logic/math';
import { base64Payload, isLong, joinText, pickMime, widgetFallback, WIDGET_MIME } from '../src/logic/mime';
import { parseRoute, routeUrl } from '../src/logic/routes';
import { connectionStatus, terminalClose, type ConnectionFacts } from '../src/logic/status';

const key = (k: string, mods: Partial<KeyPress> = {}): KeyPress =>
  ({ key: k, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods });

test('command keys: D D deletes only when pressed twice quickly', () => {
  const keys = new CommandKeys();
  assert.equal(keys.handle(key('d'), 0), null);
  assert.equal(keys.handle(key('d'), 100), 'delete');
  assert.equal(keys.handle(key('d'), 200), null, 'a third D starts again');
  assert.equal(keys.handle(key('d'), 200 + DOUBLE_PRESS_MS + 1), null, 'too slow');
  assert.equal(keys.handle(key('a'), 2000), 'insertAbove');
  assert.equal(keys.handle(key('d'), 2100), null);
  assert.equal(keys.handle(key('x'), 2150), 'cut', 'another key in between cancels D D');
  assert.equal(keys.handle(key('d'), 2200), null);
});

test('command keys: Jupyter bindings', () => {
  const keys = new CommandKeys();
  assert.equal(keys.handle(key('Enter'), 0), 'edit');
  assert.equal(keys.handle(key('Enter', { shiftKey: true }), 0), 'runAdvance');
  assert.equal(keys.handle(key('Enter', { ctrlKey: true }), 0), 'run');
  assert.equal(keys.handle(key('Enter', { metaKey: true }), 0), 'run');
  assert.equal(keys.handle(key('Enter', { altKey: true }), 0), 'runInsert');
  assert.equal(keys.handle(key('B'), 0), 'insertBelow');
  assert.equal(keys.handle(key('m'), 0), 'toMarkdown');
  assert.equal(keys.handle(key('y'), 0), 'toCode');
  assert.equal(keys.handle(key('ArrowUp'), 0), 'up');
  assert.equal(keys.handle(key('j'), 0), 'down');
  assert.equal(keys.handle(key('c', { ctrlKey: true }), 0), null, 'Ctrl+C is the browser\'s');
  assert.equal(keys.handle(key('q'), 0), null);
});

test('math: extracted from Markdown, code left alone, put back typeset', () => {
  const src = 'Euler $e^{i\\pi}+1=0$ and\n$$\\sum_{k} a_k$$\nbut `$not math$` and costs $5 or $6, \\$literal';
  const { text, math } = extractMath(src);
  assert.deepEqual(math, [{ tex: 'e^{i\\pi}+1=0', display: false }, { tex: '\\sum_{k} a_k', display: true }]);
  assert.ok(text.includes('`$not math$`'));
  assert.ok(text.includes('costs $5 or $6'));
  assert.ok(text.includes('\\$literal'));
  const back = restoreMath(text, (s) => `[${s.display ? 'D' : 'I'}:${s.tex}]`, math);
  assert.ok(back.startsWith('Euler [I:e^{i\\pi}+1=0] and\n[D:\\sum_{k} a_k]'));
});

test('math: fenced code, \\( \\), \\[ \\] and environments', () => {
  const src = '```\n$x$ stays\n```\n\\(a_1\\) and \\[b^2\\]\n\\begin{align}x&=1\\end{align}';
  const { text, math } = extractMath(src);
  assert.ok(text.startsWith('```\n$x$ stays\n```\n'));
  assert.deepEqual(math.map((m) => m.display), [false, true, true]);
  assert.equal(math[2]?.tex, '\\begin{align}x&=1\\end{align}');
});

test('math: underscores inside formulas never reach the Markdown renderer', () => {
  const { text } = extractMath('$a_1$ and $b_2$');
  assert.ok(!text.includes('_'));
});

test('mime: preference order and multiline text', () => {
  assert.equal(pickMime({ 'text/plain': 'x', 'text/html': '<b>' }), 'text/html');
  assert.equal(pickMime({ 'text/plain': 'x', 'image/png': 'AAA' }), 'image/png');
  assert.equal(pickMime({ 'application/vnd.unknown': 1 }), null);
  assert.equal(pickMime(undefined), null);
  assert.equal(joinText(['a\n', 'b']), 'a\nb');
  assert.equal(joinText(3), '');
  assert.equal(base64Payload('AA\nBB\n'), 'AABB');
  assert.equal(isLong('a\n'.repeat(10)), false);
  assert.equal(isLong('a\n'.repeat(100)), true);
  assert.equal(isLong('x'.repeat(20_000)), true);
});

test('routes: round trip, with non-ASCII and spaces, under a base URL', () => {
  const base = '/user/ada/';
  for (const route of [
    { view: 'files' as const, dir: '' },
    { view: 'files' as const, dir: 'a b/ç' },
    { view: 'notebook' as const, path: 'dir/Ünïcode #1?.ipynb' },
  ]) {
    const url = routeUrl(base, route);
    assert.ok(url.startsWith('/user/ada/huddle/'));
    assert.ok(!url.includes('#') && !url.includes('?'));
    assert.deepEqual(parseRoute(base, url), route);
  }
  assert.deepEqual(parseRoute('/', '/huddle'), { view: 'files', dir: '' });
  assert.deepEqual(parseRoute('/', '/huddle/notebooks/'), { view: 'files', dir: '' });
});

test('status: live, reconnecting, offline, and terminal closes', () => {
  const facts: ConnectionFacts = { socket: 'connecting', synced: false, everSynced: false, online: true, terminal: null };
  assert.equal(connectionStatus(facts), 'connecting');
  assert.equal(connectionStatus({ ...facts, socket: 'connected', synced: true, everSynced: true }), 'live');
  assert.equal(connectionStatus({ ...facts, socket: 'disconnected', everSynced: true }), 'reconnecting');
  assert.equal(connectionStatus({ ...facts, online: false, everSynced: true }), 'offline');
  assert.equal(connectionStatus({ ...facts, terminal: 'stale', socket: 'connected', synced: true }), 'stale');
  assert.equal(terminalClose(1003), 'stale');
  assert.equal(terminalClose(4409), 'stale');
  assert.equal(terminalClose(4404), 'gone');
  assert.equal(terminalClose(4410), 'gone');
  assert.equal(terminalClose(4400), 'failed');
  assert.equal(terminalClose(1013), null, 'overloaded: try again');
  assert.equal(terminalClose(1006), null);
});

test('colors: stable per user, identity colour wins when usable', () => {
  assert.equal(userColor('ada'), userColor('ada'));
  assert.match(userColor('ada'), /^#[0-9a-f]{6}$/);
  assert.equal(userColor('ada', '#123456'), '#123456');
  assert.equal(userColor('ada', 'var(--jp-collaborator-color1)'), userColor('ada'));
  assert.equal(lightColor('#abc'), '#aabbcc33');
  assert.equal(initialsOf('Anonymous Io'), 'AI');
  assert.equal(initialsOf('ada'), 'A');
  assert.equal(typeof hashString('x'), 'number');
});

test('colors: every palette colour reads in both themes', () => {
  // Light theme background; dark theme background and panels (style.css).
  for (const color of PALETTE) {
    assert.ok(contrast(color, '#ffffff') >= 4.5, `${color}: white initials (and on the light page)`);
    assert.ok(contrast(color, '#0d1117') >= 3, `${color}: against the dark background`);
    assert.ok(contrast(color, '#161b22') >= 3, `${color}: against the dark panels`);
    assert.equal(textOn(color), '#ffffff');
  }
  assert.equal(new Set(PALETTE).size, PALETTE.length);
  assert.equal(textOn('#ffad8e'), '#1f2328', 'a JupyterLab pastel takes dark initials');
  assert.equal(textOn('not a colour'), '#ffffff');
  assert.equal(Math.round(contrast('#000', '#fff')), 21);
});

test('colors: two people never show one colour; those there first keep theirs', () => {
  const claim = (username: string, clientId: number, color: string, since: number, explicit = false): ColorClaim =>
    ({ username, clientId, color, since, explicit });
  const red = PALETTE[0];
  // Bob joins later with the colour Ada already shows: Bob moves to a free one.
  const bob = claim('bob', 2, red, 200);
  const ada = claim('ada', 1, red, 100);
  const moved = settleColor(bob, [ada]);
  assert.notEqual(moved, red);
  assert.ok((PALETTE as readonly string[]).includes(moved));
  assert.equal(settleColor(ada, [bob]), red, 'Ada was there first');
  // Joined at the same moment: the lower client id keeps it; both peers agree.
  assert.equal(settleColor(claim('ada', 1, red, 100), [claim('bob', 2, red, 100)]), red);
  assert.notEqual(settleColor(claim('bob', 2, red, 100), [claim('ada', 1, red, 100)]), red);
  // An identity colour is never moved, and outranks an automatic one.
  assert.equal(settleColor(claim('ada', 1, red, 100, true), [claim('bob', 2, red, 50)]), red);
  assert.notEqual(settleColor(claim('bob', 2, red, 50), [claim('ada', 1, red, 100, true)]), red);
  // A second tab of one person takes the colour of the first.
  assert.equal(settleColor(claim('ada', 3, PALETTE[4], 300), [claim('ada', 1, red, 100)]), red);
  // Every colour taken: share rather than loop.
  const everyone = PALETTE.map((c, i) => claim(`u${i}`, 10 + i, c, i));
  assert.equal(settleColor(claim('late', 99, red, 1000), everyone), red);
});

test('mime: an ipywidgets view shows its text, or says it is a widget', () => {
  assert.equal(widgetFallback({ [WIDGET_MIME]: { model_id: 'abc' }, 'text/plain': 'IntSlider(value=3)' }), 'IntSlider(value=3)');
  assert.equal(widgetFallback({ [WIDGET_MIME]: { model_id: '0123456789abcdef' } }), 'A Jupyter widget (model 01234567)');
  assert.equal(widgetFallback({ [WIDGET_MIME]: {}, 'text/plain': ['  '] }), 'A Jupyter widget');
  assert.equal(widgetFallback({ 'text/plain': 'x' }), null);
  assert.equal(widgetFallback(null), null);
});
