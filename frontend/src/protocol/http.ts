/**
 * The one place that talks HTTP to the Jupyter server: JSON in and out, the XSRF header
 * for unsafe methods, and errors turned into `ApiError` with the server's message.
 */
import { FilePath, InvalidId, isDotSegment, type AnyId } from '../logic/ids';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The value of cookie `name` in a `document.cookie` string, or null. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** Every API route this app calls: the fixed start of its URLs. */
export type ApiRoute =
  | 'api/me' | 'api/sessions' | 'api/kernelspecs' | 'api/contents' | 'api/collaboration/session' | 'api/kernels'
  | 'api/huddle/access' | 'api/huddle/links' | 'api/huddle/grants' | 'api/huddle/present'
  | 'api/huddle/copies' | 'api/huddle/kernel' | 'api/huddle/kernels' | 'api/huddle/requests'
  | 'api/huddle/export' | 'api/huddle/comments' | 'api/huddle/users' | 'api/huddle/history'
  | 'api/huddle/widgets';

/** The fixed words that follow an id in a route (`.../execute`, `.../messages`). */
export type RouteWord = 'execute' | 'interrupt' | 'restart' | 'input' | 'messages' | 'status' | 'suggestion' | 'read'
  | 'versions' | 'restore' | 'restores' | 'undo' | 'diff' | 'blame' | 'changes' | 'seen';

export type UrlPart = AnyId | RouteWord | FilePath;

/** One URL path segment: encoded whole (a `/` in it stays data), never a dot segment. */
function segment(part: string): string {
  if (isDotSegment(part)) throw new InvalidId('URL segment', part);
  return encodeURIComponent(part);
}

/**
 * The server's base URL (ending in "/"), a route, then its parts. Ids and route words are
 * one segment each; only a `FilePath` spans several. The types make callers check ids
 * (`parseId`) before they get here; the dot-segment check holds whatever slipped through.
 * @throws InvalidId for an empty, `.` or `..` segment: nothing is requested.
 */
export function apiUrl(baseUrl: string, route: ApiRoute, ...parts: UrlPart[]): string {
  const segments = parts.flatMap((part) => (part instanceof FilePath ? part.parts : [part]));
  return [baseUrl + route, ...segments.map(segment)].join('/');
}

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly xsrfFallback: string = '',
  ) {}

  private xsrf(): string {
    return readCookie(globalThis.document?.cookie ?? '', '_xsrf') ?? this.xsrfFallback;
  }

  /** Sends `body` as JSON to `url` (from `apiUrl`); the parsed reply, or null for 204.
   * `keepalive`: the request outlives the page (sent from `pagehide`). */
  async request<T>(method: Method, url: string, body?: unknown, options: { keepalive?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-XSRFToken'] = this.xsrf();
    const response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? null : JSON.stringify(body),
      keepalive: options.keepalive === true,
    });
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    if (response.status === 204) return null as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof parsed.message === 'string' && parsed.message) return parsed.message;
    if (typeof parsed.reason === 'string' && parsed.reason) return parsed.reason;
  } catch {
    // not JSON: fall through to the status text
  }
  return `${response.status} ${response.statusText}`.trim();
}
