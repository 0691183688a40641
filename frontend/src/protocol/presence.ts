/**
 * Presence as the app sees it, decoded from awareness states: the people here (each
 * connection's `user` and active cell), and the server's entry `{"huddle": {queue, runs,
 * kernel, presenter}}` that publishes what runs, what waits, who ran each cell, the kernel
 * status and who presents.
 *
 * Any client can publish any awareness state, so the server's entry is read only from the
 * client id the server announced as its own (RAW `server_presence`, see raw.ts), never from
 * a state that merely carries a `huddle` object. A forged one once made an owner's page
 * follow a viewer, show a fake password prompt and cancel a "request" whose id was a path.
 */
import { isId, type KernelId, type RequestId } from '../logic/ids';
import { distinctNames } from '../logic/people';

export interface Person {
  username: string;
  displayName: string;
}

export interface Collaborator extends Person {
  clientId: number;
  color: string;
  /** The colour comes from the Jupyter identity (or another app): never moved. */
  colorExplicit: boolean;
  /** When this connection joined (ms since the epoch; 0 when unknown). */
  since: number;
  initials: string;
  activeCellId: string | null;
  isMe: boolean;
}

export interface InputPrompt {
  prompt: string;
  password: boolean;
}

export interface QueueItem {
  requestId: RequestId;
  cellId: string;
  state: 'queued' | 'running';
  requestedBy: Person;
  input: InputPrompt | null;
}

export interface RunInfo {
  requestedBy: Person;
  /** done, error, cancelled or aborted */
  state: string;
  executionCount: number | null;
  /** Why it did not run or finish (the server's words), or ''. */
  reason: string;
  /** The Run all it was part of, for a failed or aborted run ('' otherwise). */
  batch: string;
}

/** Someone restarted or interrupted the notebook's kernel (the latest such action). */
export interface KernelAction {
  action: 'restart' | 'interrupt';
  by: Person;
  /** Server time (s): with `action`, tells one action from the next. */
  at: number;
}

export interface KernelInfo {
  id: KernelId;
  status: string;
}

export interface ServerPresence {
  queue: QueueItem[];
  runs: Map<string, RunInfo>;
  kernel: KernelInfo | null;
  // False while the server cannot write the document's history to its store (edits still
  // sync and save to the file); true otherwise, and before the server says anything.
  historyDurable: boolean;
  kernelAction: KernelAction | null;
}

/** The field of this app's own presence that names the cell a person is in. */
export const ACTIVE_CELL_FIELD = 'activeCellId';

/** JupyterLab's users publish a theme variable as their colour; these are its values. */
const JUPYTERLAB_COLORS: Record<string, string> = {
  '1': '#ffad8e', '2': '#dac83d', '3': '#72dd76', '4': '#00e4d0',
  '5': '#45d4ff', '6': '#e2b1ff', '7': '#ff9de6',
};

/** A colour safe to put in a style attribute: a hex colour, JupyterLab's collaborator
 * variables mapped to their values, grey for anything else. */
export function cssColor(raw: unknown): string {
  if (typeof raw !== 'string') return '#888888';
  if (/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(raw)) return raw;
  const lab = /^var\(--jp-collaborator-color(\d+)\)$/.exec(raw.trim());
  return (lab && JUPYTERLAB_COLORS[lab[1] as string]) || '#888888';
}

export type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

function person(raw: unknown): Person {
  const p = isObject(raw) ? raw : {};
  const username = str(p['username'], 'unknown');
  return { username, displayName: str(p['display_name']) || username };
}

function queueItem(raw: unknown): QueueItem | null {
  // An entry whose id is not a request id could never be cancelled or answered: dropped.
  if (!isObject(raw) || typeof raw['cell_id'] !== 'string' || !isId('request', raw['request_id'])) return null;
  const state = raw['state'] === 'running' ? 'running' : raw['state'] === 'queued' ? 'queued' : null;
  if (!state) return null;
  const input = isObject(raw['input'])
    ? { prompt: str(raw['input']['prompt']), password: raw['input']['password'] === true }
    : null;
  return {
    requestId: raw['request_id'],
    cellId: raw['cell_id'],
    state,
    requestedBy: person(raw['requested_by']),
    input,
  };
}

function runInfo(raw: unknown): RunInfo | null {
  if (!isObject(raw)) return null;
  const count = raw['execution_count'];
  return {
    requestedBy: person(raw['requested_by']),
    state: str(raw['state']),
    executionCount: typeof count === 'number' ? count : null,
    reason: str(raw['reason']),
    batch: str(raw['batch']),
  };
}

function kernelAction(raw: unknown): KernelAction | null {
  if (!isObject(raw) || typeof raw['at'] !== 'number') return null;
  const action = raw['action'] === 'restart' || raw['action'] === 'interrupt' ? raw['action'] : null;
  return action ? { action, by: person(raw['by']), at: raw['at'] } : null;
}

export const EMPTY_SERVER_PRESENCE: ServerPresence = {
  queue: [], runs: new Map(), kernel: null, historyDurable: true, kernelAction: null,
};

/** The `huddle` object of the server's own entry: the state of `serverClientId` (the id
 * the server announced), or null before any announcement or while it has none. */
export function serverHuddle(states: Map<number, unknown>, serverClientId: number | null): Json | null {
  if (serverClientId === null) return null;
  const state = states.get(serverClientId);
  return isObject(state) && isObject(state['huddle']) ? state['huddle'] : null;
}

/** The server's presence (queue, runs, kernel), read from its own entry only. */
export function parseServerPresence(states: Map<number, unknown>, serverClientId: number | null): ServerPresence {
  const huddle = serverHuddle(states, serverClientId);
  if (!huddle) return EMPTY_SERVER_PRESENCE;
  const queue = Array.isArray(huddle['queue'])
    ? huddle['queue'].map(queueItem).filter((q): q is QueueItem => q !== null)
    : [];
  const runs = new Map<string, RunInfo>();
  if (isObject(huddle['runs'])) {
    for (const [cellId, raw] of Object.entries(huddle['runs'])) {
      const info = runInfo(raw);
      if (info) runs.set(cellId, info);
    }
  }
  const k = huddle['kernel'];
  const kernel = isObject(k) && isId('kernel', k['id']) ? { id: k['id'], status: str(k['status'], 'unknown') } : null;
  return {
    queue, runs, kernel, historyDurable: huddle['history_durable'] !== false,
    kernelAction: kernelAction(huddle['kernel_action']),
  };
}

/** A state that is not a person: the server's own, or one that claims to be the server's
 * (a `huddle` object, which the server strips from every client's state). */
function notAPerson(clientId: number, state: Json, serverClientId: number | null): boolean {
  return clientId === serverClientId || 'huddle' in state;
}

/** Everyone with a `user`, one entry per connection, me first, then by name. */
export function parseCollaborators(
  states: Map<number, unknown>,
  myClientId: number,
  serverClientId: number | null,
): Collaborator[] {
  const people: Collaborator[] = [];
  for (const [clientId, state] of states) {
    if (!isObject(state) || !isObject(state['user']) || notAPerson(clientId, state, serverClientId)) continue;
    const user = state['user'];
    const username = str(user['username']) || str(user['name'], `client ${clientId}`);
    const displayName = str(user['display_name']) || str(user['name']) || username;
    const active = state[ACTIVE_CELL_FIELD];
    people.push({
      clientId,
      username,
      displayName,
      color: cssColor(user['color']),
      colorExplicit: user['colorSource'] !== 'auto',
      since: typeof user['joined'] === 'number' ? user['joined'] : 0,
      initials: str(user['initials']) || displayName.slice(0, 1).toUpperCase(),
      activeCellId: typeof active === 'string' ? active : null,
      isMe: clientId === myClientId,
    });
  }
  // Two people of one name (Jupyter's anonymous moons repeat) or one set of initials: told apart.
  const distinct = distinctNames(people);
  for (const p of people) Object.assign(p, distinct.get(p.username));
  return people.sort(
    (a, b) => Number(b.isMe) - Number(a.isMe) || a.displayName.localeCompare(b.displayName),
  );
}

/** The queue entry of one cell (its running or first queued request), if any. */
export function queueEntryOf(presence: ServerPresence, cellId: string): QueueItem | null {
  return (
    presence.queue.find((q) => q.cellId === cellId && q.state === 'running') ??
    presence.queue.find((q) => q.cellId === cellId) ??
    null
  );
}

/** 1-based position among the waiting (queued) requests, or 0. */
export function queuePosition(presence: ServerPresence, requestId: string): number {
  const waiting = presence.queue.filter((q) => q.state === 'queued');
  return waiting.findIndex((q) => q.requestId === requestId) + 1;
}
