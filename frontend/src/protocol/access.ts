/**
 * Huddle's sharing routes (README "Sharing, roles and classroom"): your capabilities on a
 * notebook, share links, hand-overs (grants), presenting, personal copies, and the
 * notebook's kernel for people without Jupyter's sessions API. Also the presenter named
 * in the room's server presence (`huddle.presenter`).
 */
import type { Presenter } from '../logic/present';
import { parseCapabilities, type Capability, type Grant, type LinkInfo } from '../logic/roles';
import { parseId, type DocumentId } from '../logic/ids';
import { apiUrl, type HttpClient } from './http';
import { serverHuddle } from './presence';

export interface Access {
  role: string | null;
  capabilities: Set<Capability>;
  guest: boolean;
  /** Whether the server lets this person make a personal copy (guests: `guest_copies`). */
  copy: boolean;
}

export interface LinkList {
  links: LinkInfo[];
  grants: Map<string, Grant>;
}

export interface CreatedLink {
  link: LinkInfo;
  url: string;
}

export interface Copy {
  path: string;
  url: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function parseAccess(raw: unknown): Access {
  const v = isObject(raw) ? raw : {};
  return {
    role: typeof v['role'] === 'string' ? v['role'] : null,
    capabilities: parseCapabilities(v['capabilities']),
    guest: v['guest'] === true,
    copy: v['copy'] === true,
  };
}

export function parseLink(raw: unknown): LinkInfo | null {
  if (!isObject(raw) || typeof raw['id'] !== 'string') return null;
  return {
    id: raw['id'],
    role: typeof raw['role'] === 'string' ? raw['role'] : 'viewer',
    label: typeof raw['label'] === 'string' ? raw['label'] : '',
    uses: num(raw['uses']) ?? 0,
    maxUses: num(raw['max_uses']),
    created: num(raw['created']) ?? 0,
    expiresAt: num(raw['expires_at']),
    revokedAt: num(raw['revoked_at']),
  };
}

export function parseLinkList(raw: unknown): LinkList {
  const v = isObject(raw) ? raw : {};
  const links = (Array.isArray(v['links']) ? v['links'] : []).map(parseLink).filter((l): l is LinkInfo => l !== null);
  const grants = new Map<string, Grant>();
  if (isObject(v['grants'])) {
    for (const [username, g] of Object.entries(v['grants'])) {
      if (isObject(g) && typeof g['role'] === 'string' && num(g['until']) !== null) {
        grants.set(username, { role: g['role'], until: num(g['until'])! });
      }
    }
  }
  return { links: links.sort((a, b) => b.created - a.created), grants };
}

/** The presenter in the room's server presence: the `huddle.presenter` of the server's
 * own entry (`serverClientId`, as announced), never of a state that claims to be it. */
export function parsePresenter(states: Map<number, unknown>, serverClientId: number | null): Presenter | null {
  const p = serverHuddle(states, serverClientId)?.['presenter'];
  if (!isObject(p) || typeof p['username'] !== 'string') return null;
  const name = typeof p['name'] === 'string' && p['name'] ? p['name'] : p['username'];
  return { username: p['username'], name, since: num(p['since']) ?? 0 };
}

export class AccessApi {
  constructor(private readonly http: HttpClient) {}

  async access(documentId: DocumentId): Promise<Access> {
    return parseAccess(await this.http.request<unknown>('GET', apiUrl(this.http.baseUrl, 'api/huddle/access', documentId)));
  }

  async links(documentId: DocumentId): Promise<LinkList> {
    return parseLinkList(await this.http.request<unknown>('GET', apiUrl(this.http.baseUrl, 'api/huddle/links', documentId)));
  }

  async createLink(documentId: DocumentId, body: object): Promise<CreatedLink> {
    const reply = await this.http.request<Json>('POST', apiUrl(this.http.baseUrl, 'api/huddle/links', documentId), body);
    const link = parseLink(reply['link']);
    if (!link || typeof reply['url'] !== 'string') throw new Error('the server sent no link');
    return { link, url: reply['url'] };
  }

  async revokeLink(documentId: DocumentId, linkId: string): Promise<void> {
    const url = apiUrl(this.http.baseUrl, 'api/huddle/links', documentId, parseId('link', linkId));
    await this.http.request<unknown>('DELETE', url);
  }

  /** Raise `username`'s role for `seconds`; role null takes a running grant back. The
   * username goes in the body, never in the URL. */
  async grant(documentId: DocumentId, username: string, role: string | null, seconds: number): Promise<void> {
    await this.http.request<unknown>('POST', apiUrl(this.http.baseUrl, 'api/huddle/grants', documentId), { username, role, seconds });
  }

  async present(documentId: DocumentId, on: boolean): Promise<void> {
    await this.http.request<unknown>('POST', apiUrl(this.http.baseUrl, 'api/huddle/present', documentId), { on });
  }

  async copy(documentId: DocumentId): Promise<Copy> {
    const reply = await this.http.request<Json>('POST', apiUrl(this.http.baseUrl, 'api/huddle/copies', documentId));
    if (typeof reply['url'] !== 'string' || typeof reply['path'] !== 'string') throw new Error('the server made no copy');
    return { path: reply['path'], url: reply['url'] };
  }
}
