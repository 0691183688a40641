/**
 * How a file is cut for Jupyter's contents API, as JupyterLab uploads large files: each
 * `PUT /api/contents/<path>` carries one piece, base64, with its `chunk` number. The
 * server (jupyter_server's LargeFileManager) writes chunk 1 as a new file and appends
 * every later one (`-1` marks the last), so it never holds more than one piece.
 */

/** 2 MiB a request: the server holds about four times that per request (the body, the
 * JSON string, the decoded bytes), never the file; fewer, larger pieces are faster. */
export const CHUNK_BYTES = 2 * 1024 * 1024;

export interface UploadPiece {
  start: number;
  end: number;
  /** 1, 2, … and -1 for the last; null: the whole file in one ordinary save. */
  chunk: number | null;
}

/**
 * The pieces of a file of `size` bytes. A file that fits in one piece is saved whole
 * (no `chunk`): a lone chunk -1 would be appended to a file already there.
 */
export function uploadPlan(size: number, chunkBytes = CHUNK_BYTES): UploadPiece[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad file size ${size}`);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new RangeError(`bad chunk size ${chunkBytes}`);
  if (size <= chunkBytes) return [{ start: 0, end: size, chunk: null }];
  const pieces: UploadPiece[] = [];
  for (let start = 0, n = 1; start < size; start += chunkBytes, n += 1) {
    const end = Math.min(start + chunkBytes, size);
    pieces.push({ start, end, chunk: end === size ? -1 : n });
  }
  return pieces;
}

/** "12.5 MB" (decimal units, as file managers show sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The target of moving `path` into folder `dir` ("" is the root); null when the folder
 * is not a plain relative path (the server would refuse it anyway). */
export function movedPath(path: string, dir: string): string | null {
  const folder = dir.trim().replace(/^\/+|\/+$/g, '');
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (folder.split('/').some((part) => part === '.' || part === '..')) return null;
  if (folder.includes('//')) return null;
  return folder ? `${folder}/${name}` : name;
}
