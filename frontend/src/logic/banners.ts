/**
 * What the notebook page says in its banners and notices: the text (and the one action)
 * for a connection that ended, for a file changed outside Huddle, and for the server's
 * update store failing and recovering. The page only shows what is chosen here.
 */
import type { ConnectionStatus } from './status';

/** What a banner's button does: reload the page, or go back to the file list. */
export type BannerAction = 'reload' | 'files';

export interface Banner {
  /** One banner of a kind at a time: a new one replaces the old. */
  kind: string;
  text: string;
  action?: { label: string; does: BannerAction };
}

/**
 * The banner for a connection status, or null for one that needs none. `keptIn`: where
 * the server kept this page's refused copy (RAW stale_copy), '' when unknown;
 * `hasFiles`: the page has a file list to go back to (guests have none).
 */
export function statusBanner(status: ConnectionStatus, keptIn: string, hasFiles: boolean): Banner | null {
  switch (status) {
    case 'stale': {
      const kept = keptIn ? ` What you typed here is kept in ${keptIn}.` : '';
      return {
        kind: 'stale',
        text: `The server rebuilt this notebook's history; this page's copy is out of date and was not merged.${kept} Reload to continue.`,
        action: { label: 'Reload', does: 'reload' },
      };
    }
    case 'gone': {
      const banner: Banner = { kind: 'gone', text: 'This notebook was deleted or moved away.' };
      return hasFiles ? { ...banner, action: { label: 'Back to files', does: 'files' } } : banner;
    }
    case 'ended':
      return { kind: 'ended', text: 'Your access to this notebook ended: its share link was revoked or has expired. Ask the owner for a new link.' };
    case 'failed':
      return { kind: 'failed', text: 'The server could not open this notebook.', action: { label: 'Reload', does: 'reload' } };
    default:
      return null;
  }
}

/** The notice for a file changed outside Huddle (RAW file_changed). */
export function fileChangedText(conflicts: number, backup: string | null): string {
  return conflicts
    ? `The file was changed outside Huddle; ${conflicts} cell(s) edited here were replaced${backup ? ` (your version is in ${backup})` : ''}.`
    : 'The file was changed outside Huddle; the changes were merged.';
}

/** The banner while the server cannot write the edit history (server presence). */
export const HISTORY_NOT_DURABLE: Banner = {
  kind: 'durability',
  text: 'The server cannot write this notebook\'s edit history right now. Editing, running and saving to the file go on; the history is written when the server can again.',
};

/** The notice when it can again. */
export const HISTORY_DURABLE_AGAIN = 'The server writes this notebook\'s edit history again.';

/** A personal copy's note: what it copies (its path) and in whose words to say so. */
export interface CopyNote {
  text: string;
  originalPath: string;
}

/** The note for a notebook whose metadata says it is a personal copy (`huddle.copy_of`,
 * written by the server when it made the copy), or null. Metadata is anyone's to edit: a
 * path that is not a plain relative path is ignored, so the link stays a notebook link. */
export function copyNote(huddleMetadata: unknown, me: string): CopyNote | null {
  const copyOf = (huddleMetadata as { copy_of?: unknown } | null | undefined)?.copy_of;
  if (!copyOf || typeof copyOf !== 'object') return null;
  const { path, by } = copyOf as { path?: unknown; by?: unknown };
  if (typeof path !== 'string' || !path || path.startsWith('/')) return null;
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) return null;
  const name = path.slice(path.lastIndexOf('/') + 1);
  return { text: by === me ? `Your copy of ${name}` : `A copy of ${name}`, originalPath: path };
}
