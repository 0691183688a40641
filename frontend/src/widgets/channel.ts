/**
 * The page's end of the widget protocol: the socket's frames turned into comm messages
 * for ipywidgets' models, and the models' messages into `send` frames. It keeps what the
 * server last said each model's state is, so that a refused change is put back, and the
 * messages waiting for their echo (pending.ts). Models themselves are the manager's.
 */
import type { ICallbacks } from '@jupyter-widgets/base';

import { HuddleComm, type Buffers, type CommMessage } from './comm';
import { newMsgId, putBuffers, type BufferPath, type ModelFrame, type SendData, type ServerFrame, type WidgetState } from './frames';
import { PendingSends, type PendingSend } from './pending';
import type { SocketState } from './socket';
import { sendRefusal } from './states';

/** An echo not back by then is given up on (the model may send again). */
export const ECHO_TIMEOUT_MS = 10_000;

export interface Transport {
  readonly state: SocketState;
  send(frame: { type: 'send'; ref: number; msg_id: string; comm_id: string; data: SendData }, buffers: readonly (ArrayBuffer | ArrayBufferView)[]): boolean;
}

/** What the channel tells the widget runtime. */
export interface ChannelListener {
  snapshot(models: ModelFrame[], canSend: boolean): void;
  opened(model: ModelFrame): void;
  closed(commId: string): void;
  dead(reason: string): void;
  /** A message was refused (here or by the server): say so near the widget. */
  refused(commId: string | null, reason: string): void;
}

function message(commId: string, data: unknown, buffers: DataView[], parentMsgId: string | null): CommMessage {
  return {
    header: { msg_id: newMsgId(), msg_type: 'comm_msg' },
    parent_header: parentMsgId === null ? {} : { msg_id: parentMsgId },
    metadata: {},
    content: { comm_id: commId, data },
    buffers,
    channel: 'iopub',
  };
}

/** The outgoing `data` if it is one a browser may send, else null. */
export function sendableData(data: unknown): SendData | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  if (d['method'] === 'update' && typeof d['state'] === 'object' && d['state'] !== null) {
    const paths = Array.isArray(d['buffer_paths']) ? (d['buffer_paths'] as BufferPath[]) : [];
    return { method: 'update', state: d['state'] as WidgetState, buffer_paths: paths };
  }
  if (d['method'] === 'custom') return { method: 'custom', content: d['content'] ?? null };
  return null;
}

export class WidgetChannel {
  private readonly comms = new Map<string, HuddleComm>();
  /** The server's word on each live model's state (its last snapshot and updates). */
  private readonly serverState = new Map<string, WidgetState>();
  private readonly pending = new PendingSends();
  private nextRef = 1;
  private canSend = false;
  private dead = false;
  private transport: Transport | null = null;
  private readonly sweep: ReturnType<typeof setInterval>;

  constructor(private readonly listener: ChannelListener, now: () => number = Date.now) {
    this.now = now;
    this.sweep = setInterval(() => this.expire(), ECHO_TIMEOUT_MS / 2);
  }

  private readonly now: () => number;

  attach(transport: Transport): void {
    this.transport = transport;
  }

  get maySend(): boolean {
    return this.canSend && !this.dead;
  }

  /** The comm for a live model (made on first use). */
  comm(commId: string, targetName = 'jupyter.widget'): HuddleComm {
    let comm = this.comms.get(commId);
    if (!comm) {
      comm = new HuddleComm(commId, targetName, this);
      this.comms.set(commId, comm);
    }
    return comm;
  }

  hasComm(commId: string): boolean {
    return this.comms.has(commId);
  }

  receive(frame: ServerFrame): void {
    switch (frame.type) {
      case 'snapshot':
        this.snapshot(frame.models, frame.canSend && frame.alive);
        return;
      case 'open':
        this.remember(frame.model.commId, frame.model.state);
        this.dead = false;
        this.listener.opened(frame.model);
        return;
      case 'update':
        this.update(frame);
        return;
      case 'custom':
        this.comms.get(frame.commId)?.deliver(message(frame.commId, { method: 'custom', content: frame.content }, frame.buffers, null));
        return;
      case 'close':
        this.forget(frame.commId);
        return;
      case 'dead':
        this.dead = true;
        for (const send of this.pending.drain()) this.putBack(send);
        this.serverState.clear();
        this.listener.dead(frame.reason);
        return;
      case 'refused': {
        const send = this.pending.refused(frame.ref);
        if (send) this.putBack(send);
        this.listener.refused(send?.commId ?? null, frame.reason);
      }
    }
  }

  private snapshot(models: ModelFrame[], canSend: boolean): void {
    this.canSend = canSend;
    this.dead = false;
    for (const send of this.pending.drain()) send.settle();
    this.serverState.clear();
    for (const model of models) this.remember(model.commId, model.state);
    // Comms of models the new snapshot no longer has stay with their (now dead) models.
    this.listener.snapshot(models, canSend);
  }

  private remember(commId: string, state: WidgetState): void {
    this.serverState.set(commId, { ...state });
  }

  private forget(commId: string): void {
    const comm = this.comms.get(commId);
    this.comms.delete(commId);
    this.serverState.delete(commId);
    comm?.closed(message(commId, {}, [], null));
    this.listener.closed(commId);
  }

  private update(frame: Extract<ServerFrame, { type: 'update' }>): void {
    const state = { ...frame.state };
    putBuffers(state, frame.bufferPaths, frame.buffers);
    const known = this.serverState.get(frame.commId);
    if (known) Object.assign(known, state);
    const mine = this.pending.echoed(frame.parentMsgId);
    this.comms.get(frame.commId)?.deliver(message(frame.commId,
      { method: frame.method, state: frame.state, buffer_paths: frame.bufferPaths }, frame.buffers, frame.parentMsgId));
    mine?.settle();
  }

  /** ipywidgets' model sends through its comm. */
  send(comm: HuddleComm, data: unknown, callbacks: ICallbacks | undefined, buffers: Buffers | undefined): string {
    const msgId = newMsgId();
    const ref = this.nextRef++;
    const sendable = sendableData(data);
    const keys = sendable?.method === 'update' ? Object.keys(sendable.state) : [];
    const send: PendingSend = { ref, msgId, commId: comm.comm_id, keys, sentAtMs: this.now(), settle: () => idle(callbacks, msgId) };
    const refusal = sendable === null ? 'Only widget updates and messages can be sent'
      : sendRefusal({ canSend: this.canSend, dead: this.dead, open: this.transport?.state === 'open' });
    const sent = refusal === null
      && this.transport!.send({ type: 'send', ref, msg_id: msgId, comm_id: comm.comm_id, data: sendable! }, buffers ?? []);
    if (sent) {
      this.pending.add(send);
    } else {
      // After the caller has recorded msgId as the echo it waits for.
      queueMicrotask(() => this.putBack(send));
      this.listener.refused(comm.comm_id, refusal ?? 'Not connected to the server');
    }
    return msgId;
  }

  /** A message that will get no echo: give the model the server's values of what it set
   * (under its own msg_id, so that ipywidgets stops waiting for the echo), and its idle. */
  private putBack(send: PendingSend): void {
    const known = this.serverState.get(send.commId);
    const state: WidgetState = {};
    for (const key of send.keys) if (known && key in known) state[key] = known[key];
    if (send.keys.length > 0) {
      this.comms.get(send.commId)?.deliver(message(send.commId, { method: 'echo_update', state, buffer_paths: [] }, [], send.msgId));
    }
    send.settle();
  }

  private expire(): void {
    for (const send of this.pending.expire(this.now(), ECHO_TIMEOUT_MS)) this.putBack(send);
  }

  /** The socket dropped: nothing pending will be answered. */
  disconnected(): void {
    for (const send of this.pending.drain()) this.putBack(send);
  }

  destroy(): void {
    clearInterval(this.sweep);
  }
}

/** ipywidgets' model counts a message as pending until the kernel says it is idle. */
function idle(callbacks: ICallbacks | undefined, msgId: string): void {
  const status = callbacks?.iopub?.['status'];
  if (!status) return;
  status({
    header: { msg_id: newMsgId(), msg_type: 'status' },
    parent_header: { msg_id: msgId },
    content: { execution_state: 'idle' },
    metadata: {},
    channel: 'iopub',
  } as never);
}
