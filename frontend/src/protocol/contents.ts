/** Jupyter's contents API: list folders, create, rename and delete notebooks. */
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

  async rename(path: string, newPath: string): Promise<Entry> {
    return this.http.request<Entry>('PATCH', this.url(path), { path: newPath });
  }

  async remove(path: string): Promise<void> {
    await this.http.request<null>('DELETE', this.url(path));
  }
}
