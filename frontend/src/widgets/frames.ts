/**
 * What the server sends on the widget socket, checked into types (docs/WIDGETS.md, "Server
 * → browser"), and what the browser sends. A frame of an unknown type, or with a field of
 * the wrong type, is dropped with a console warning: the socket and the other widgets
 * carry on. Pure: no DOM, no widget libraries.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type BufferPath = (string | number)[];
export type WidgetState = Record<string, unknown>;

/** A live model as the server describes it, with its buffers put back in place. */
export interface ModelFrame {
  commId: string;
  targetName: string;
  modelName: string;
  modelModule: string;
  modelModuleVersion: string;
  /** The serialized state, buffers already at their `buffer_paths`. */
  state: WidgetState;
}

export type ServerFrame =
  | { type: 'snapshot'; kernelId: string | null; alive: boolean; canSend: boolean; models: ModelFrame[] }
  | { type: 'open'; model: ModelFrame }
  | {
      type: 'update';
      commId: string;
      method: 'update' | 'echo_update';
      state: WidgetState;
      bufferPaths: BufferPath[];
      buffers: DataView[];
      parentMsgId: string | null;
    }
  | { type: 'custom'; commId: string; content: unknown; buffers: DataView[] }
  | { type: 'close'; commId: string }
  | { type: 'dead'; reason: string }
  | { type: 'refused'; ref: number | null; reason: string };

/** What a browser may send: `update` (state) or `custom` (content) on a live comm. */
export type SendData =
  | { method: 'update'; state: WidgetState; buffer_paths: BufferPath[] }
  | { method: 'custom'; content: unknown };

export interface SendFrame {
  type: 'send';
  ref: number;
  msg_id: string;
  comm_id: string;
  data: SendData;
}

type Fields = Record<string, unknown>;

class Invalid extends Error {}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string' || value === '') throw new Invalid(`${key} is not a string`);
  return value;
}

function optionalStr(fields: Fields, key: string): string | null {
  const value = fields[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new Invalid(`${key} is not a string`);
  return value;
}

function bool(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') throw new Invalid(`${key} is not a boolean`);
  return value;
}

function stateOf(fields: Fields, key: string): WidgetState {
  const value = fields[key];
  if (!isObject(value)) throw new Invalid(`${key} is not an object`);
  return value;
}

function bufferPaths(fields: Fields): BufferPath[] {
  const raw = fields['buffer_paths'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Invalid('buffer_paths is not a list');
  return raw.map((path) => {
    const ok = Array.isArray(path) && path.length > 0
      && path.every((p) => typeof p === 'string' || (typeof p === 'number' && Number.isInteger(p) && p >= 0));
    if (!ok) throw new Invalid('a buffer path is not a list of keys');
    return path as BufferPath;
  });
}

/** Puts `buffers` into `state` at `paths` (as ipywidgets' put_buffers, but refusing a
 * path through something that is not a container, or onto `__proto__`). */
export function putBuffers(state: WidgetState, paths: readonly BufferPath[], buffers: readonly DataView[]): void {
  if (paths.length > buffers.length) throw new Invalid(`${paths.length} buffer paths, ${buffers.length} buffers`);
  paths.forEach((path, i) => {
    let node: unknown = state;
    for (const key of path.slice(0, -1)) {
      if (typeof node !== 'object' || node === null || key === '__proto__') throw new Invalid('a buffer path leads nowhere');
      node = (node as Fields)[key as string];
    }
    const last = path[path.length - 1]!;
    if (typeof node !== 'object' || node === null || last === '__proto__') throw new Invalid('a buffer path leads nowhere');
    (node as Fields)[last as string] = buffers[i];
  });
}

/** A model, with its buffers: a snapshot's buffers are its models' buffers in order, each
 * model's starting at its `buffer_index` (or after the previous model's). */
function modelOf(raw: unknown, buffers: readonly DataView[], cursor: { next: number }): ModelFrame {
  if (!isObject(raw)) throw new Invalid('a model is not an object');
  const state = structuredCloneJson(stateOf(raw, 'state'));
  const paths = bufferPaths(raw);
  const index = raw['buffer_index'];
  const first = typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : cursor.next;
  const mine = buffers.slice(first, first + paths.length);
  if (mine.length < paths.length) throw new Invalid('a model names buffers the frame does not have');
  cursor.next = first + paths.length;
  putBuffers(state, paths, mine);
  return {
    commId: str(raw, 'comm_id'),
    targetName: optionalStr(raw, 'target_name') ?? 'jupyter.widget',
    modelName: optionalStr(raw, 'model_name') || stateStr(state, '_model_name'),
    modelModule: optionalStr(raw, 'model_module') || stateStr(state, '_model_module'),
    modelModuleVersion: optionalStr(raw, 'model_module_version') ?? '',
    state,
  };
}

/** A `_model_*` name from the state, when the description left it out. */
function stateStr(state: WidgetState, key: string): string {
  const value = state[key];
  if (typeof value !== 'string' || value === '') throw new Invalid(`the model has no ${key}`);
  return value;
}

/** The models of a snapshot; one that is not well-formed is left out (with a warning),
 * the others are kept. */
function modelsOf(raw: unknown[], buffers: readonly DataView[]): ModelFrame[] {
  const cursor = { next: 0 };
  return raw.flatMap((m) => {
    try {
      return [modelOf(m, buffers, cursor)];
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      console.warn(`widgets: a model of the snapshot was left out (${err.message})`);
      return [];
    }
  });
}

/** A deep copy of parsed JSON (the frame's objects are ours, but ipywidgets mutates
 * state in place; a copy keeps a retried frame intact). */
function structuredCloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function parseFields(type: string, f: Fields, buffers: DataView[]): ServerFrame {
  switch (type) {
    case 'snapshot': {
      if (!Array.isArray(f['models'])) throw new Invalid('models is not a list');
      const kernelId = optionalStr(f, 'kernel_id');
      return { type, kernelId, alive: bool(f, 'alive'), canSend: bool(f, 'can_send'), models: modelsOf(f['models'], buffers) };
    }
    case 'open':
      return { type, model: modelOf(f['model'], buffers, { next: 0 }) };
    case 'update': {
      const method = f['method'] ?? 'update';
      if (method !== 'update' && method !== 'echo_update') throw new Invalid(`unknown update method ${String(method)}`);
      const paths = bufferPaths(f);
      if (paths.length > buffers.length) throw new Invalid('more buffer paths than buffers');
      return {
        type, commId: str(f, 'comm_id'), method, state: stateOf(f, 'state'), bufferPaths: paths,
        buffers: buffers.slice(0, paths.length), parentMsgId: optionalStr(f, 'parent_msg_id'),
      };
    }
    case 'custom':
      return { type, commId: str(f, 'comm_id'), content: f['content'] ?? null, buffers };
    case 'close':
      return { type, commId: str(f, 'comm_id') };
    case 'dead':
      return { type, reason: optionalStr(f, 'reason') ?? 'the kernel stopped' };
    case 'refused': {
      const ref = f['ref'];
      return { type, ref: typeof ref === 'number' && Number.isInteger(ref) ? ref : null, reason: optionalStr(f, 'reason') ?? 'refused' };
    }
    default:
      throw new Invalid(`unknown frame type ${JSON.stringify(type).slice(0, 40)}`);
  }
}

/** A server frame from its JSON text and buffers, or null (with a console warning) when
 * it is not one this app understands. */
export function parseServerFrame(text: string, buffers: DataView[] = []): ServerFrame | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    console.warn('widgets: a frame that is not JSON was ignored');
    return null;
  }
  try {
    if (!isObject(raw) || typeof raw['type'] !== 'string') throw new Invalid('no type');
    return parseFields(raw['type'], raw, buffers);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    console.warn(`widgets: a frame was ignored (${err.message})`);
    return null;
  }
}

/** Browser message ids: 32 lowercase hex digits, random (the kernel sees them prefixed;
 * the echo carries them back as `parent_msg_id`). */
export function newMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const MSG_ID_PATTERN = /^[0-9a-f]{32}$/;
