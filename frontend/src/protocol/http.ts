/**
 * The one place that talks HTTP to the Jupyter server: JSON in and out, the XSRF header
 * for unsafe methods, and errors turned into `ApiError` with the server's message.
 */

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

/** Joins the server's base URL (ending in "/") and an API path, encoding each segment. */
export function apiUrl(baseUrl: string, ...segments: string[]): string {
  const path = segments
    .flatMap((s) => s.split('/'))
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
  return baseUrl + path;
}

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly xsrfFallback: string = '',
  ) {}

  private xsrf(): string {
    return readCookie(globalThis.document?.cookie ?? '', '_xsrf') ?? this.xsrfFallback;
  }

  /** Sends `body` as JSON to `url` (from `apiUrl`); the parsed reply, or null for 204. */
  async request<T>(method: Method, url: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-XSRFToken'] = this.xsrf();
    const response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? null : JSON.stringify(body),
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
