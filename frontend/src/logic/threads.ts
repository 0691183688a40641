/**
 * Review threads as the app reasons about them (pure, unit-tested): where an anchor is now
 * in the shared text (Yjs relative positions, as the server resolves them), the order of
 * the side panel, its filters, unread mentions, and @mention completion.
 */
import * as Y from 'yjs';

import { joinText } from './mime';

export interface Author {
  username: string;
  displayName: string;
  /** As the server stored it: a hex colour, or null (then the app picks one). */
  color: string | null;
}

export interface Message {
  id: string;
  author: Author;
  /** Markdown, rendered sanitized. */
  body: string;
  created: number;
  edited: number | null;
}

export type SuggestionState = 'open' | 'accepted' | 'rejected';

export interface Suggestion {
  text: string;
  state: SuggestionState;
  decidedBy: Author | null;
}

export type AnchorKind = 'text' | 'cell' | 'output';

export interface Anchor {
  cellId: string;
  kind: AnchorKind;
  quote: string;
  /** Yjs RelativePosition JSON (text anchors), or null. */
  start: unknown;
  end: unknown;
  outputIndex: number | null;
}

export interface Thread {
  id: string;
  anchor: Anchor;
  status: 'open' | 'resolved';
  /** Seconds since the epoch. */
  created: number;
  author: Author;
  resolvedBy: Author | null;
  mentions: string[];
  readBy: string[];
  suggestion: Suggestion | null;
  messages: Message[];
}

/** attached: the text (or cell, or output) is there; detached: its text was deleted (or its
 * output is gone: cleared by a re-run); orphaned: its cell was deleted. */
export type PlaceState = 'attached' | 'detached' | 'orphaned';

export interface Place {
  state: PlaceState;
  /** An output anchor whose output is there but no longer the one commented on (a re-run
   * wrote another: its first line is not the thread's quote). */
  outputChanged?: boolean;
  /** The cell's execution count, for a code cell that has one: threads show the prompt
   * (`[5]`) beside "Cell 3", so that a cell is found by what its gutter shows. */
  executionCount?: number;
  /** The cell's index in the notebook, -1 when orphaned. */
  cellIndex: number;
  /** UTF-16 offsets into the cell's source (0, 0 for cell and output anchors). */
  start: number;
  end: number;
}

export interface Placed {
  thread: Thread;
  place: Place;
}

/** Where a stored position is now in `text`, or null when it is not in that text (a
 * position from another cell or another history). */
export function positionIn(json: unknown, text: Y.Text): number | null {
  if (!json || typeof json !== 'object' || !text.doc) return null;
  try {
    const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(json), text.doc);
    return abs && abs.type === text ? abs.index : null;
  } catch {
    return null; // malformed JSON: treated like a position that is gone
  }
}

/** Where `anchor` is now, as the server's `resolve_anchor` says it: `cell` is its cell's
 * index and source (and how many outputs it has now, when known), or null when no cell has
 * its id. An output anchor past the cell's outputs is detached (the output is gone). */
export function placeOf(anchor: Anchor, cell: Omit<PlacingCell, 'id'> & { index: number } | null): Place {
  if (!cell) return { state: 'orphaned', cellIndex: -1, start: 0, end: 0 };
  const at = { cellIndex: cell.index, start: 0, end: 0 };
  if (anchor.kind === 'output') {
    const i = anchor.outputIndex;
    const gone = i === null || i < 0 || (cell.outputs !== undefined && i >= cell.outputs);
    if (gone) return { state: 'detached', ...at };
    // Only a quoted output can be recognised (an image has no text to compare).
    const now = anchor.quote && cell.output ? outputFirstLine(cell.output(i)) : anchor.quote;
    return now !== anchor.quote ? { state: 'attached', outputChanged: true, ...at } : { state: 'attached', ...at };
  }
  if (anchor.kind !== 'text') return { state: 'attached', ...at };
  const start = positionIn(anchor.start, cell.source);
  const endRaw = positionIn(anchor.end, cell.source);
  if (start === null || endRaw === null) return { state: 'detached', ...at };
  const end = Math.max(start, endRaw);
  if (end <= start && anchor.quote) return { state: 'detached', ...at, start, end: start };
  return { state: 'attached', ...at, start, end };
}

/** A cell as placing threads reads it: its id, text, and how many outputs it has. */
export interface PlacingCell {
  id: string;
  source: Y.Text;
  outputs?: number;
  /** Output `index` as JSON (read only for output threads that quote their output). */
  output?: (index: number) => Record<string, unknown> | undefined;
  executionCount?: number | null;
}

/** Every thread with its place, `cells` in notebook order (of two cells with one id, the
 * first counts). */
export function placeThreads(threads: readonly Thread[], cells: readonly PlacingCell[]): Placed[] {
  const byId = new Map<string, PlacingCell & { index: number }>();
  cells.forEach((cell, index) => {
    if (!byId.has(cell.id)) byId.set(cell.id, { ...cell, index });
  });
  return threads.map((thread) => {
    const cell = byId.get(thread.anchor.cellId) ?? null;
    const place = placeOf(thread.anchor, cell);
    const count = cell?.executionCount;
    return { thread, place: typeof count === 'number' ? { ...place, executionCount: count } : place };
  });
}

/** Notebook order: by cell, then by where the range starts, then oldest first; orphaned
 * threads last (oldest first). */
export function byPosition(a: Placed, b: Placed): number {
  const orphanA = a.place.state === 'orphaned';
  const orphanB = b.place.state === 'orphaned';
  if (orphanA !== orphanB) return orphanA ? 1 : -1;
  return a.place.cellIndex - b.place.cellIndex || a.place.start - b.place.start
    || a.thread.created - b.thread.created;
}

export type ThreadFilter = 'open' | 'resolved' | 'mine' | 'mentions' | 'questions';

export const FILTERS: readonly { id: ThreadFilter; label: string; title: string }[] = [
  { id: 'open', label: 'Open', title: 'Open threads, in notebook order' },
  { id: 'resolved', label: 'Resolved', title: 'Resolved threads, in notebook order' },
  { id: 'mine', label: 'Mine', title: 'Threads you started or replied to' },
  { id: 'mentions', label: 'Mentions', title: 'Threads that mention you' },
  { id: 'questions', label: 'Questions', title: 'Open threads started by others, oldest first (the presenter\'s queue)' },
];

export function isMine(thread: Thread, me: string): boolean {
  return thread.author.username === me || thread.messages.some((m) => m.author.username === me);
}

export function isUnreadMention(thread: Thread, me: string): boolean {
  return thread.mentions.includes(me) && !thread.readBy.includes(me);
}

/** The threads a filter shows, in its order: questions oldest first, the others by
 * position (orphaned last). */
export function filterThreads(all: readonly Placed[], filter: ThreadFilter, me: string): Placed[] {
  const keep = (p: Placed): boolean => {
    const t = p.thread;
    switch (filter) {
      case 'open': return t.status === 'open';
      case 'resolved': return t.status === 'resolved';
      case 'mine': return isMine(t, me);
      case 'mentions': return t.mentions.includes(me);
      case 'questions': return t.status === 'open' && t.author.username !== me;
    }
  };
  const kept = all.filter(keep);
  if (filter === 'questions') return kept.sort((a, b) => a.thread.created - b.thread.created);
  return kept.sort(byPosition);
}

/** Ids of the threads whose mentions of `me` are unread. */
export function unreadMentions(threads: Iterable<Thread>, me: string): string[] {
  const ids: string[] = [];
  for (const t of threads) if (isUnreadMention(t, me)) ids.push(t.id);
  return ids;
}

/** Open threads per cell id (the cell badges). */
export function openCounts(threads: Iterable<Thread>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of threads) {
    if (t.status === 'open') counts.set(t.anchor.cellId, (counts.get(t.anchor.cellId) ?? 0) + 1);
  }
  return counts;
}

/** Open output threads per cell id, then per output index, oldest first (the outputs'
 * marks). */
export function openOutputThreads(threads: Iterable<Thread>): Map<string, Map<number, Thread[]>> {
  const byCell = new Map<string, Map<number, Thread[]>>();
  for (const t of threads) {
    const index = t.anchor.outputIndex;
    if (t.status !== 'open' || t.anchor.kind !== 'output' || index === null) continue;
    let byIndex = byCell.get(t.anchor.cellId);
    if (!byIndex) byCell.set(t.anchor.cellId, byIndex = new Map());
    byIndex.set(index, [...(byIndex.get(index) ?? []), t]);
  }
  for (const byIndex of byCell.values()) for (const list of byIndex.values()) list.sort((a, b) => a.created - b.created);
  return byCell;
}

const OUTPUT_QUOTE_MAX = 80;
/** The server's cap on a stored quote (collab/review/anchors.py, MAX_QUOTE_CHARS). */
const SERVER_QUOTE_MAX = 2000;

/** What the server quotes of an output when a thread starts on it (anchors.py's
 * `_output_quote`): the first line of its text, stripped; "" for an output without text. */
export function outputFirstLine(output: Record<string, unknown> | undefined): string {
  if (!output) return '';
  let text: unknown;
  if (output['output_type'] === 'stream') text = output['text'];
  else if (output['output_type'] === 'error') text = `${String(output['ename'] ?? '')}: ${String(output['evalue'] ?? '')}`;
  else text = (output['data'] as Record<string, unknown> | undefined)?.['text/plain'];
  if (typeof text !== 'string' && !Array.isArray(text)) return '';
  const first = joinText(text).trim().split(/\r\n|\r|\n/)[0] ?? '';
  return first.slice(0, SERVER_QUOTE_MAX);
}

/** What a comment on an output quotes: the first non-blank line of its text (a stream, an
 * error, a result's text/plain), shortened; else "Output N of cell M" (1-based). */
export function outputQuote(output: Record<string, unknown> | undefined, index: number, cellNumber: number): string {
  let text = '';
  if (output) {
    const data = output['data'];
    if (output['output_type'] === 'stream') text = joinText(output['text']);
    else if (output['output_type'] === 'error') text = [output['ename'], output['evalue']].filter((v) => typeof v === 'string' && v).join(': ');
    else if (data && typeof data === 'object' && 'text/plain' in data) text = joinText((data as Record<string, unknown>)['text/plain']);
  }
  const line = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).find((l) => l) ?? '';
  if (!line) return `Output ${index + 1} of cell ${cellNumber}`;
  return line.length > OUTPUT_QUOTE_MAX ? `${line.slice(0, OUTPUT_QUOTE_MAX - 1)}…` : line;
}

// --- mentions ----------------------------------------------------------------------------

/** What is typed after `@` to name someone: the name without spaces, lower case, as the
 * server's `handle_of` (Python's `\w` is letters, numbers and `_`). */
export function handleOf(text: string): string {
  return text.replace(/[^\p{L}\p{N}_.-]/gu, '').toLowerCase();
}

export interface MentionCandidate {
  username: string;
  displayName: string;
  handle: string;
}

/** Who may be @mentioned: the people `here` first (as the server knows them, when it
 * does), then everyone the server knows (`known`, null when not listed); never `me`. */
export function mentionCandidates(
  here: readonly { username: string; displayName: string }[],
  known: readonly MentionCandidate[] | null,
  me: string,
): MentionCandidate[] {
  const byName = new Map((known ?? []).map((u) => [u.username, u]));
  const present = here.map((p) => byName.get(p.username)
    ?? { username: p.username, displayName: p.displayName, handle: handleOf(p.displayName) || handleOf(p.username) });
  return [...present, ...byName.values()].filter((p) => p.username !== me);
}

/** The `@word` being typed just before `caret`, if any: where its `@` is and the word. */
export function mentionQuery(text: string, caret: number): { at: number; query: string } | null {
  const before = text.slice(0, caret);
  const match = /(?:^|[^\p{L}\p{N}_@])@([\p{L}\p{N}_.-]{0,64})$/u.exec(before);
  if (!match) return null;
  const query = match[1] ?? '';
  return { at: caret - query.length - 1, query };
}

/** Candidates whose handle starts with the query (then whose name contains it), at most
 * `limit`, without duplicates. */
export function matchMentions(people: readonly MentionCandidate[], query: string, limit = 8): MentionCandidate[] {
  const q = query.toLowerCase();
  const seen = new Set<string>();
  const unique = people.filter((p) => p.handle && !seen.has(p.username) && seen.add(p.username));
  const first = unique.filter((p) => p.handle.startsWith(q));
  const then = unique.filter((p) => !p.handle.startsWith(q) && p.displayName.toLowerCase().includes(q));
  return [...first, ...then].slice(0, limit);
}

/** `text` with the `@query` at `at` replaced by `@handle `; the new caret too. */
export function insertMention(text: string, at: number, caret: number, handle: string): { text: string; caret: number } {
  const inserted = `@${handle} `;
  return { text: text.slice(0, at) + inserted + text.slice(caret), caret: at + inserted.length };
}

// --- ranges being commented -----------------------------------------------------------------

/** A selection held while its comment is written: it moves with everyone's edits. */
export interface HeldRange {
  text: Y.Text;
  start: Y.RelativePosition;
  end: Y.RelativePosition;
}

export function holdRange(text: Y.Text, from: number, to: number): HeldRange {
  return {
    text,
    start: Y.createRelativePositionFromTypeIndex(text, from, 0),
    end: Y.createRelativePositionFromTypeIndex(text, to, -1),
  };
}

/** Where a held range is now (UTF-16 offsets), or null when its text was deleted. */
export function heldRangeNow(held: HeldRange): { start: number; end: number } | null {
  const doc = held.text.doc;
  if (!doc) return null;
  const start = Y.createAbsolutePositionFromRelativePosition(held.start, doc);
  const end = Y.createAbsolutePositionFromRelativePosition(held.end, doc);
  if (!start || !end || start.type !== held.text || end.type !== held.text) return null;
  if (end.index <= start.index) return null;
  return { start: start.index, end: end.index };
}
