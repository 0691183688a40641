/** Jupyter's contents API: list folders; create, rename, move, copy and delete files and
 * folders; upload a file's pieces (logic/upload-plan.ts). */
import { FilePath } from '../logic/ids';
import { apiUrl, type HttpClient } from './http';

export type EntryKind = 'directory' | 'notebook' | 'file';

export interface Entry {
  name: string;
  path: string;
  type: EntryKind;
  last_modified: string;
}

interface DirectoryModel {
  type: 'directory';
  content: Entry[];
}

/** Folders first, then by name (case-insensitive), as file browsers do. */
export function sortEntries(entries: Entry[]): Entry[] {
  const rank = (e: Entry): number => (e.type === 'directory' ? 0 : 1);
  return [...entries].sort(
    (a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }),
  );
}

/** The parent folder of a path ("" for the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** `name` in the folder of `path`. */
export function siblingPath(path: string, name: string): string {
  const dir = parentPath(path);
  return dir ? `${dir}/${name}` : name;
}

export class ContentsApi {
  constructor(private readonly http: HttpClient) {}

  /** @throws InvalidId for a path with an empty, `.` or `..` name. */
  private url(path: string): string {
    return apiUrl(this.http.baseUrl, 'api/contents', FilePath.parse(path));
  }

  async list(dir: string): Promise<Entry[]> {
    const model = await this.http.request<DirectoryModel>('GET', `${this.url(dir)}?content=1`);
    return sortEntries(model.content);
  }

  /** A new "Untitled*.ipynb" in `dir`; its path. */
  async newNotebook(dir: string): Promise<Entry> {
    return this.http.request<Entry>('POST', this.url(dir), { type: 'notebook' });
  }

  /** A folder at `path` (PUT: the name is the user's, not "Untitled Folder"). */
  async newFolder(path: string): Promise<Entry> {
    return this.http.request<Entry>('PUT', this.url(path), { type: 'directory' });
  }

  /** A copy of `path` in `dir`, named by the server ("data-Copy1.csv"). */
  async duplicate(path: string, dir: string): Promise<Entry> {
    return this.http.request<Entry>('POST', this.url(dir), { copy_from: path });
  }

  /** One piece of an upload, base64 (`chunk` null: the whole file in one save). */
  async savePiece(path: string, base64: string, chunk: number | null): Promise<Entry> {
    const model: Record<string, unknown> = { type: 'file', format: 'base64', content: base64 };
    if (chunk !== null) model['chunk'] = chunk;
    return this.http.request<Entry>('PUT', this.url(path), model);
  }

  /** Renames, or moves into another folder (a path in another folder). */
  async rename(path: string, newPath: string): Promise<Entry> {
    return this.http.request<Entry>('PATCH', this.url(path), { path: newPath });
  }

  async remove(path: string): Promise<void> {
    await this.http.request<null>('DELETE', this.url(path));
  }

  /** The file's bytes as a download (Jupyter's files handler; the login cookie is the
   * auth, so a plain link works). */
  downloadUrl(path: string): string {
    return `${this.http.baseUrl}files/${FilePath.parse(path).parts.map(encodeURIComponent).join('/')}?download=1`;
  }
}
