/**
 * Version history on the wire (docs/HISTORY.md, "REST API"): every route of
 * `/api/huddle/history/{document_id}`, its replies decoded into the typed shapes below
 * (unknown fields dropped, missing ones defaulted), through the app's HTTP client (XSRF,
 * `ApiError` with the server's reason). Version, restore and cell ids are checked against
 * the server's shapes before they go into a URL.
 */
import { parseId, type DocumentId, type RestoreId, type VersionId } from '../logic/ids';
import { apiUrl, type HttpClient, type UrlPart } from './http';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const count = (v: unknown): number => Math.max(0, Math.floor(num(v) ?? 0));
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Someone as the server stamped them; `username` is null for "changed on disk". */
export interface HistoryPerson {
  username: string | null;
  displayName: string;
}

export interface VersionSummary {
  added: number;
  deleted: number;
  changed: number;
  moved: number;
  outputsChanged: number;
  metadataChanged: number;
}

/** What a `restore` version restored: one cell (`cellId`, now at `index`) or the notebook. */
export interface Restored {
  versionId: string;
  cellId: string | null;
  index: number | null;
}

export interface Version {
  id: VersionId;
  /** Seconds since the epoch. */
  createdAt: number;
  /** opened, auto, named, before-restore, restore, undo, before-outside, closed, seen. */
  kind: string;
  name: string | null;
  /** Who changed the notebook since the version before. */
  authors: HistoryPerson[];
  summary: VersionSummary;
  /** disk, outputs, unattributed. */
  flags: string[];
  /** The server's words for a restore or an undo. */
  label: string | null;
  /** Who named, restored or undid. */
  by: HistoryPerson | null;
  restored: Restored | null;
}

export interface Listing {
  versions: Version[];
  /** Whether the live notebook differs from the newest version. */
  liveChanged: boolean;
  /** Who changed the live notebook since the newest version. */
  contributors: HistoryPerson[];
}

/** A version's nbformat notebook (cells as nbformat 4.5 dicts). */
export interface VersionNotebook {
  cells: Json[];
  metadata: Json;
}

export interface Preview {
  version: Version;
  notebook: VersionNotebook;
}

export interface RestoreResult {
  /** False when the live notebook (or cell) already was the version's: nothing to undo. */
  changed: boolean;
  restoreId: RestoreId | null;
  version: Version | null;
}

export type DiffStatus = 'added' | 'deleted' | 'moved' | 'changed' | 'same';
const STATUSES: readonly DiffStatus[] = ['added', 'deleted', 'moved', 'changed', 'same'];

/** One source line of a changed cell; `spans`: the changed characters (UTF-16 offsets). */
export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
  spans: [number, number][];
}

export interface OutputChanges {
  from: number;
  to: number;
  added: number;
  removed: number;
  changed: number;
}

export interface MetadataChanges {
  changed: boolean;
  keys: string[];
}

export interface DiffCell {
  id: string;
  status: DiffStatus;
  indexFrom: number | null;
  indexTo: number | null;
  cellType: string;
  /** Present where the source changed (added and deleted cells: every line). */
  source: DiffLine[] | null;
  outputs: OutputChanges | null;
  metadata: MetadataChanges | null;
  executionCount: [number | null, number | null] | null;
  cellTypeFrom: string | null;
}

/** One side of a diff: a version, or the live notebook (`id` "live"). */
export interface DiffSide {
  id: string;
  createdAt: number;
  kind: string | null;
  name: string | null;
}

export interface Diff {
  from: DiffSide;
  to: DiffSide;
  summary: VersionSummary;
  metadata: MetadataChanges;
  cells: DiffCell[];
}

export interface BlameLine {
  text: string;
  /** null: not known (from the file as first opened, or lost in a crash). */
  author: HistoryPerson | null;
  /** Seconds since the epoch, or null when not known. */
  at: number | null;
}

export interface SeenMark {
  versionId: string;
  seenAt: number;
  exact: boolean;
}

export interface ChangedCell {
  id: string;
  change: string;
  /** Who wrote lines of it after the look. */
  by: HistoryPerson[];
}

export interface Changes {
  /** The last look, or null when this person never looked. */
  since: SeenMark | null;
  cells: ChangedCell[];
  deleted: number;
}

// --- decoding ---------------------------------------------------------------------------------

export function parsePerson(raw: unknown): HistoryPerson | null {
  if (!isObject(raw)) return null;
  const username = str(raw['username']);
  const displayName = str(raw['display_name']) || username;
  return displayName ? { username, displayName } : null;
}

const people = (raw: unknown): HistoryPerson[] => list(raw).map(parsePerson).filter((p): p is HistoryPerson => p !== null);

export function parseSummary(raw: unknown): VersionSummary {
  const s = isObject(raw) ? raw : {};
  return {
    added: count(s['added']), deleted: count(s['deleted']), changed: count(s['changed']), moved: count(s['moved']),
    outputsChanged: count(s['outputs_changed']), metadataChanged: count(s['metadata_changed']),
  };
}

function parseRestored(raw: unknown): Restored | null {
  if (!isObject(raw) || typeof raw['version_id'] !== 'string') return null;
  return { versionId: raw['version_id'], cellId: str(raw['cell_id']), index: num(raw['index']) };
}

/** A version as listed (also the RAW `history` message's); null if it has no valid id. */
export function parseVersion(raw: unknown): Version | null {
  if (!isObject(raw)) return null;
  let id: VersionId;
  try {
    id = parseId('version', raw['id']);
  } catch {
    return null;
  }
  return {
    id,
    createdAt: num(raw['created_at']) ?? 0,
    kind: str(raw['kind']) ?? 'auto',
    name: str(raw['name']),
    authors: people(raw['authors']),
    summary: parseSummary(raw['summary']),
    flags: list(raw['flags']).filter((f): f is string => typeof f === 'string'),
    label: str(raw['label']),
    by: parsePerson(raw['by']),
    restored: parseRestored(raw['restored']),
  };
}

export function parseListing(raw: unknown): Listing {
  const v = isObject(raw) ? raw : {};
  return {
    versions: list(v['versions']).map(parseVersion).filter((x): x is Version => x !== null),
    liveChanged: v['live_changed'] === true,
    contributors: people(v['contributors']),
  };
}

function parseNotebook(raw: unknown): VersionNotebook {
  const nb = isObject(raw) ? raw : {};
  return { cells: list(nb['cells']).filter(isObject), metadata: isObject(nb['metadata']) ? nb['metadata'] : {} };
}

function parseSpans(raw: unknown): [number, number][] {
  return list(raw).flatMap((span) => {
    const [a, b] = list(span).map(num);
    return a != null && b != null && b >= a ? [[a, b] as [number, number]] : [];
  });
}

function parseLine(raw: unknown): DiffLine | null {
  if (!isObject(raw) || typeof raw['text'] !== 'string') return null;
  const op = raw['op'] === '-' || raw['op'] === '+' ? raw['op'] : ' ';
  return { op, text: raw['text'], spans: parseSpans(raw['spans']) };
}

function parseMetadataChanges(raw: unknown): MetadataChanges {
  const m = isObject(raw) ? raw : {};
  return { changed: m['changed'] === true, keys: list(m['keys']).filter((k): k is string => typeof k === 'string') };
}

function parseOutputs(raw: unknown): OutputChanges | null {
  if (!isObject(raw)) return null;
  return { from: count(raw['from']), to: count(raw['to']), added: count(raw['added']), removed: count(raw['removed']), changed: count(raw['changed']) };
}

export function parseDiffCell(raw: unknown): DiffCell | null {
  if (!isObject(raw) || typeof raw['id'] !== 'string') return null;
  const status = STATUSES.find((s) => s === raw['status']) ?? 'changed';
  const counts = Array.isArray(raw['execution_count']) ? raw['execution_count'] : null;
  return {
    id: raw['id'],
    status,
    indexFrom: num(raw['index_from']),
    indexTo: num(raw['index_to']),
    cellType: str(raw['cell_type']) ?? 'code',
    source: Array.isArray(raw['source']) ? raw['source'].map(parseLine).filter((l): l is DiffLine => l !== null) : null,
    outputs: parseOutputs(raw['outputs']),
    metadata: isObject(raw['metadata']) ? parseMetadataChanges(raw['metadata']) : null,
    executionCount: counts ? [num(counts[0]), num(counts[1])] : null,
    cellTypeFrom: str(raw['cell_type_from']),
  };
}

function parseSide(raw: unknown): DiffSide {
  const s = isObject(raw) ? raw : {};
  return { id: str(s['id']) ?? 'live', createdAt: num(s['created_at']) ?? 0, kind: str(s['kind']), name: str(s['name']) };
}

export function parseDiff(raw: unknown): Diff {
  const d = isObject(raw) ? raw : {};
  return {
    from: parseSide(d['from']),
    to: parseSide(d['to']),
    summary: parseSummary(d['summary']),
    metadata: parseMetadataChanges(d['metadata']),
    cells: list(d['cells']).map(parseDiffCell).filter((c): c is DiffCell => c !== null),
  };
}

/** `{cells: {cell_id: [{text, author, at}]}}`: each cell's lines. */
export function parseBlame(raw: unknown): Map<string, BlameLine[]> {
  const cells = isObject(raw) && isObject(raw['cells']) ? raw['cells'] : {};
  const blame = new Map<string, BlameLine[]>();
  for (const [id, lines] of Object.entries(cells)) {
    blame.set(id, list(lines).filter(isObject).map((line) => ({
      text: str(line['text']) ?? '',
      author: parsePerson(line['author']),
      at: num(line['at']),
    })));
  }
  return blame;
}

export function parseSeenMark(raw: unknown): SeenMark | null {
  if (!isObject(raw) || typeof raw['version_id'] !== 'string') return null;
  return { versionId: raw['version_id'], seenAt: num(raw['seen_at']) ?? 0, exact: raw['exact'] === true };
}

export function parseChanges(raw: unknown): Changes {
  const c = isObject(raw) ? raw : {};
  return {
    since: parseSeenMark(c['since']),
    cells: list(c['cells']).filter(isObject).flatMap((cell) => typeof cell['id'] === 'string'
      ? [{ id: cell['id'], change: str(cell['change']) ?? 'changed', by: people(cell['by']) }] : []),
    deleted: count(c['deleted']),
  };
}

// --- the routes ---------------------------------------------------------------------------------

/** `live`, or a version id checked against the server's shape. */
export type DiffEnd = VersionId | 'live';

/** `live` or a version id, checked (a string from a form or a reply is not trusted). */
function endParam(end: string): string {
  return end === 'live' ? 'live' : parseId('version', end);
}

/** The history API of one notebook. Failures are `ApiError`s carrying the server's reason. */
export class HistoryApi {
  constructor(
    private readonly http: HttpClient,
    readonly documentId: DocumentId,
  ) {}

  private url(...parts: UrlPart[]): string {
    return apiUrl(this.http.baseUrl, 'api/huddle/history', this.documentId, ...parts);
  }

  private version(id: string, ...parts: UrlPart[]): string {
    return this.url('versions', parseId('version', id), ...parts);
  }

  /** Every kept version, newest first. */
  async list(): Promise<Listing> {
    return parseListing(await this.http.request('GET', this.url()));
  }

  /** Record the live notebook as a named version (needs edit). */
  async name(name: string): Promise<Version> {
    return this.required(await this.http.request('POST', this.url(), { name }));
  }

  /** Name a recorded version, or (`null`) remove its name (needs edit). */
  async rename(versionId: string, name: string | null): Promise<Version> {
    return this.required(await this.http.request('PATCH', this.version(versionId), { name }));
  }

  /** A version and its notebook, to show read-only. */
  async preview(versionId: string): Promise<Preview> {
    const reply = await this.http.request<Json>('GET', this.version(versionId));
    return { version: this.required(reply?.['version']), notebook: parseNotebook(reply?.['notebook']) };
  }

  /** Restore the notebook, or one cell, to a version, as your edit (needs edit). */
  async restore(versionId: string, cellId?: string): Promise<RestoreResult> {
    const body = cellId === undefined ? {} : { cell_id: parseId('cell', cellId) };
    const reply = await this.http.request<Json>('POST', this.version(versionId, 'restore'), body);
    const token = reply?.['restore_id'];
    return {
      changed: reply?.['changed'] === true,
      restoreId: typeof token === 'string' ? parseId('restore', token) : null,
      version: parseVersion(reply?.['version']),
    };
  }

  /** Take back a restore you made. */
  async undo(restoreId: string): Promise<Version | null> {
    const reply = await this.http.request<Json>('POST', this.url('restores', parseId('restore', restoreId), 'undo'), {});
    return parseVersion(reply?.['version']);
  }

  /** What changed from one version (or live) to another. */
  async diff(from: string, to: string): Promise<Diff> {
    const query = `?from=${endParam(from)}&to=${endParam(to)}`;
    return parseDiff(await this.http.request('GET', this.url('diff') + query));
  }

  /** Each line's last author: of one cell, or (no `cellId`) of every cell; live, or as a
   * version recorded it. */
  async blame(cellId?: string, version = 'live'): Promise<Map<string, BlameLine[]>> {
    const query = new URLSearchParams({ version: endParam(version) });
    if (cellId !== undefined) query.set('cell_id', parseId('cell', cellId));
    return parseBlame(await this.http.request('GET', `${this.url('blame')}?${query.toString()}`));
  }

  /** The cells changed since you last looked. */
  async changes(): Promise<Changes> {
    return parseChanges(await this.http.request('GET', this.url('changes')));
  }

  /** You have looked at the notebook as it is now; `keepalive` when the page is going. */
  async seen(keepalive = false): Promise<SeenMark | null> {
    return parseSeenMark(await this.http.request('POST', this.url('seen'), {}, { keepalive }));
  }

  private required(raw: unknown): Version {
    const version = parseVersion(raw);
    if (!version) throw new Error('the server answered without a version');
    return version;
  }
}
