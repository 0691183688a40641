/**
 * Huddle's sharing routes (README "Sharing, roles and classroom"): your capabilities on a
 * notebook, share links, hand-overs (grants), presenting, personal copies, and the
 * notebook's kernel for people without Jupyter's sessions API. Also the presenter named
 * in the room's server presence (`huddle.presenter`).
 */
import type { Presenter } from '../logic/present';
import { parseCapabilities, type Capability, type Grant, type LinkInfo } from '../logic/roles';
import { apiUrl, type HttpClient } from './http';

export interface Access {
  role: string | null;
  capabilities: Set<Capability>;
  guest: boolean;
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
  documentId: string;
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

/** The presenter in the room's server presence (the state with a `huddle` object). */
export function parsePresenter(states: Map<number, unknown>): Presenter | null {
  for (const state of states.values()) {
    if (!isObject(state) || !isObject(state['huddle'])) continue;
    const p = state['huddle']['presenter'];
    if (!isObject(p) || typeof p['username'] !== 'string') return null;
    const name = typeof p['name'] === 'string' && p['name'] ? p['name'] : p['username'];
    return { username: p['username'], name, since: num(p['since']) ?? 0 };
  }
  return null;
}

export class AccessApi {
  constructor(private readonly http: HttpClient) {}

  private url(...segments: string[]): string {
    return apiUrl(this.http.baseUrl, ...segments);
  }

  async access(documentId: string): Promise<Access> {
    return parseAccess(await this.http.request<unknown>('GET', this.url('api/huddle/access', documentId)));
  }

  async links(documentId: string): Promise<LinkList> {
    return parseLinkList(await this.http.request<unknown>('GET', this.url('api/huddle/links', documentId)));
  }

  async createLink(documentId: string, body: object): Promise<CreatedLink> {
    const reply = await this.http.request<Json>('POST', this.url('api/huddle/links', documentId), body);
    const link = parseLink(reply['link']);
    if (!link || typeof reply['url'] !== 'string') throw new Error('the server sent no link');
    return { link, url: reply['url'] };
  }

  async revokeLink(documentId: string, linkId: string): Promise<void> {
    await this.http.request<unknown>('DELETE', this.url('api/huddle/links', documentId, linkId));
  }

  /** Raise `username`'s role for `seconds`; role null takes a running grant back. */
  async grant(documentId: string, username: string, role: string | null, seconds: number): Promise<void> {
    await this.http.request<unknown>('POST', this.url('api/huddle/grants', documentId), { username, role, seconds });
  }

  async present(documentId: string, on: boolean): Promise<void> {
    await this.http.request<unknown>('POST', this.url('api/huddle/present', documentId), { on });
  }

  async copy(documentId: string): Promise<Copy> {
    const reply = await this.http.request<Json>('POST', this.url('api/huddle/copies', documentId));
    if (typeof reply['url'] !== 'string' || typeof reply['path'] !== 'string') throw new Error('the server made no copy');
    return { path: reply['path'], documentId: String(reply['document_id'] ?? ''), url: reply['url'] };
  }
}
