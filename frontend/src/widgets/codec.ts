/**
 * The widget socket's binary frames (docs/WIDGETS.md, "Wire protocol"): a message with
 * buffers travels as one frame, u32 count, u32 JSON length, u32 length per buffer (all
 * big-endian), the UTF-8 JSON, then the buffers. Pure: no DOM, no widget libraries.
 */

/** More buffers than this in one frame is not a widget message but an attack on the
 * header parser (each announced buffer costs a length word and an allocation). */
export const MAX_FRAME_BUFFERS = 4096;

const WORD = 4;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface DecodedFrame {
  /** The JSON part, as text (parsing and validation are frames.ts's job). */
  text: string;
  /** The frame's buffers, in order (copies). */
  buffers: DataView[];
}

function bytesOf(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** One binary frame for `message` (any JSON value) and its `buffers`. The JSON length is
 * the UTF-8 byte count, not the character count. */
export function encodeFrame(message: unknown, buffers: readonly (ArrayBuffer | ArrayBufferView)[]): Uint8Array {
  if (buffers.length > MAX_FRAME_BUFFERS) throw new FrameError(`too many buffers (${buffers.length})`);
  const json = new TextEncoder().encode(JSON.stringify(message));
  const parts = buffers.map(bytesOf);
  const header = WORD * (2 + parts.length);
  const total = header + json.length + parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length, false);
  view.setUint32(WORD, json.length, false);
  parts.forEach((p, i) => view.setUint32(WORD * (2 + i), p.length, false));
  out.set(json, header);
  let at = header + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The JSON text and buffers of a binary frame.
 * @throws FrameError when the header does not describe exactly the frame's bytes, or the
 * JSON part is not UTF-8. */
export function decodeFrame(data: ArrayBuffer | ArrayBufferView): DecodedFrame {
  const bytes = bytesOf(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 2 * WORD) throw new FrameError('frame shorter than its header');
  const count = view.getUint32(0, false);
  const jsonLength = view.getUint32(WORD, false);
  if (count > MAX_FRAME_BUFFERS) throw new FrameError(`too many buffers (${count})`);
  const header = WORD * (2 + count);
  if (bytes.length < header) throw new FrameError('frame shorter than its header');
  const lengths = Array.from({ length: count }, (_, i) => view.getUint32(WORD * (2 + i), false));
  const total = header + jsonLength + lengths.reduce((sum, n) => sum + n, 0);
  if (total !== bytes.length) throw new FrameError(`frame is ${bytes.length} bytes, its header says ${total}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(header, header + jsonLength));
  } catch {
    throw new FrameError('the JSON part is not UTF-8');
  }
  let at = header + jsonLength;
  const buffers = lengths.map((n) => {
    // A copy each: a buffer outlives the frame, and goes to anywidget frames by itself.
    const buffer = new DataView(bytes.slice(at, at + n).buffer);
    at += n;
    return buffer;
  });
  return { text, buffers };
}
