/**
 * What the review view reads and asks: the threads in the shared document (the
 * `ThreadStore` of protocol/comments.ts), placed in the notebook; this user's capabilities
 * and who may be @mentioned; the open-thread counts the cells' marks use, cached until the
 * threads change; and the REST calls that change threads (every change goes through them).
 */
import type { YCodeCell, YNotebook } from '@jupyter/ydoc';
import * as Y from 'yjs';

import type { DocumentId } from '../../logic/ids';
import {
  mentionCandidates,
  isUnreadMention,
  openCounts,
  openOutputThreads,
  placeThreads,
  type MentionCandidate,
  type Placed,
  type Thread,
} from '../../logic/threads';
import { CommentsApi, ThreadStore, type Capabilities, type NewAnchor } from '../../protocol/comments';
import type { HttpClient } from '../../protocol/http';
import type { Collaborator } from '../../protocol/presence';
import { toast } from '../dom';
import type { ThreadActions } from './thread';

export interface ReviewSource {
  notebook: YNotebook;
  documentId: DocumentId;
  http: HttpClient;
  me: string;
  collaborators(): Collaborator[];
}

export class ReviewData {
  private readonly store: ThreadStore;
  private readonly api: CommentsApi;
  private access: Capabilities = { comment: true, edit: true, share: false };
  private serverUsers: MentionCandidate[] | null = null;
  /** Open threads per cell, until the threads change (a long notebook attaches many cells). */
  private counts: Map<string, number> | null = null;
  /** Open output threads per cell and output, likewise. */
  private outputThreads: Map<string, Map<number, Thread[]>> | null = null;
  private readonly markingRead = new Set<string>();

  /** `changed`: the threads changed, or what this user may do is known. */
  constructor(private readonly source: ReviewSource, private readonly changed: () => void) {
    this.store = new ThreadStore(source.notebook.ydoc);
    this.api = new CommentsApi(source.http, source.documentId);
    this.store.changed.on(() => {
      this.counts = null;
      this.outputThreads = null;
      changed();
    });
  }

  get caps(): Capabilities {
    return this.access;
  }

  async loadAccess(): Promise<void> {
    try {
      this.access = await this.api.capabilities();
    } catch {
      // Unknown: offer everything; the server refuses what is not allowed, with a reason.
    }
    if (this.access.share) void this.loadUsers(); // others may not list the server's users
    this.changed();
  }

  async loadUsers(): Promise<void> {
    try {
      this.serverUsers = await this.api.users();
    } catch {
      this.serverUsers = null; // the people in the room are offered instead
    }
  }

  /** Who may be @mentioned: the people here first, then everyone the server knows. */
  candidates(): MentionCandidate[] {
    return mentionCandidates(this.source.collaborators(), this.serverUsers, this.source.me);
  }

  all(): Thread[] {
    return this.store.all();
  }

  get(id: string): Thread | null {
    return this.store.get(id);
  }

  /** Every thread with where it is now in the notebook. */
  placed(): Placed[] {
    const cells = this.source.notebook.cells.map((cell) => ({
      id: cell.id,
      source: cell.ysource,
      outputs: cell.cell_type === 'code' ? (cell as YCodeCell).youtputs.length : 0,
      output: (index: number) => plainOutput((cell as YCodeCell).youtputs.get(index)),
      executionCount: cell.cell_type === 'code' ? (cell as YCodeCell).execution_count : null,
    }));
    return placeThreads(this.store.all(), cells);
  }

  openCounts(): Map<string, number> {
    return this.counts ??= openCounts(this.store.all());
  }

  openOutputThreads(): Map<string, Map<number, Thread[]>> {
    return this.outputThreads ??= openOutputThreads(this.store.all());
  }

  create(anchor: NewAnchor, body: string, suggestion: string | undefined): Promise<Record<string, unknown>> {
    return this.api.create(anchor, body, suggestion);
  }

  /** Mark the thread's mentions of me read (once at a time; a failure is shown). */
  markRead(thread: Thread): void {
    if (!isUnreadMention(thread, this.source.me) || this.markingRead.has(thread.id)) return;
    this.markingRead.add(thread.id);
    this.api.markRead(thread.id)
      .catch((err: unknown) => toast(`Could not mark the thread read: ${err instanceof Error ? err.message : String(err)}`, 'error'))
      .finally(() => this.markingRead.delete(thread.id));
  }

  /** What a thread's card may do; `select` makes it the thread you are on. */
  threadActions(select: (thread: Thread) => void): ThreadActions {
    const api = this.api;
    return {
      me: this.source.me,
      caps: () => this.access,
      candidates: () => this.candidates(),
      select,
      reply: (thread, body) => api.reply(thread.id, body),
      edit: (thread, messageId, body) => api.edit(thread.id, messageId, body),
      remove: (thread, messageId) => api.remove(thread.id, messageId),
      setStatus: (thread, status) => api.setStatus(thread.id, status),
      decide: (thread, decision) => api.decide(thread.id, decision),
    };
  }

  destroy(): void {
    this.store.destroy();
  }
}

/** An output of the shared document as JSON (a stream's text is a Y.Text in it). */
function plainOutput(value: unknown): Record<string, unknown> | undefined {
  const json: unknown = value instanceof Y.AbstractType ? value.toJSON() : value;
  return json && typeof json === 'object' ? json as Record<string, unknown> : undefined;
}
