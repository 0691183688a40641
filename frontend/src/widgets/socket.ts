/**
 * The widget websocket (`/api/huddle/widgets/{document_id}`): opened with the page's
 * login or share-link cookie like the room socket, reconnected with backoff, frames
 * decoded and checked (frames.ts) before anyone sees them. When the first attempt fails
 * before opening, a plain GET on the same path tells a server without widgets (404) from
 * one that is down: then the page stays with the text fallback.
 */
import { decodeFrame, encodeFrame, FrameError } from './codec';
import { parseServerFrame, type SendFrame, type ServerFrame } from './frames';

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** After close 1008 (this page flooded the server) wait longer before coming back. */
const POLICY_CLOSE = 1008;
const BACKOFF_AFTER_POLICY_MS = 15_000;

export type SocketState = 'connecting' | 'open' | 'closed' | 'disabled';

export interface SocketListener {
  frame(frame: ServerFrame): void;
  state(state: SocketState): void;
}

export class WidgetSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private everOpened = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private current: SocketState = 'connecting';

  constructor(
    private readonly urls: { ws: string; http: string },
    private readonly listener: SocketListener,
  ) {}

  get state(): SocketState {
    return this.current;
  }

  start(): void {
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(this.urls.ws);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.everOpened = true;
      this.attempt = 0;
      this.setState('open');
    };
    socket.onmessage = (event: MessageEvent) => this.received(event.data);
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState('closed');
      void this.closed(opened, event.code);
    };
  }

  private async closed(opened: boolean, code: number): Promise<void> {
    if (this.stopped) return;
    if (!opened && !this.everOpened && (await this.routeMissing())) {
      this.setState('disabled');
      return;
    }
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++);
    const delay = code === POLICY_CLOSE ? Math.max(backoff, BACKOFF_AFTER_POLICY_MS) : backoff;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.setState('connecting');
      this.start();
    }, delay * (0.75 + Math.random() * 0.5));
  }

  /** Whether the server has no widget route at all (widgets off): 404 on a plain GET. */
  private async routeMissing(): Promise<boolean> {
    try {
      const response = await fetch(this.urls.http, { credentials: 'same-origin', cache: 'no-store' });
      return response.status === 404;
    } catch {
      return false; // the server is unreachable: retry the socket
    }
  }

  private received(data: unknown): void {
    let frame: ServerFrame | null;
    if (typeof data === 'string') {
      frame = parseServerFrame(data);
    } else if (data instanceof ArrayBuffer) {
      try {
        const { text, buffers } = decodeFrame(data);
        frame = parseServerFrame(text, buffers);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        console.warn(`widgets: a binary frame was ignored (${err.message})`);
        return;
      }
    } else {
      return;
    }
    if (frame) this.listener.frame(frame);
  }

  /** Sends `frame` (binary when it has buffers); false when the socket is not open. */
  send(frame: SendFrame, buffers: readonly (ArrayBuffer | ArrayBufferView)[]): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(buffers.length > 0 ? encodeFrame(frame, buffers) : JSON.stringify(frame));
    return true;
  }

  private setState(state: SocketState): void {
    if (state === this.current) return;
    this.current = state;
    this.listener.state(state);
  }

  destroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
  }
}
