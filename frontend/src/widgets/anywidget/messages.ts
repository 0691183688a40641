/**
 * The messages between an anywidget's sandboxed frame and the page. The frame runs code
 * from whoever ran the cell: everything it posts is a claim, checked here before it
 * reaches a model (its shape, its size, which keys it may set). Pure.
 */

/** Every message of this protocol carries this marker (other frames' messages, and the
 * app's own frame heights, are not ours). */
export const MARKER = 'hdAnywidget';

/** One value from the frame, JSON plus binary, at most this big: a frame must not hand
 * the page (and the kernel) unbounded data in one message. */
export const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_DEPTH = 32;
export const FRAME_MIN_PX = 16;
export const FRAME_MAX_PX = 4000;

/** State keys that are the widget framework's, not the widget's: the frame never sets
 * them (its own code, layout, what it is). */
const FRAMEWORK_KEY = /^(_esm|_css|_anywidget_id|_model_\w+|_view_\w+|_dom_classes|layout|style|tabbable|tooltip)$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,199}$/;

export function isWidgetKey(key: unknown): key is string {
  return typeof key === 'string' && KEY.test(key) && !FRAMEWORK_KEY.test(key);
}

export type FrameMessage =
  | { type: 'ready' }
  | { type: 'set'; key: string; value: unknown }
  | { type: 'save' }
  | { type: 'send'; content: unknown; buffers: DataView[] }
  | { type: 'height'; px: number }
  | { type: 'error'; message: string };

function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toDataView(value: ArrayBuffer | ArrayBufferView): DataView {
  return value instanceof ArrayBuffer ? new DataView(value) : new DataView(value.buffer, value.byteOffset, value.byteLength);
}

/** The byte size of `value` if it is plain data (JSON values, binary), or null. */
export function plainSize(value: unknown, depth = 0): number | null {
  if (depth > MAX_DEPTH) return null;
  if (value === null || typeof value === 'boolean') return 4;
  if (typeof value === 'number') return Number.isFinite(value) ? 8 : null;
  if (typeof value === 'string') return value.length * 2;
  if (isBinary(value)) return value.byteLength;
  if (Array.isArray(value)) return sizeOfAll(value, depth);
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return null;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.some(([k]) => k === '__proto__')) return null;
    const inner = sizeOfAll(entries.map(([, v]) => v), depth);
    return inner === null ? null : inner + entries.reduce((n, [k]) => n + k.length * 2, 0);
  }
  return null;
}

function sizeOfAll(values: unknown[], depth: number): number | null {
  let total = 0;
  for (const v of values) {
    const n = plainSize(v, depth + 1);
    if (n === null) return null;
    total += n;
    if (total > MAX_VALUE_BYTES) return null;
  }
  return total;
}

function plain(value: unknown): boolean {
  const size = plainSize(value);
  return size !== null && size <= MAX_VALUE_BYTES;
}

/** A frame's message, checked; null when it is not one (ignored). */
export function parseFrameMessage(data: unknown): FrameMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  if (d[MARKER] !== 1) return null;
  switch (d['type']) {
    case 'ready':
    case 'save':
      return { type: d['type'] };
    case 'set':
      return isWidgetKey(d['key']) && plain(d['value']) ? { type: 'set', key: d['key'], value: d['value'] } : null;
    case 'send': {
      const raw = d['buffers'] ?? [];
      if (!Array.isArray(raw) || !raw.every(isBinary) || !plain(d['content'])) return null;
      const buffers = raw.map(toDataView);
      if (buffers.reduce((n, b) => n + b.byteLength, 0) > MAX_VALUE_BYTES) return null;
      return { type: 'send', content: d['content'] ?? null, buffers };
    }
    case 'height': {
      const px = d['px'];
      if (typeof px !== 'number' || !Number.isFinite(px)) return null;
      return { type: 'height', px: Math.min(FRAME_MAX_PX, Math.max(FRAME_MIN_PX, Math.ceil(px))) };
    }
    case 'error':
      return typeof d['message'] === 'string' ? { type: 'error', message: d['message'].slice(0, 500) } : null;
    default:
      return null;
  }
}

/** The part of a model's (serialized) state the frame sees: the widget's own keys, as
 * plain data. */
export function frameState(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    if (isWidgetKey(key) && plain(value)) out[key] = value;
  }
  return out;
}
