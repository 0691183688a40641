/**
 * The document of an anywidget's sandboxed frame (`sandbox="allow-scripts"`: an opaque
 * origin, no access to the app's cookies, storage or DOM). Its host script imports the
 * widget's ESM from a blob URL made inside the frame and gives it anywidget's front-end
 * API (`initialize({model})`, `render({model, el})`; model.get/set/save_changes/on/off/
 * send) over postMessage to the page, which maps it onto the real widget model
 * (view.ts). Messages are taken from the parent window only.
 */
import { MARKER } from './messages';

// Plain ES2020 for the frame: no bundler sees this code.
const HOST_SCRIPT = `
const MARK = ${JSON.stringify(MARKER)};
const parentWindow = window.parent;
const post = (msg) => parentWindow.postMessage(Object.assign({ [MARK]: 1 }, msg), '*');
let state = {};
const listeners = new Map();
const same = (a, b) => { try { return a === b || JSON.stringify(a) === JSON.stringify(b); } catch (e) { return false; } };
function emit(name, ...args) {
  for (const fn of [...(listeners.get(name) || [])]) {
    try { fn(...args); } catch (e) { console.error(e); }
  }
}
function changed(key, value) {
  emit('change:' + key, null, value);
  emit('change');
}
const model = {
  get: (key) => state[key],
  set(key, value) {
    if (same(state[key], value)) return;
    state[key] = value;
    post({ type: 'set', key, value });
    changed(key, value);
  },
  save_changes: () => post({ type: 'save' }),
  send(content, _callbacks, buffers) {
    post({ type: 'send', content, buffers: Array.isArray(buffers) ? buffers : [] });
  },
  on(name, fn) {
    if (!listeners.has(name)) listeners.set(name, new Set());
    listeners.get(name).add(fn);
  },
  off(name, fn) {
    if (!name) listeners.clear();
    else if (!fn) listeners.delete(name);
    else listeners.get(name)?.delete(fn);
  },
  widget_manager: {
    get_model: () => Promise.reject(new Error('other models are not reachable from a sandboxed anywidget')),
  },
};
async function load(esm) {
  if (/^https?:\\/\\//.test(esm.trim())) return import(esm.trim());
  const url = URL.createObjectURL(new Blob([esm], { type: 'text/javascript' }));
  try { return await import(url); }
  catch (e) { return import('data:text/javascript;charset=utf-8,' + encodeURIComponent(esm)); }
  finally { URL.revokeObjectURL(url); }
}
async function start(msg) {
  state = msg.state || {};
  if (msg.css) {
    const style = document.createElement('style');
    style.textContent = msg.css;
    document.head.append(style);
  }
  const module = await load(msg.esm || '');
  let widget = module.default ?? module;
  if (typeof widget === 'function') widget = await widget();
  const el = document.getElementById('root');
  await widget.initialize?.({ model });
  await widget.render?.({ model, el });
}
let started = false;
addEventListener('message', (event) => {
  if (event.source !== parentWindow) return;
  const msg = event.data;
  if (!msg || msg[MARK] !== 1) return;
  if (msg.type === 'init' && !started) {
    started = true;
    start(msg).catch((e) => post({ type: 'error', message: String(e && e.message || e) }));
  } else if (msg.type === 'change' && msg.state) {
    for (const [key, value] of Object.entries(msg.state)) {
      if (same(state[key], value)) continue;
      state[key] = value;
      changed(key, value);
    }
  } else if (msg.type === 'custom') {
    emit('msg:custom', msg.content, msg.buffers || []);
  }
});
let last = 0;
const report = () => {
  const h = Math.ceil(document.documentElement.getBoundingClientRect().height);
  if (h !== last) { last = h; post({ type: 'height', px: h }); }
};
new ResizeObserver(report).observe(document.documentElement);
post({ type: 'ready' });
`;

/** The frame's srcdoc. */
export function frameDocument(): string {
  return '<!doctype html><html><head><meta charset="utf-8">' +
    '<style>html,body{margin:0;padding:0;background:transparent;font:14px system-ui,sans-serif}' +
    '@media (prefers-color-scheme: dark){html{color:#e6edf3}}</style></head>' +
    `<body><div id="root"></div><script type="module">${HOST_SCRIPT}<\/script></body></html>`;
}
