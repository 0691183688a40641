/**
 * One notebook's live document: the collaboration session (`PUT
 * /api/collaboration/session/<path>`), a y-websocket connection to its room, and
 * `@jupyter/ydoc`'s `YNotebook` on top. Views get the model, typed presence and a status;
 * the wire format stays in here.
 */
import { YNotebook } from '@jupyter/ydoc';
import * as decoding from 'lib0/decoding';
import { WebsocketProvider } from 'y-websocket';
import type { Awareness } from 'y-protocols/awareness';

import { Emitter } from '../logic/emitter';
import { FilePath, notebookDocumentId, type DocumentId } from '../logic/ids';
import type { Presenter } from '../logic/present';
import { connectionStatus, RIGHTS_CHANGED_CLOSE, terminalClose, type ConnectionFacts, type ConnectionStatus } from '../logic/status';
import { parsePresenter } from './access';
import { apiUrl, type HttpClient } from './http';
import {
  ACTIVE_CELL_FIELD,
  parseCollaborators,
  parseServerPresence,
  serverHuddle,
  type Collaborator,
  type ServerPresence,
} from './presence';
import { encodeSaveRequest, MESSAGE_RAW, parseRaw, type RawNotice } from './raw';

/** A save request not answered by then (the socket dropped meanwhile) counts as failed. */
const SAVE_REPLY_TIMEOUT_MS = 30_000;

export type SaveOutcome = 'success' | 'failed' | 'offline';

export interface SessionModel {
  fileId: string;
  sessionId: string;
}

export interface LocalUser {
  username: string;
  name: string;
  display_name: string;
  initials: string;
  color: string;
  colorLight: string;
  /** 'identity' when the colour is the Jupyter identity's, 'auto' when the app picked it. */
  colorSource: 'identity' | 'auto';
  /** When this page joined (ms): who was first keeps a colour both would want. */
  joined: number;
}

export async function openSession(http: HttpClient, path: string): Promise<SessionModel> {
  const url = apiUrl(http.baseUrl, 'api/collaboration/session', FilePath.parse(path));
  return http.request<SessionModel>('PUT', url, { format: 'json', type: 'notebook' });
}

/** ws(s)://host<base>api/collaboration/room, for a page served from `location`. */
export function roomServerUrl(location: { protocol: string; host: string }, baseUrl: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${baseUrl}api/collaboration/room`;
}

export class NotebookRoom {
  readonly notebook: YNotebook;
  readonly documentId: DocumentId;
  readonly statusChanged = new Emitter<ConnectionStatus>();
  readonly presenceChanged = new Emitter<void>();
  readonly notices = new Emitter<RawNotice>();
  readonly stateChanged = new Emitter<void>();
  /** The server cut the socket because this user's rights changed (it reconnects by
   * itself): ask for the capabilities again. */
  readonly rightsChanged = new Emitter<void>();
  private readonly provider: WebsocketProvider;
  private facts: ConnectionFacts = {
    socket: 'connecting', synced: false, everSynced: false, online: true, terminal: null,
  };
  private readonly onOnline = (): void => this.update({ online: navigator.onLine });
  private syncedResolve: () => void = () => {};
  private saveId = 0;
  /** The client id of the server's own presence entry, as it last announced it (again on
   * every reconnect); null before: then there is no server presence at all. */
  private serverClient: number | null = null;
  private readonly pendingSaves = new Map<number, (status: SaveOutcome) => void>();
  readonly synced: Promise<void> = new Promise((resolve) => (this.syncedResolve = resolve));

  constructor(
    readonly path: string,
    readonly session: SessionModel,
    serverUrl: string,
  ) {
    // Also the room name in the socket URL: a file id of another shape opens nothing.
    this.documentId = notebookDocumentId(session.fileId);
    this.notebook = new YNotebook({ disableDocumentWideUndoRedo: true });
    this.facts.online = navigator.onLine;
    this.provider = new WebsocketProvider(serverUrl, this.documentId, this.notebook.ydoc, {
      awareness: this.notebook.awareness,
      params: { sessionId: session.sessionId },
      disableBc: true, // every tab goes through the server, which orders and persists
      maxBackoffTime: 5000,
    });
    this.provider.shouldReconnect = (event: CloseEvent) => terminalClose(event.code) === null;
    this.sendOnlyOwnPresence();
    this.provider.messageHandlers[MESSAGE_RAW] = (_encoder, decoder) => {
      const notice = parseRaw(decoding.readVarString(decoder));
      if (notice.type === 'save') this.pendingSaves.get(notice.responseTo)?.(notice.status);
      if (notice.type === 'server_presence') this.announced(notice.clientId);
      this.notices.emit(notice);
    };
    this.wire();
  }

  /**
   * y-websocket sends every presence change the awareness applies, other people's too; the
   * server relays presence itself, so in a class each change would come back to it once per
   * student. Only this client's own state goes out.
   */
  private sendOnlyOwnPresence(): void {
    type Changes = { added: number[]; updated: number[]; removed: number[] };
    const provider = this.provider as unknown as {
      _awarenessUpdateHandler?: (changes: Changes, origin: unknown) => void;
    };
    const send = provider._awarenessUpdateHandler;
    if (typeof send !== 'function') return; // another y-websocket: keep its behaviour
    const awareness = this.notebook.awareness;
    const own = awareness.clientID;
    awareness.off('update', send);
    const filtered = (changes: Changes, origin: unknown): void => {
      const mine = (ids: number[]) => ids.filter((id) => id === own);
      const kept = { added: mine(changes.added), updated: mine(changes.updated), removed: mine(changes.removed) };
      if (kept.added.length + kept.updated.length + kept.removed.length > 0) send(kept, origin);
    };
    awareness.on('update', filtered);
    this.unhookPresence = () => awareness.off('update', filtered);
  }

  private unhookPresence: () => void = () => {};

  private announced(clientId: number): void {
    if (clientId === this.serverClient) return;
    this.serverClient = clientId;
    this.presenceChanged.emit();
  }

  static async open(http: HttpClient, path: string, serverUrl: string): Promise<NotebookRoom> {
    return new NotebookRoom(path, await openSession(http, path), serverUrl);
  }

  private wire(): void {
    this.provider.on('status', ({ status }) => this.update({ socket: status }));
    this.provider.on('sync', (synced: boolean) => {
      if (synced && this.facts.everSynced) this.renewPresence();
      this.update(synced ? { synced, everSynced: true } : { synced });
      if (synced) this.syncedResolve();
    });
    this.provider.on('connection-close', (event: CloseEvent | null) => {
      const terminal = event ? terminalClose(event.code) : null;
      if (terminal) this.update({ terminal });
      if (event?.code === RIGHTS_CHANGED_CLOSE) this.rightsChanged.emit();
    });
    this.notebook.awareness.on('change', () => this.presenceChanged.emit());
    this.notebook.ystate.observe(() => this.stateChanged.emit());
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOnline);
  }

  /**
   * Back after a reconnect (a network blip, or close 4001 when rights change): when the
   * old socket closed, the others were sent this client's removal at its clock + 1, so
   * the state the provider re-sends at the old clock is ignored by them until its
   * 15-second renewal. Publish it at clock + 2 now, so that this person does not vanish
   * from everyone's people list.
   */
  private renewPresence(): void {
    const state = this.awareness.getLocalState();
    if (state === null) return;
    this.awareness.setLocalState({ ...state });
    this.awareness.setLocalState({ ...state });
  }

  private update(changes: Partial<ConnectionFacts>): void {
    const before = this.status;
    this.facts = { ...this.facts, ...changes };
    if (this.status !== before) this.statusChanged.emit(this.status);
  }

  get status(): ConnectionStatus {
    return connectionStatus(this.facts);
  }

  get awareness(): Awareness {
    return this.notebook.awareness;
  }

  get clientId(): number {
    return this.notebook.ydoc.clientID;
  }

  /** Whether the document has changes not yet saved to disk (the server's `state.dirty`). */
  get dirty(): boolean {
    return this.notebook.ystate.get('dirty') === true;
  }

  /** Why the last save failed (the server's `state.save_error`), or null once saved. */
  get saveError(): string | null {
    const error = this.notebook.ystate.get('save_error');
    return typeof error === 'string' && error ? error : null;
  }

  /** Ask the server to save now (Jupyter's RAW "save"); resolves with its answer. */
  requestSave(): Promise<SaveOutcome> {
    const ws = this.provider.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.provider.synced) return Promise.resolve('offline');
    const id = ++this.saveId;
    return new Promise<SaveOutcome>((resolve) => {
      const timer = setTimeout(() => done('failed'), SAVE_REPLY_TIMEOUT_MS);
      const done = (status: SaveOutcome): void => {
        clearTimeout(timer);
        this.pendingSaves.delete(id);
        resolve(status);
      };
      this.pendingSaves.set(id, done);
      ws.send(encodeSaveRequest(id));
    });
  }

  setUser(user: LocalUser): void {
    this.awareness.setLocalStateField('user', user);
  }

  setActiveCell(cellId: string | null): void {
    if (this.awareness.getLocalState()?.[ACTIVE_CELL_FIELD] !== cellId) {
      this.awareness.setLocalStateField(ACTIVE_CELL_FIELD, cellId);
    }
  }

  /** The client id of the server's own presence entry, or null before it said. */
  get serverClientId(): number | null {
    return this.serverClient;
  }

  collaborators(): Collaborator[] {
    return parseCollaborators(this.awareness.getStates(), this.clientId, this.serverClient);
  }

  /** Queue, runs and kernel: from the server's own entry only. */
  serverPresence(): ServerPresence {
    return parseServerPresence(this.awareness.getStates(), this.serverClient);
  }

  /** Whether the server's own entry has been heard (its fields are then real, not empty). */
  hasServerPresence(): boolean {
    return serverHuddle(this.awareness.getStates(), this.serverClient) !== null;
  }

  /** Who presents: from the server's own entry only. */
  presenter(): Presenter | null {
    return parsePresenter(this.awareness.getStates(), this.serverClient);
  }

  /** Drop the socket for a while (tests and the "go offline" control); edits are kept. */
  disconnect(): void {
    this.provider.disconnect();
  }

  connect(): void {
    this.provider.connect();
  }

  destroy(): void {
    for (const done of [...this.pendingSaves.values()]) done('offline');
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOnline);
    this.statusChanged.clear();
    this.presenceChanged.clear();
    this.notices.clear();
    this.stateChanged.clear();
    this.rightsChanged.clear();
    this.unhookPresence();
    this.provider.destroy();
    this.notebook.dispose();
  }
}
