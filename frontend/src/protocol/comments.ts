/**
 * Review threads on the wire: the `comments` root of the notebook's Y.Doc (written only by
 * the server; this side reads it) decoded into `logic/threads` types, and the REST API
 * that changes them (`/api/huddle/comments/…`, README "Review threads").
 */
import * as Y from 'yjs';

import { Emitter } from '../logic/emitter';
import type { Anchor, AnchorKind, Author, Message, Suggestion, Thread } from '../logic/threads';
import { handleOf, type MentionCandidate } from '../logic/threads';
import { parseId, type DocumentId } from '../logic/ids';
import { ApiError, apiUrl, type HttpClient, type UrlPart } from './http';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
/** A nested value as plain JSON, whether the server stored it as JSON or as a shared type. */
const plain = (v: unknown): unknown => (v instanceof Y.AbstractType ? v.toJSON() : v);

export function parseAuthor(raw: unknown): Author {
  const a = isObject(raw) ? raw : {};
  const username = str(a['username'], 'unknown');
  return { username, displayName: str(a['display_name']) || username, color: typeof a['color'] === 'string' ? a['color'] : null };
}

function parseAnchor(raw: unknown): Anchor {
  const a = isObject(raw) ? raw : {};
  const kind: AnchorKind = a['kind'] === 'text' || a['kind'] === 'output' ? a['kind'] : 'cell';
  return {
    cellId: str(a['cell_id']),
    kind,
    quote: str(a['quote']),
    start: a['start'] ?? null,
    end: a['end'] ?? null,
    outputIndex: typeof a['output_index'] === 'number' ? a['output_index'] : null,
  };
}

function parseMessage(raw: unknown): Message | null {
  if (!isObject(raw) || typeof raw['id'] !== 'string') return null;
  return {
    id: raw['id'],
    author: parseAuthor(raw['author']),
    body: str(raw['body']),
    created: num(raw['created']),
    edited: typeof raw['edited'] === 'number' ? raw['edited'] : null,
  };
}

function parseSuggestion(raw: unknown): Suggestion | null {
  if (!isObject(raw) || typeof raw['text'] !== 'string') return null;
  const state = raw['state'] === 'accepted' || raw['state'] === 'rejected' ? raw['state'] : 'open';
  return { text: raw['text'], state, decidedBy: isObject(raw['decided_by']) ? parseAuthor(raw['decided_by']) : null };
}

/** One thread from its JSON (a thread map's `toJSON()`, or the REST API's answer). */
export function parseThread(id: string, raw: unknown): Thread | null {
  if (!isObject(raw)) return null;
  const messages = plain(raw['messages']);
  return {
    id: str(raw['id'], id),
    anchor: parseAnchor(plain(raw['anchor'])),
    status: raw['status'] === 'resolved' ? 'resolved' : 'open',
    created: num(raw['created']),
    author: parseAuthor(plain(raw['author'])),
    resolvedBy: isObject(plain(raw['resolved_by'])) ? parseAuthor(plain(raw['resolved_by'])) : null,
    mentions: strings(plain(raw['mentions'])),
    readBy: strings(plain(raw['read_by'])),
    suggestion: parseSuggestion(plain(raw['suggestion'])),
    messages: Array.isArray(messages) ? messages.map(parseMessage).filter((m): m is Message => m !== null) : [],
  };
}

/**
 * The threads of one notebook, live: decoded from the Y.Doc's `comments` root, re-decoding
 * only the threads a change touched. `changed` fires once per transaction that touched it.
 */
export class ThreadStore {
  readonly changed = new Emitter<void>();
  private readonly root: Y.Map<unknown>;
  private readonly threads = new Map<string, Thread>();
  private readonly onChange = (events: Y.YEvent<Y.AbstractType<unknown>>[]): void => {
    const touched = new Set<string>();
    for (const event of events) {
      if (event.target === this.root) for (const key of event.keys.keys()) touched.add(key);
      else if (typeof event.path[0] === 'string') touched.add(event.path[0]);
    }
    for (const id of touched) this.decode(id);
    this.changed.emit();
  };

  constructor(doc: Y.Doc) {
    this.root = doc.getMap('comments');
    for (const id of this.root.keys()) this.decode(id);
    this.root.observeDeep(this.onChange);
  }

  private decode(id: string): void {
    const value = this.root.get(id);
    const thread = value instanceof Y.Map ? parseThread(id, value.toJSON()) : null;
    if (thread) this.threads.set(id, thread);
    else this.threads.delete(id);
  }

  all(): Thread[] {
    return [...this.threads.values()];
  }

  get(id: string): Thread | null {
    return this.threads.get(id) ?? null;
  }

  destroy(): void {
    this.root.unobserveDeep(this.onChange);
    this.changed.clear();
  }
}

export interface NewAnchor {
  cell_id: string;
  kind: AnchorKind;
  start?: number;
  end?: number;
  output_index?: number;
}

/** What the user may do on this notebook (`GET /api/huddle/access/…`). */
export interface Capabilities {
  comment: boolean;
  edit: boolean;
  /** Owners: they may also list everyone the server knows (for @mentions). */
  share: boolean;
}

/** The review API of one notebook. Failures are `ApiError`s carrying the server's reason;
 * a thread or message id that is not the server's shape throws `InvalidId` unsent (they come
 * from the shared document, which a peer could have shaped). */
export class CommentsApi {
  constructor(
    private readonly http: HttpClient,
    readonly documentId: DocumentId,
  ) {}

  private url(...parts: UrlPart[]): string {
    return apiUrl(this.http.baseUrl, 'api/huddle/comments', this.documentId, ...parts);
  }

  private thread(threadId: string, ...parts: UrlPart[]): string {
    return this.url(parseId('thread', threadId), ...parts);
  }

  create(anchor: NewAnchor, body: string, suggestion?: string): Promise<Json> {
    return this.http.request('POST', this.url(), suggestion === undefined ? { anchor, body } : { anchor, body, suggestion });
  }

  async reply(threadId: string, body: string): Promise<Json> {
    return this.http.request('POST', this.thread(threadId, 'messages'), { body });
  }

  async edit(threadId: string, messageId: string, body: string): Promise<Json> {
    return this.http.request('PATCH', this.thread(threadId, 'messages', parseId('message', messageId)), { body });
  }

  async remove(threadId: string, messageId: string): Promise<null> {
    return this.http.request('DELETE', this.thread(threadId, 'messages', parseId('message', messageId)));
  }

  async setStatus(threadId: string, status: 'open' | 'resolved'): Promise<Json> {
    return this.http.request('POST', this.thread(threadId, 'status'), { status });
  }

  async decide(threadId: string, decision: 'accept' | 'reject'): Promise<Json> {
    return this.http.request('POST', this.thread(threadId, 'suggestion'), { decision });
  }

  async markRead(threadId: string): Promise<null> {
    return this.http.request('POST', this.thread(threadId, 'read'));
  }

  /** Everyone the server knows who has access to this notebook, for @mentions; null when this user may not list them
   * (only owners may: then the people in the room are offered instead). */
  async users(): Promise<MentionCandidate[] | null> {
    try {
      // Only those who have access to this notebook: a mention of anyone else reaches nobody.
      const url = `${apiUrl(this.http.baseUrl, 'api/huddle/users')}?document_id=${encodeURIComponent(this.documentId)}`;
      const reply = await this.http.request<{ users?: unknown }>('GET', url);
      return parseUsers(reply?.users);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return null;
      throw err;
    }
  }

  /** The user's capabilities on this notebook. */
  async capabilities(): Promise<Capabilities> {
    const reply = await this.http.request<{ capabilities?: unknown }>('GET', apiUrl(this.http.baseUrl, 'api/huddle/access', this.documentId));
    const caps = strings(reply?.capabilities);
    return { comment: caps.includes('comment'), edit: caps.includes('edit'), share: caps.includes('share') };
  }
}

export function parseUsers(raw: unknown): MentionCandidate[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((u) => {
    const username = str(u['username']);
    const displayName = str(u['display_name']) || username;
    return { username, displayName, handle: str(u['handle']) || handleOf(displayName) || handleOf(username) };
  }).filter((u) => u.username);
}
