import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { notebookDocumentId } from '../src/logic/ids';
import { widgetModelId } from '../src/logic/mime';
import { bundleUrl, widgetSocketUrls } from '../src/protocol/widgets';
import { frameState, MAX_VALUE_BYTES, parseFrameMessage } from '../src/widgets/anywidget/messages';
import { WidgetChannel, type ChannelListener, type Transport } from '../src/widgets/channel';
import { decodeFrame, encodeFrame, FrameError, MAX_FRAME_BUFFERS } from '../src/widgets/codec';
import type { CommMessage } from '../src/widgets/comm';
import { MSG_ID_PATTERN, newMsgId, parseServerFrame, type SendFrame, type ServerFrame } from '../src/widgets/frames';
import { MAX_PENDING, PendingSends } from '../src/widgets/pending';
import { savedStateOf } from '../src/widgets/saved';
import { DEAD_LABEL, READ_ONLY_TITLE, SAVED_LABEL, sendRefusal, widgetLook } from '../src/widgets/states';

// --- console warnings are part of the contract: captured, not printed -----------------------

let warnings: string[] = [];
const realWarn = console.warn;
beforeEach(() => {
  warnings = [];
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
});
afterEach(() => {
  console.warn = realWarn;
});

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const text = (view: DataView): string => new TextDecoder().decode(view);

// --- the binary frame codec ----------------------------------------------------------------

test('a frame with buffers: big-endian header, UTF-8 byte length, buffers in order', () => {
  const message = { type: 'update', note: 'héllo 👋' };
  const frame = encodeFrame(message, [bytes(1, 2, 3), new Uint16Array([0x0102]).buffer]);
  const view = new DataView(frame.buffer);
  const json = new TextEncoder().encode(JSON.stringify(message));
  assert.equal(view.getUint32(0, false), 2);
  assert.equal(view.getUint32(4, false), json.length); // bytes, not characters
  assert.notEqual(json.length, JSON.stringify(message).length);
  assert.equal(view.getUint32(8, false), 3);
  assert.equal(view.getUint32(12, false), 2);
  const decoded = decodeFrame(frame);
  assert.deepEqual(JSON.parse(decoded.text), message);
  assert.deepEqual([...new Uint8Array(decoded.buffers[0]!.buffer)], [1, 2, 3]);
  assert.equal(decoded.buffers[1]!.byteLength, 2);
});

test('a frame built as the server builds it (struct ">II{n}I") decodes; no buffers too', () => {
  const json = new TextEncoder().encode('{"type":"custom","comm_id":"c","content":{"a":"ü"}}');
  const head = new DataView(new ArrayBuffer(12));
  head.setUint32(0, 1);
  head.setUint32(4, json.length);
  head.setUint32(8, 4);
  const frame = new Uint8Array([...new Uint8Array(head.buffer), ...json, ...new TextEncoder().encode('data')]);
  const decoded = decodeFrame(frame.buffer);
  assert.equal(text(decoded.buffers[0]!), 'data');
  assert.deepEqual(JSON.parse(decodeFrame(encodeFrame({ a: 1 }, [])).text), { a: 1 });
});

test('hostile binary frames are refused with FrameError, never read out of bounds', () => {
  const good = encodeFrame({ a: 1 }, [bytes(1, 2)]);
  assert.throws(() => decodeFrame(bytes(0, 0, 0)), FrameError); // shorter than the header
  assert.throws(() => decodeFrame(good.slice(0, good.length - 1)), FrameError); // truncated
  assert.throws(() => decodeFrame(new Uint8Array([...good, 0])), FrameError); // trailing bytes
  const many = new DataView(new ArrayBuffer(8));
  many.setUint32(0, MAX_FRAME_BUFFERS + 1);
  assert.throws(() => decodeFrame(many.buffer), /too many buffers/);
  const huge = new DataView(new ArrayBuffer(12));
  huge.setUint32(0, 1);
  huge.setUint32(4, 0);
  huge.setUint32(8, 0xffffffff); // a buffer far beyond the frame
  assert.throws(() => decodeFrame(huge.buffer), FrameError);
  const badUtf8 = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0x28]);
  assert.throws(() => decodeFrame(badUtf8), /not UTF-8/);
  assert.throws(() => encodeFrame({}, new Array(MAX_FRAME_BUFFERS + 1).fill(bytes())), FrameError);
});

// --- server frames ---------------------------------------------------------------------------

const model = (id: string, extra: Record<string, unknown> = {}) => ({
  comm_id: id, target_name: 'jupyter.widget', model_name: 'IntSliderModel',
  model_module: '@jupyter-widgets/controls', model_module_version: '2.0.0',
  state: { value: 1, _model_name: 'IntSliderModel' }, buffer_paths: [], ...extra,
});

test('a snapshot: models typed, buffers placed at their buffer_index and paths', () => {
  const frame = parseServerFrame(JSON.stringify({
    type: 'snapshot', kernel_id: 'k', alive: true, can_send: false,
    models: [
      model('a', { buffer_paths: [['data']], buffer_index: 0 }),
      model('b', { buffer_paths: [['nested', 'x'], ['y']], buffer_index: 1, state: { nested: {}, value: 2 } }),
    ],
  }), [new DataView(bytes(1).buffer), new DataView(bytes(2).buffer), new DataView(bytes(3).buffer)]);
  assert.ok(frame && frame.type === 'snapshot');
  assert.equal(frame.canSend, false);
  assert.deepEqual(frame.models.map((m) => m.commId), ['a', 'b']);
  assert.equal((frame.models[0]!.state['data'] as DataView).getUint8(0), 1);
  assert.equal(((frame.models[1]!.state['nested'] as Record<string, DataView>)['x']!).getUint8(0), 2);
  assert.equal((frame.models[1]!.state['y'] as DataView).getUint8(0), 3);
  assert.deepEqual(warnings, []);
});

test('hostile server frames are ignored with a warning, never thrown', () => {
  const bad: unknown[] = [
    'not json',
    JSON.stringify(null),
    JSON.stringify([1, 2]),
    JSON.stringify({ type: 'bogus' }),
    JSON.stringify({ type: 7 }),
    JSON.stringify({ type: 'snapshot', alive: 'yes', can_send: true, models: [] }),
    JSON.stringify({ type: 'snapshot', alive: true, can_send: true, models: 'none' }),
    JSON.stringify({ type: 'update', comm_id: 5, state: {} }),
    JSON.stringify({ type: 'update', comm_id: 'c', state: [] }),
    JSON.stringify({ type: 'update', comm_id: 'c', state: {}, method: 'eval' }),
    JSON.stringify({ type: 'update', comm_id: 'c', state: {}, buffer_paths: [['x']] }), // no buffer
    JSON.stringify({ type: 'update', comm_id: 'c', state: {}, buffer_paths: 'x' }),
    JSON.stringify({ type: 'open', model: { comm_id: 'c' } }),
    JSON.stringify({ type: 'open', model: model('c', { buffer_paths: [['__proto__']] }) }),
    JSON.stringify({ type: 'close' }),
  ];
  for (const raw of bad) {
    warnings = [];
    assert.equal(parseServerFrame(raw as string, [new DataView(new ArrayBuffer(1))].slice(0, 0)), null, String(raw));
    assert.equal(warnings.length, 1, String(raw));
  }
  // __proto__ as a buffer path is refused even with a buffer for it.
  assert.equal(parseServerFrame(JSON.stringify({ type: 'open', model: model('c', { buffer_paths: [['__proto__', 'polluted']] }) }),
    [new DataView(bytes(1).buffer)]), null);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  // One bad model of a snapshot is left out; the others stay.
  const snapshot = parseServerFrame(JSON.stringify({ type: 'snapshot', alive: true, can_send: true, models: [{ comm_id: 1 }, model('ok')] }));
  assert.ok(snapshot && snapshot.type === 'snapshot');
  assert.deepEqual(snapshot.models.map((m) => m.commId), ['ok']);
});

test('dead, refused, close and custom frames', () => {
  assert.deepEqual(parseServerFrame('{"type":"dead","reason":"restarted"}'), { type: 'dead', reason: 'restarted' });
  assert.deepEqual(parseServerFrame('{"type":"refused","ref":3,"reason":"no execute"}'), { type: 'refused', ref: 3, reason: 'no execute' });
  assert.deepEqual(parseServerFrame('{"type":"refused","ref":"3"}'), { type: 'refused', ref: null, reason: 'refused' });
  assert.deepEqual(parseServerFrame('{"type":"close","comm_id":"c"}'), { type: 'close', commId: 'c' });
  const custom = parseServerFrame('{"type":"custom","comm_id":"c","content":{"n":1}}');
  assert.deepEqual(custom, { type: 'custom', commId: 'c', content: { n: 1 }, buffers: [] });
});

// --- the channel: msg ids, echoes, refusals ------------------------------------------------------

class FakeTransport implements Transport {
  state: 'open' | 'closed' = 'open';
  sent: { frame: SendFrame; buffers: readonly (ArrayBuffer | ArrayBufferView)[] }[] = [];
  send(frame: SendFrame, buffers: readonly (ArrayBuffer | ArrayBufferView)[]): boolean {
    if (this.state !== 'open') return false;
    this.sent.push({ frame, buffers });
    return true;
  }
}

function setup(canSend = true) {
  const events: string[] = [];
  const listener: ChannelListener = {
    snapshot: (models, may) => void events.push(`snapshot ${models.length} ${may}`),
    opened: (m) => void events.push(`open ${m.commId}`),
    closed: (id) => void events.push(`close ${id}`),
    dead: (reason) => void events.push(`dead ${reason}`),
    refused: (id, reason) => void events.push(`refused ${id} ${reason}`),
  };
  const channel = new WidgetChannel(listener);
  const transport = new FakeTransport();
  channel.attach(transport);
  channel.receive(parseServerFrame(JSON.stringify({ type: 'snapshot', kernel_id: 'k', alive: true, can_send: canSend, models: [model('s')] }))!);
  const comm = channel.comm('s');
  const received: CommMessage[] = [];
  comm.on_msg((msg) => void received.push(msg));
  let idles = 0;
  const callbacks = { iopub: { status: (msg: { content: { execution_state: string } }) => void (msg.content.execution_state === 'idle' && idles++) } };
  return { channel, transport, comm, received, events, callbacks: callbacks as never, idles: () => idles };
}

const update = (fields: Record<string, unknown>): ServerFrame =>
  parseServerFrame(JSON.stringify({ type: 'update', comm_id: 's', method: 'echo_update', buffer_paths: [], ...fields }))!;

test('a send gets a fresh 32-hex msg_id, and its echo comes back under it, then idle', () => {
  const { channel, transport, comm, received, callbacks, idles } = setup();
  const msgId = comm.send({ method: 'update', state: { value: 3 }, buffer_paths: [] }, callbacks);
  assert.match(msgId, MSG_ID_PATTERN);
  assert.notEqual(msgId, newMsgId());
  const { frame } = transport.sent[0]!;
  assert.deepEqual(frame, { type: 'send', ref: frame.ref, msg_id: msgId, comm_id: 's', data: { method: 'update', state: { value: 3 }, buffer_paths: [] } });
  assert.equal(idles(), 0);
  channel.receive(update({ state: { value: 2 }, parent_msg_id: 'f'.repeat(32) })); // someone else's echo
  assert.equal(idles(), 0);
  channel.receive(update({ state: { value: 3 }, parent_msg_id: msgId }));
  assert.equal(received.at(-1)!.parent_header.msg_id, msgId);
  assert.deepEqual(received.at(-1)!.content.data, { method: 'echo_update', state: { value: 3 }, buffer_paths: [] });
  assert.equal(idles(), 1);
  const second = comm.send({ method: 'custom', content: { click: 1 } }, callbacks);
  assert.notEqual(second, msgId);
  assert.deepEqual(transport.sent[1]!.frame.data, { method: 'custom', content: { click: 1 } });
  channel.destroy();
});

test('a message with buffers goes out with them (binary frame)', () => {
  const { channel, transport, comm } = setup();
  comm.send({ method: 'update', state: {}, buffer_paths: [['data']] }, undefined, {}, [bytes(9)]);
  assert.equal(transport.sent[0]!.buffers.length, 1);
  channel.destroy();
});

test('refused by the server: the kernel\'s value is put back under the same msg_id', async () => {
  const { channel, transport, comm, received, events, callbacks, idles } = setup();
  const msgId = comm.send({ method: 'update', state: { value: 9 }, buffer_paths: [] }, callbacks);
  channel.receive(parseServerFrame(JSON.stringify({ type: 'refused', ref: transport.sent[0]!.frame.ref, reason: 'too fast' }))!);
  const back = received.at(-1)!;
  assert.equal(back.parent_header.msg_id, msgId);
  assert.deepEqual(back.content.data, { method: 'echo_update', state: { value: 1 }, buffer_paths: [] });
  assert.equal(idles(), 1);
  assert.deepEqual(events.at(-1), 'refused s too fast');
  channel.destroy();
});

test('without can_send nothing goes out: refused here, value put back, reason told', async () => {
  const { channel, transport, comm, received, events, callbacks, idles } = setup(false);
  assert.equal(channel.maySend, false);
  const msgId = comm.send({ method: 'update', state: { value: 5 }, buffer_paths: [] }, callbacks);
  assert.match(msgId, MSG_ID_PATTERN); // ipywidgets waits for this id's echo: it must come
  assert.equal(transport.sent.length, 0);
  assert.equal(events.at(-1), `refused s ${READ_ONLY_TITLE}`);
  await new Promise((resolve) => queueMicrotask(() => resolve(null)));
  assert.equal(received.at(-1)!.parent_header.msg_id, msgId);
  assert.deepEqual((received.at(-1)!.content.data as { state: unknown }).state, { value: 1 });
  assert.equal(idles(), 1);
  // Methods a browser may not send are refused even with the right to send.
  const open = setup(true);
  open.comm.send({ method: 'request_states' }, undefined);
  open.comm.send('not an object', undefined);
  assert.equal(open.transport.sent.length, 0);
  assert.equal(open.comm.open(), '');
  channel.destroy();
  open.channel.destroy();
});

test('dead: pending sends settle, later sends are refused; a new snapshot revives', () => {
  const { channel, transport, comm, events, callbacks, idles } = setup();
  comm.send({ method: 'update', state: { value: 4 }, buffer_paths: [] }, callbacks);
  channel.receive(parseServerFrame('{"type":"dead","reason":"restarted"}')!);
  assert.equal(idles(), 1);
  assert.equal(events.at(-1), 'dead restarted');
  assert.equal(channel.maySend, false);
  comm.send({ method: 'update', state: { value: 4 }, buffer_paths: [] }, callbacks);
  assert.equal(transport.sent.length, 1);
  channel.receive(parseServerFrame(JSON.stringify({ type: 'snapshot', alive: true, can_send: true, models: [] }))!);
  assert.equal(channel.maySend, true);
  channel.destroy();
});

test('close: the comm hears it and the runtime is told', () => {
  const { channel, comm, events } = setup();
  let closed = 0;
  comm.on_close(() => void closed++);
  channel.receive(parseServerFrame('{"type":"close","comm_id":"s"}')!);
  assert.equal(closed, 1);
  assert.equal(events.at(-1), 'close s');
  assert.equal(channel.hasComm('s'), false);
  channel.destroy();
});

test('pending sends are bounded and expire', () => {
  const pending = new PendingSends();
  let settled = 0;
  for (let i = 0; i < MAX_PENDING + 5; i++) {
    pending.add({ ref: i, msgId: String(i), commId: 'c', keys: [], sentAtMs: i, settle: () => void settled++ });
  }
  assert.equal(pending.size, MAX_PENDING);
  assert.equal(settled, 5);
  assert.equal(pending.echoed('0'), null); // evicted
  assert.equal(pending.echoed('10')!.ref, 10);
  assert.equal(pending.refused(11)!.msgId, '11');
  // Left: refs 5..1004, less 10 and 11; sent at or before 50 ms: 5..50, less those two.
  assert.equal(pending.expire(100, 50).length, 46 - 2);
  assert.equal(pending.drain().length, MAX_PENDING - 2 - 44);
});

// --- disabled, dead, saved ---------------------------------------------------------------------

test('how a widget looks, and whether it may send', () => {
  assert.deepEqual(widgetLook({ source: 'live', canSend: true, dead: false }), { disabled: false, title: null, label: null });
  assert.deepEqual(widgetLook({ source: 'live', canSend: false, dead: false }), { disabled: true, title: READ_ONLY_TITLE, label: null });
  assert.equal(widgetLook({ source: 'live', canSend: true, dead: true }).label, DEAD_LABEL);
  assert.equal(widgetLook({ source: 'live', canSend: true, dead: true }).disabled, true);
  assert.equal(widgetLook({ source: 'saved', canSend: true, dead: false }).label, SAVED_LABEL);
  assert.equal(widgetLook({ source: 'saved', canSend: true, dead: false }).disabled, true);
  assert.equal(sendRefusal({ canSend: true, dead: false, open: true }), null);
  assert.equal(sendRefusal({ canSend: false, dead: false, open: true }), READ_ONLY_TITLE);
  assert.match(sendRefusal({ canSend: true, dead: true, open: true })!, /restarted/);
  assert.match(sendRefusal({ canSend: true, dead: false, open: false })!, /Not connected/);
});

test('saved state from metadata.widgets: checked, copied', () => {
  const metadata = { 'application/vnd.jupyter.widget-state+json': { version_major: 2, version_minor: 0, state: {
    a: { model_name: 'IntSliderModel', model_module: '@jupyter-widgets/controls', model_module_version: '2.0.0', state: { value: 3 } },
    bad: { model_name: 5, state: {} },
    worse: 'x',
  } } };
  const saved = savedStateOf(metadata)!;
  assert.deepEqual(Object.keys(saved.state), ['a']);
  saved.state['a']!.state['value'] = 4;
  assert.equal(metadata['application/vnd.jupyter.widget-state+json'].state.a.state.value, 3);
  assert.equal(savedStateOf(undefined), null);
  assert.equal(savedStateOf({ 'application/vnd.jupyter.widget-state+json': { version_major: 9, state: {} } }), null);
});

// --- the anywidget frame's messages (hostile) ----------------------------------------------------

test('anywidget frame messages are checked: marker, keys, plain values, sizes', () => {
  const m = (fields: Record<string, unknown>) => ({ hdAnywidget: 1, ...fields });
  assert.deepEqual(parseFrameMessage(m({ type: 'ready' })), { type: 'ready' });
  assert.deepEqual(parseFrameMessage(m({ type: 'set', key: 'value', value: [1, { a: 'b' }] })), { type: 'set', key: 'value', value: [1, { a: 'b' }] });
  assert.deepEqual(parseFrameMessage(m({ type: 'save' })), { type: 'save' });
  assert.equal(parseFrameMessage({ type: 'set', key: 'value', value: 1 }), null); // no marker
  assert.equal(parseFrameMessage({ huddleFrameHeight: 10 }), null);
  assert.equal(parseFrameMessage(null), null);
  assert.equal(parseFrameMessage('set'), null);
  for (const key of ['_esm', '_css', '_model_name', '_view_module', 'layout', '__proto__x-', '', 5, 'a b']) {
    assert.equal(parseFrameMessage(m({ type: 'set', key, value: 1 })), null, String(key));
  }
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: Number.NaN })), null);
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: () => 1 })), null);
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: new Date() })), null);
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: 'x'.repeat(MAX_VALUE_BYTES) })), null);
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: deep })), null);
  assert.equal(parseFrameMessage(m({ type: 'set', key: 'v', value: JSON.parse('{"__proto__": {"x": 1}}') })), null);
  assert.equal(parseFrameMessage(m({ type: 'unknown' })), null);
  const sent = parseFrameMessage(m({ type: 'send', content: { a: 1 }, buffers: [new Uint8Array([1, 2]), new ArrayBuffer(3)] }));
  assert.ok(sent && sent.type === 'send');
  assert.deepEqual(sent.buffers.map((b) => b.byteLength), [2, 3]);
  assert.equal(parseFrameMessage(m({ type: 'send', content: {}, buffers: ['nope'] })), null);
  assert.equal(parseFrameMessage(m({ type: 'send', content: {}, buffers: [new ArrayBuffer(MAX_VALUE_BYTES + 1)] })), null);
  assert.deepEqual(parseFrameMessage(m({ type: 'height', px: 1e9 })), { type: 'height', px: 4000 });
  assert.deepEqual(parseFrameMessage(m({ type: 'height', px: -5 })), { type: 'height', px: 16 });
  assert.equal(parseFrameMessage(m({ type: 'height', px: '10' })), null);
  assert.equal((parseFrameMessage(m({ type: 'error', message: 'x'.repeat(2000) })) as { message: string }).message.length, 500);
  assert.deepEqual(frameState({ value: 1, _esm: 'code', layout: 'IPY_MODEL_x', data: new DataView(new ArrayBuffer(1)), f: () => 1, count_: 'a' }),
    { value: 1, data: new DataView(new ArrayBuffer(1)), count_: 'a' });
});

// --- the app's side ---------------------------------------------------------------------------

test('widget model ids, the bundle next to app.js, the socket URL', () => {
  const view = { 'application/vnd.jupyter.widget-view+json': { model_id: 'ab12cd', version_major: 2 } };
  assert.equal(widgetModelId(view), 'ab12cd');
  assert.equal(widgetModelId({ 'application/vnd.jupyter.widget-view+json': { model_id: '../x' } }), null);
  assert.equal(widgetModelId({ 'application/vnd.jupyter.widget-view+json': { model_id: 7 } }), null);
  assert.equal(widgetModelId({}), null);
  assert.equal(bundleUrl('https://h/base/huddle/static/app.js?v=1.2', 'widgets.js'), 'https://h/base/huddle/static/widgets.js?v=1.2');
  assert.equal(bundleUrl('http://h/huddle/static/app.js', 'widgets.css'), 'http://h/huddle/static/widgets.css');
  const id = notebookDocumentId('0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90');
  assert.deepEqual(widgetSocketUrls({ protocol: 'https:', host: 'h:8888' }, '/base/', id), {
    ws: 'wss://h:8888/base/api/huddle/widgets/json%3Anotebook%3A0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90',
    http: 'https://h:8888/base/api/huddle/widgets/json%3Anotebook%3A0b4c9a55-3f7e-4c1e-9d7a-2f1a6c3e8b90',
  });
});
