/**
 * Where review threads show in the notebook, and what their marks say (pure, unit-tested):
 * a thread's colour, the highlighted ranges in a cell's text, the place a thread's card
 * jumps to, the filter under which the panel shows a thread, and the badges' labels.
 */
import type * as Y from 'yjs';

import { userColor } from './colors';
import { filterThreads, positionIn, type Author, type Place, type Placed, type Thread, type ThreadFilter } from './threads';

/** A thread's colour: its author's. */
export function authorColor(author: Author): string {
  return userColor(author.username, author.color);
}

/** One open text thread's range in a cell's editor (UTF-16 offsets, as CodeMirror counts). */
export interface TextMark {
  from: number;
  to: number;
  /** A hex colour (the thread author's). */
  color: string;
  threadId: string;
  /** The thread's author and the start of its first message, on hover. */
  title: string;
  /** The thread you are on. */
  current: boolean;
}

/** How much of a thread's first message a highlight's tooltip shows. */
const MARK_TITLE_CHARS = 120;

/** The open text threads' ranges in cell `cellId` (whose text is `source`), in the order of
 * `threads`; ranges whose text is gone, or that are empty, are left out. */
export function textMarks(threads: Iterable<Thread>, cellId: string, source: Y.Text, current: string | null): TextMark[] {
  const marks: TextMark[] = [];
  for (const t of threads) {
    if (t.anchor.cellId !== cellId || t.anchor.kind !== 'text' || t.status !== 'open') continue;
    const from = positionIn(t.anchor.start, source);
    const to = positionIn(t.anchor.end, source);
    if (from === null || to === null || to <= from) continue;
    const first = t.messages[0]?.body ?? '';
    marks.push({ from, to, color: authorColor(t.author), threadId: t.id, current: t.id === current,
      title: `Comment by ${t.author.displayName}: ${first.slice(0, MARK_TITLE_CHARS)}` });
  }
  return marks;
}

/** Where the notebook goes for a thread: its cell, with its text selected (an attached
 * text thread) or its output shown (an attached output thread); null when its cell is gone
 * (or the thread is not placed). */
export interface ThreadTarget {
  cellId: string;
  range: { start: number; end: number } | null;
  output: number | null;
}

export function threadTarget(thread: Thread, place: Place | undefined): ThreadTarget | null {
  if (!place || place.state === 'orphaned') return null;
  const attached = place.state === 'attached';
  const range = attached && thread.anchor.kind === 'text' ? { start: place.start, end: place.end } : null;
  const output = attached && thread.anchor.kind === 'output' ? thread.anchor.outputIndex : null;
  return { cellId: thread.anchor.cellId, range, output };
}

/** The panel's filter once `thread` is opened: `filter` if it shows the thread (`placed`:
 * the thread placed), else Resolved for a resolved thread and Open for the others. */
export function filterShowing(thread: Thread, placed: readonly Placed[], filter: ThreadFilter, me: string): ThreadFilter {
  if (filterThreads(placed, filter, me).length) return filter;
  return thread.status === 'resolved' ? 'resolved' : 'open';
}

/** "2 open comments on this cell", for a badge. */
export function openCommentsLabel(count: number, on: 'cell' | 'output'): string {
  return `${count} open ${count === 1 ? 'comment' : 'comments'} on this ${on}`;
}

/** "1 unread mention", for the header's badge. */
export function unreadMentionsLabel(count: number): string {
  return `${count} unread ${count === 1 ? 'mention' : 'mentions'}`;
}
