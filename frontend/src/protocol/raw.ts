/** Jupyter RAW messages (y-websocket message type 2): a UTF-8 JSON string the server sends
 * about saves, refused edits (read-only, locked cells), changes made to the file outside
 * Huddle, a stale copy kept in a recovery file, which awareness client is its own
 * (`server_presence`, on every join), and each version of the notebook it records
 * (`history`). */

import * as encoding from 'lib0/encoding';

/** y-websocket's message type of Jupyter RAW frames. */
export const MESSAGE_RAW = 2;

/** The frame that asks the server to save now: `[2, varString "save", varuint id]`; it
 * answers `{"type":"save","responseTo":id,"status":"success"|"failed"}`. */
export function encodeSaveRequest(id: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_RAW);
  encoding.writeVarString(encoder, 'save');
  encoding.writeVarUint(encoder, id);
  return encoding.toUint8Array(encoder);
}

export type RefusalReason = 'read_only' | 'locked' | 'protected';
const REFUSAL_REASONS: readonly string[] = ['read_only', 'locked', 'protected'];

export type RawNotice =
  | { type: 'save'; responseTo: number; status: 'success' | 'failed' }
  // An edit the server refused (read_only) or undid (a locked cell, a protected root).
  | { type: 'refused'; reason: RefusalReason; message: string }
  | { type: 'file_changed'; conflicts: string[]; backup: string | null }
  // The awareness client id of the server's own presence entry in this room (before SyncStep1).
  | { type: 'server_presence'; clientId: number }
  // This page's copy is from another history of the document: not merged, kept in a file
  // next to it (a close follows).
  | { type: 'stale_copy'; keptIn: string }
  // A version of the notebook was recorded (its listing entry, decoded by protocol/history.ts).
  | { type: 'history'; version: unknown }
  | { type: 'other'; text: string };

export function parseRaw(text: string): RawNotice {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'other', text };
  }
  if (typeof value !== 'object' || value === null) return { type: 'other', text };
  const v = value as Record<string, unknown>;
  if (v['type'] === 'save' && typeof v['responseTo'] === 'number') {
    return { type: 'save', responseTo: v['responseTo'], status: v['status'] === 'success' ? 'success' : 'failed' };
  }
  if (v['type'] === 'error' && typeof v['reason'] === 'string' && REFUSAL_REASONS.includes(v['reason'])) {
    return { type: 'refused', reason: v['reason'] as RefusalReason, message: typeof v['message'] === 'string' ? v['message'] : '' };
  }
  if (v['type'] === 'file_changed') {
    const conflicts = Array.isArray(v['conflicts']) ? v['conflicts'].filter((c): c is string => typeof c === 'string') : [];
    return { type: 'file_changed', conflicts, backup: typeof v['backup'] === 'string' ? v['backup'] : null };
  }
  if (v['type'] === 'stale_copy' && typeof v['kept_in'] === 'string') {
    return { type: 'stale_copy', keptIn: v['kept_in'] };
  }
  if (v['type'] === 'history' && typeof v['version'] === 'object' && v['version'] !== null) {
    return { type: 'history', version: v['version'] };
  }
  if (v['type'] === 'server_presence' && isClientId(v['client_id'])) {
    return { type: 'server_presence', clientId: v['client_id'] };
  }
  return { type: 'other', text };
}

/** An awareness client id: y-protocols encodes them as varuints (the server's is 31 bits). */
function isClientId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
