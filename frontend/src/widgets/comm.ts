/**
 * One widget comm as ipywidgets sees it (its `IClassicComm`), over the page's widget
 * socket instead of a kernel connection. Browsers never open or close comms (the kernel
 * does): `open` and `close` do nothing but say so. `send` hands the message to the
 * channel, which refuses it locally or gives it a browser msg_id that the kernel's echo
 * will carry back as `parent_msg_id`.
 */
import type { ICallbacks, IClassicComm } from '@jupyter-widgets/base';

export type Buffers = ArrayBuffer[] | ArrayBufferView[];

/** What a comm needs from the channel. */
export interface CommSender {
  /** Sends `data` on `comm`; the message id ipywidgets will see echoed. */
  send(comm: HuddleComm, data: unknown, callbacks: ICallbacks | undefined, buffers: Buffers | undefined): string;
}

/** A kernel message as ipywidgets' model reads it (only the fields it reads). */
export interface CommMessage {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  metadata: Record<string, unknown>;
  content: { comm_id: string; data: unknown };
  buffers: DataView[];
  channel: 'iopub';
}

export class HuddleComm implements IClassicComm {
  private onMsg: ((msg: CommMessage) => void) | null = null;
  private onClose: ((msg: CommMessage) => void) | null = null;

  constructor(
    readonly comm_id: string,
    readonly target_name: string,
    private readonly sender: CommSender,
  ) {}

  open(): string {
    console.warn('widgets: the page does not open comms (the kernel does)');
    return '';
  }

  send(data: unknown, callbacks?: ICallbacks, _metadata?: unknown, buffers?: Buffers): string {
    return this.sender.send(this, data, callbacks, buffers);
  }

  /** The model closes its comm when it is closed here (a page going away): nothing goes
   * to the kernel, whose widget other people still use. */
  close(): string {
    return '';
  }

  on_msg(callback: (msg: CommMessage) => void): void {
    this.onMsg = callback;
  }

  on_close(callback: (msg: CommMessage) => void): void {
    this.onClose = callback;
  }

  /** A message from the kernel (through the server) to this comm's model. */
  deliver(msg: CommMessage): void {
    this.onMsg?.(msg);
  }

  /** The kernel closed the comm. */
  closed(msg: CommMessage): void {
    this.onClose?.(msg);
  }
}
