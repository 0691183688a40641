/**
 * Running code: the notebook's kernel session (Jupyter's session API), Huddle's
 * execute/interrupt/restart/input routes, and who the user is (`/api/me`).
 */
import { parseId, type DocumentId, type KernelId, type RequestId } from '../logic/ids';
import { ApiError, apiUrl, type HttpClient, type ApiRoute, type UrlPart } from './http';

export interface Identity {
  username: string;
  name: string;
  display_name: string;
  initials: string | null;
  color: string | null;
}

interface SessionModel {
  id: string;
  path: string;
  name: string;
  kernel: { id: string; name: string } | null;
}

/** One installed kernel (Jupyter's `GET /api/kernelspecs`). */
export interface KernelSpecInfo {
  name: string;
  /** As JupyterLab shows it: "Python 3 (ipykernel)". */
  displayName: string;
  language: string;
}

export interface KernelSpecs {
  /** The server's default kernel's name. */
  default: string;
  specs: KernelSpecInfo[];
}

/** Jupyter's kernelspecs reply, read defensively: what is not a spec of the expected
 * shape is left out. */
export function parseKernelSpecs(reply: unknown): KernelSpecs {
  const body = (reply ?? {}) as { default?: unknown; kernelspecs?: unknown };
  const raw = body.kernelspecs && typeof body.kernelspecs === 'object' ? Object.values(body.kernelspecs) : [];
  const specs = raw.flatMap((entry): KernelSpecInfo[] => {
    const { name, spec } = (entry ?? {}) as { name?: unknown; spec?: { display_name?: unknown; language?: unknown } };
    if (typeof name !== 'string' || !name) return [];
    const displayName = typeof spec?.display_name === 'string' && spec.display_name ? spec.display_name : name;
    return [{ name, displayName, language: typeof spec?.language === 'string' ? spec.language : '' }];
  });
  specs.sort((a, b) => a.displayName.localeCompare(b.displayName));
  return { default: typeof body.default === 'string' ? body.default : '', specs };
}

export type ExportFormat = 'ipynb' | 'html' | 'markdown' | 'python';

export interface CellToRun {
  cellId: string;
  source: string;
}

export interface QueuedRequest {
  request_id: string;
  cell_id: string;
  state: string;
}

/** SHA-256 of the UTF-8 text, hex: the `source_hash` the execute route checks. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The session of `path` among `sessions`, if any (JupyterLab may also name it by file id). */
export function findSession(
  sessions: SessionModel[],
  path: string,
  fileId: string,
): SessionModel | null {
  return (
    sessions.find((s) => s.path === path && s.kernel) ??
    sessions.find((s) => s.path.includes(fileId) && s.kernel) ??
    null
  );
}

export class KernelsApi {
  /** Whether Jupyter's sessions API is open to this user. Guests (share links) have none:
   * their notebook's kernel comes from `POST /api/huddle/kernel/{document_id}`. */
  sessions = true;

  constructor(private readonly http: HttpClient) {}

  /** Request and kernel ids come from presence and replies: checked again here, where they
   * become URLs, so that no cast upstream can skip the check. */
  private url(route: ApiRoute, ...parts: UrlPart[]): string {
    return apiUrl(this.http.baseUrl, route, ...parts);
  }

  async me(): Promise<Identity> {
    const reply = await this.http.request<{ identity: Identity }>('GET', this.url('api/me'));
    return reply.identity;
  }

  /** The kernel id of the notebook's existing session, or null. */
  async existingKernel(path: string, fileId: string): Promise<KernelId | null> {
    if (!this.sessions) return null; // the server's presence names it once it runs
    const sessions = await this.http.request<SessionModel[]>('GET', this.url('api/sessions'));
    const id = findSession(sessions, path, fileId)?.kernel?.id;
    return id === undefined ? null : parseId('kernel', id);
  }

  /** The kernel id of the notebook's session, starting one if there is none: through
   * Jupyter's sessions API, or Huddle's kernel route for those who may not use it (403). */
  async ensureKernel(path: string, fileId: string, kernelName: string, documentId: DocumentId): Promise<KernelId> {
    if (this.sessions) {
      try {
        return await this.sessionKernel(path, fileId, kernelName);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 403)) throw err;
        this.sessions = false;
      }
    }
    const reply = await this.http.request<{ kernel_id: string }>('POST', this.url('api/huddle/kernel', documentId), {
      kernel_name: kernelName,
    });
    return parseId('kernel', reply.kernel_id);
  }

  private async sessionKernel(path: string, fileId: string, kernelName: string): Promise<KernelId> {
    const existing = await this.existingKernel(path, fileId);
    if (existing) return existing;
    const name = path.slice(path.lastIndexOf('/') + 1);
    const session = await this.http.request<SessionModel>('POST', this.url('api/sessions'), {
      path,
      type: 'notebook',
      name,
      kernel: { name: kernelName },
    });
    if (!session.kernel) throw new Error('the server started no kernel');
    return parseId('kernel', session.kernel.id);
  }

  /** The installed kernels (Jupyter's kernelspecs API; refused to share-link guests). */
  async kernelSpecs(): Promise<KernelSpecs> {
    return parseKernelSpecs(await this.http.request<unknown>('GET', this.url('api/kernelspecs')));
  }

  /** Put the notebook's session on a new kernel of `kernelName`, as JupyterLab's "Change
   * Kernel" does (`PATCH /api/sessions/{id}`): the server starts it and shuts the old one
   * down. Null when the notebook has no session (the next run starts the kernel its
   * metadata names). */
  async changeKernel(path: string, fileId: string, kernelName: string): Promise<KernelId | null> {
    if (!this.sessions) throw new Error('changing the kernel needs Jupyter\'s sessions API');
    const sessions = await this.http.request<SessionModel[]>('GET', this.url('api/sessions'));
    const session = findSession(sessions, path, fileId);
    if (!session) return null;
    const changed = await this.http.request<SessionModel>('PATCH', this.url('api/sessions', parseId('session', session.id)),
      { kernel: { name: kernelName } });
    if (!changed.kernel) throw new Error('the server started no kernel');
    return parseId('kernel', changed.kernel.id);
  }

  async execute(kernelId: KernelId, documentId: DocumentId, cells: CellToRun[]): Promise<QueuedRequest[]> {
    const refs = await Promise.all(
      cells.map(async (c) => ({ cell_id: c.cellId, source_hash: await sha256Hex(c.source) })),
    );
    const reply = await this.http.request<{ requests: QueuedRequest[] }>(
      'POST',
      this.url('api/kernels', parseId('kernel', kernelId), 'execute'),
      { document_id: documentId, cells: refs },
    );
    return reply.requests;
  }

  async interrupt(kernelId: KernelId): Promise<void> {
    await this.http.request<null>('POST', this.url('api/huddle/kernels', parseId('kernel', kernelId), 'interrupt'));
  }

  async restart(kernelId: KernelId): Promise<void> {
    await this.http.request<null>('POST', this.url('api/huddle/kernels', parseId('kernel', kernelId), 'restart'));
  }

  /** Cancel a queued request (one's own; others' need `write` on kernels). */
  async cancel(requestId: RequestId): Promise<void> {
    await this.http.request<null>('DELETE', this.url('api/huddle/requests', parseId('request', requestId)));
  }

  /** Where the live notebook downloads as `format` (an attachment). */
  exportUrl(documentId: DocumentId, format: ExportFormat): string {
    return `${this.url('api/huddle/export', documentId)}?format=${format}`;
  }

  async answerInput(requestId: RequestId, value: string): Promise<void> {
    await this.http.request<null>('POST', this.url('api/huddle/requests', parseId('request', requestId), 'input'), {
      value,
    });
  }
}
