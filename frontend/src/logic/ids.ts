/**
 * Ids that go into URLs, checked once against the exact shape the server issues and then
 * carried as a branded type: `apiUrl` takes only these (and file paths parsed here), so a
 * string from a document, from presence or from a reply cannot become a path segment
 * unchecked. A request id `../../contents/x` from a forged presence entry would otherwise
 * have sent `DELETE /api/contents/x` with the page's credentials.
 */

declare const brand: unique symbol;

/** Jupyter's kernel ids and jupyter_server_fileid's file ids: `str(uuid.uuid4())`. */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const PATTERNS = {
  // The kernel service's request ids (`uuid4().hex`), with room for longer hex ids.
  request: /^[0-9a-f]{1,64}$/,
  kernel: new RegExp(`^${UUID}$`),
  // Jupyter's session ids (`str(uuid.uuid4())`): changing a notebook's kernel.
  session: new RegExp(`^${UUID}$`),
  // A room: `{format}:{type}:{file id}`, of the two kinds the server serves.
  document: new RegExp(`^(?:json:notebook|text:file):${UUID}$`),
  // Review threads and their messages (`uuid4().hex`).
  thread: /^[0-9a-f]{32}$/,
  message: /^[0-9a-f]{32}$/,
  // Share links (`secrets.token_hex(8)`).
  link: /^[0-9a-f]{16}$/,
  // Version history: versions (18 hex digits, sortable by time) and undoable restores.
  version: /^[0-9a-f]{18}$/,
  restore: /^[0-9a-f]{16}$/,
  // nbformat's cell ids (they go into a query string: `.../blame?cell_id=`).
  cell: /^[A-Za-z0-9_-]{1,64}$/,
} as const;

export type IdKind = keyof typeof PATTERNS;
export type Id<K extends IdKind> = string & { readonly [brand]: K };
export type RequestId = Id<'request'>;
export type KernelId = Id<'kernel'>;
export type SessionId = Id<'session'>;
export type DocumentId = Id<'document'>;
export type ThreadId = Id<'thread'>;
export type MessageId = Id<'message'>;
export type LinkId = Id<'link'>;
export type VersionId = Id<'version'>;
export type RestoreId = Id<'restore'>;
export type CellId = Id<'cell'>;
export type AnyId = { [K in IdKind]: Id<K> }[IdKind];

/** An id (or path) that is not what the server issues: nothing is sent with it. */
export class InvalidId extends Error {
  constructor(readonly kind: string, value: unknown) {
    super(`refused ${kind} id ${JSON.stringify(String(value)).slice(0, 80)}: not of the form the server issues`);
    this.name = 'InvalidId';
  }
}

export function isId<K extends IdKind>(kind: K, raw: unknown): raw is Id<K> {
  return typeof raw === 'string' && PATTERNS[kind].test(raw);
}

/** `raw` as an id of `kind`.
 * @throws InvalidId when it does not match the kind's pattern. */
export function parseId<K extends IdKind>(kind: K, raw: unknown): Id<K> {
  if (isId(kind, raw)) return raw;
  throw new InvalidId(kind, raw);
}

/** The room of a notebook's file id (from the collaboration session's reply). */
export function notebookDocumentId(fileId: string): DocumentId {
  return parseId('document', `json:notebook:${fileId}`);
}

/** A path segment no browser or server may read as a step in the path. */
export function isDotSegment(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..';
}

/**
 * A file path of the contents API, split into its names: the one kind of URL part that
 * becomes several segments. The root is `''` (no names); `.`, `..` and empty names
 * (`a//b`, a leading or trailing `/`) are refused.
 */
export class FilePath {
  private constructor(readonly parts: readonly string[]) {}

  /** @throws InvalidId when a name is empty, `.` or `..`. */
  static parse(path: string): FilePath {
    if (path === '') return new FilePath([]);
    const parts = path.split('/');
    if (parts.some(isDotSegment)) throw new InvalidId('path', path);
    return new FilePath(parts);
  }

  toString(): string {
    return this.parts.join('/');
  }
}
