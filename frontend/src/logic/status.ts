/** What the status bar says about the document's connection, from the socket's facts. */

export type ConnectionStatus =
  | 'connecting' // first connection, not yet synced
  | 'live' // connected and synced
  | 'reconnecting' // was live, socket lost; edits are kept and merge on reconnect
  | 'offline' // the browser says there is no network
  | 'stale' // the server's history is not the one this tab has: reload
  | 'gone' // the file was deleted or does not exist
  | 'ended' // your access ended: the share link was revoked or expired (4403)
  | 'failed'; // the server cannot serve this document

export type TerminalClose = 'stale' | 'gone' | 'ended' | 'failed';

/** Close code: your rights on the document changed; reconnect, then ask for them again. */
export const RIGHTS_CHANGED_CLOSE = 4001;

export interface ConnectionFacts {
  socket: 'connecting' | 'connected' | 'disconnected';
  synced: boolean;
  everSynced: boolean;
  online: boolean;
  terminal: TerminalClose | null;
}

/** Close codes after which reconnecting cannot help (see README "Close codes"). */
export function terminalClose(code: number): TerminalClose | null {
  // unknown_session: the server's history was rebuilt; 4409: the same stale copy again
  if (code === 1003 || code === 4409) return 'stale';
  if (code === 4404 || code === 4410) return 'gone';
  if (code === 4403) return 'ended';
  if (code >= 4400 && code < 4500) return 'failed';
  return null;
}

/** Whether the connection ended for good: nothing typed on the page could reach the
 * server any more (the page stops editing). */
export function isTerminal(status: ConnectionStatus): status is TerminalClose {
  return status === 'stale' || status === 'gone' || status === 'failed' || status === 'ended';
}

export function connectionStatus(f: ConnectionFacts): ConnectionStatus {
  if (f.terminal) return f.terminal;
  if (!f.online) return 'offline';
  if (f.socket === 'connected' && f.synced) return 'live';
  return f.everSynced ? 'reconnecting' : 'connecting';
}

export const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting… (your edits are kept)',
  offline: 'Offline (your edits are kept)',
  stale: 'This page is out of date',
  gone: 'This notebook no longer exists',
  ended: 'Your access ended',
  failed: 'The server cannot open this notebook',
};
