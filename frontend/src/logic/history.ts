/**
 * Version history as the page words and arranges it (pure; views/history/ shows it): a
 * version's title and summary, times (local and relative), a diff's rows with unchanged
 * cells and unchanged lines folded, a changed line cut into its changed and unchanged
 * characters, blame lines matched to the editor's lines, and the marks of "changes since
 * you last looked" that are left to see.
 */
import type {
  BlameLine,
  Changes,
  DiffCell,
  DiffLine,
  DiffSide,
  HistoryPerson,
  MetadataChanges,
  OutputChanges,
  Version,
  VersionSummary,
} from '../protocol/history';

// --- words ------------------------------------------------------------------------------------

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "2 cells changed, 1 added, outputs changed": the first count names the cells, the rest
 * follow it; "no changes" when nothing changed. */
export function summaryText(summary: VersionSummary): string {
  const counts: [number, string][] = [
    [summary.changed, 'changed'], [summary.added, 'added'], [summary.deleted, 'deleted'], [summary.moved, 'moved'],
  ];
  const parts: string[] = [];
  for (const [n, word] of counts) {
    if (!n) continue;
    parts.push(parts.length ? `${n} ${word}` : `${plural(n, 'cell')} ${word}`);
  }
  if (summary.outputsChanged) parts.push('outputs changed');
  if (summary.metadataChanged) parts.push('metadata changed');
  return parts.length ? parts.join(', ') : 'no changes';
}

const KIND_TITLES: Record<string, string> = {
  opened: 'Opened',
  auto: 'Edits',
  named: 'Named version',
  'before-restore': 'Before a restore',
  restore: 'Restore',
  undo: 'Restore undone',
  'before-outside': 'Before a change on disk',
  closed: 'Everyone left',
  seen: 'Checkpoint',
};

/** What kind of version it is, in words (a named one: its name). */
export function versionTitle(version: Pick<Version, 'kind' | 'name'>): string {
  return version.name ?? KIND_TITLES[version.kind] ?? version.kind;
}

/** A version's time, from its id (milliseconds in its first 12 hex digits): for a version
 * named only by id. */
export function versionTimeFromId(id: string): number | null {
  const ms = Number.parseInt(id.slice(0, 12), 16);
  return /^[0-9a-f]{12}/.test(id) && Number.isFinite(ms) ? ms / 1000 : null;
}

/** "Restored cell 3 from 14:05" (`index`: the cell's, from 0) or "Restored the notebook
 * from …". */
export function restoredText(index: number | null, when: string): string {
  return index === null ? `Restored the notebook from ${when}` : `Restored cell ${index + 1} from ${when}`;
}

/** The line under a version's title: what a restore did (in local time), or the server's
 * label. `timeOf`: a version's local time, by id. */
export function versionDetail(version: Version, timeOf: (id: string) => string): string | null {
  const restored = version.restored;
  if (version.kind === 'restore' && restored) {
    const text = restoredText(restored.cellId === null ? null : restored.index ?? 0, timeOf(restored.versionId));
    return version.by ? `${text} by ${version.by.displayName}` : text;
  }
  if (version.label) return version.label.charAt(0).toUpperCase() + version.label.slice(1);
  if (version.kind === 'named' && version.by) return `Named by ${version.by.displayName}`;
  return null;
}

/** "Ann, Bob and 2 others" (display names, each once). */
export function peopleText(people: readonly HistoryPerson[], max = 3): string {
  const names = [...new Set(people.map((p) => p.displayName))];
  if (names.length <= max) return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0] ?? '';
  return `${names.slice(0, max).join(', ')} and ${plural(names.length - max, 'other')}`;
}

/** What the flags of a version mean, for its tooltip. */
export function flagsText(flags: readonly string[]): string {
  const words: Record<string, string> = {
    disk: 'changed outside Huddle',
    outputs: 'outputs written by the kernel',
    unattributed: 'changes made while nobody recorded them',
  };
  return flags.map((f) => words[f] ?? f).join('; ');
}

// --- times ------------------------------------------------------------------------------------

/** A time in the reader's own zone: the hour today, the date and hour before. */
export function localTime(seconds: number, now = Date.now() / 1000): string {
  const date = new Date(seconds * 1000);
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (new Date(now * 1000).toDateString() === date.toDateString()) return time;
  return `${date.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' })} ${time}`;
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date. */
export function relativeTime(seconds: number, now = Date.now() / 1000): string {
  const ago = Math.max(0, now - seconds);
  if (ago < 45) return 'just now';
  if (ago < 3600) return `${Math.max(1, Math.round(ago / 60))} min ago`;
  if (ago < 86400) return `${Math.round(ago / 3600)} h ago`;
  const days = Math.floor(ago / 86400);
  if (days === 1) return 'yesterday';
  if (days < 30) return `${days} days ago`;
  return new Date(seconds * 1000).toLocaleDateString();
}

/** One side of a diff in words: "live", or the version's title and local time. */
export function sideText(side: DiffSide, now = Date.now() / 1000): string {
  if (side.id === 'live') return 'the live notebook';
  const title = side.name ? `“${side.name}”` : (KIND_TITLES[side.kind ?? ''] ?? 'version').toLowerCase();
  return `${title} of ${localTime(side.createdAt, now)}`;
}

// --- diffs ------------------------------------------------------------------------------------

export type DiffRow =
  | { kind: 'cell'; cell: DiffCell }
  /** Unchanged cells in a row, shown as "N unchanged cells". */
  | { kind: 'fold'; count: number; ids: string[] };

/** The diff's cells in order, each run of unchanged cells folded into one row. */
export function diffRows(cells: readonly DiffCell[]): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const cell of cells) {
    const last = rows.at(-1);
    if (cell.status !== 'same') rows.push({ kind: 'cell', cell });
    else if (last?.kind === 'fold') {
      last.count += 1;
      last.ids.push(cell.id);
    } else rows.push({ kind: 'fold', count: 1, ids: [cell.id] });
  }
  return rows;
}

export function unchangedCellsText(count: number): string {
  return `${plural(count, 'unchanged cell')}`;
}

export type LineRow = { kind: 'line'; line: DiffLine } | { kind: 'fold'; count: number };

/** A changed cell's lines with only `context` unchanged lines kept around each change;
 * longer unchanged runs become "N unchanged lines". */
export function foldLines(lines: readonly DiffLine[], context = 3): LineRow[] {
  const changed = lines.map((l) => l.op !== ' ');
  const near = lines.map((_, i) => {
    for (let d = -context; d <= context; d++) if (changed[i + d]) return true;
    return false;
  });
  const rows: LineRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (near[i]) rows.push({ kind: 'line', line: lines[i]! });
    else {
      const last = rows.at(-1);
      if (last?.kind === 'fold') last.count += 1;
      else rows.push({ kind: 'fold', count: 1 });
    }
  }
  // One hidden line takes the room of its own fold row: show it instead.
  return rows.flatMap((row, i) => {
    if (row.kind !== 'fold' || row.count > 1) return [row];
    const index = rows.slice(0, i).reduce((n, r) => n + (r.kind === 'fold' ? r.count : 1), 0);
    return [{ kind: 'line', line: lines[index]! } as LineRow];
  });
}

export interface Segment {
  text: string;
  changed: boolean;
}

/** A line cut at its changed spans (UTF-16 offsets, as JavaScript strings count), in order;
 * spans out of range are clipped, overlapping ones merged. */
export function spanSegments(text: string, spans: readonly [number, number][]): Segment[] {
  const sorted = spans
    .map(([a, b]) => [Math.max(0, Math.min(a, text.length)), Math.max(0, Math.min(b, text.length))] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const segments: Segment[] = [];
  let at = 0;
  for (const [a, b] of sorted) {
    const start = Math.max(a, at);
    if (start > at) segments.push({ text: text.slice(at, start), changed: false });
    if (b > start) segments.push({ text: text.slice(start, b), changed: true });
    at = Math.max(at, b);
  }
  if (at < text.length || !segments.length) segments.push({ text: text.slice(at), changed: false });
  // Touching spans are one change.
  return segments.reduce<Segment[]>((out, s) => {
    const last = out.at(-1);
    if (last && last.changed === s.changed) last.text += s.text;
    else out.push({ ...s });
    return out;
  }, []);
}

export const STATUS_LABELS: Record<DiffCell['status'], string> = {
  added: 'added', deleted: 'deleted', moved: 'moved', changed: 'changed', same: 'unchanged',
};

/** Where the cell is: "Cell 3", "Was cell 2", "Cell 2 → 4". */
export function cellPlace(cell: DiffCell): string {
  const from = cell.indexFrom === null ? null : cell.indexFrom + 1;
  const to = cell.indexTo === null ? null : cell.indexTo + 1;
  if (to === null) return `Was cell ${from ?? '?'}`;
  if (from === null || from === to || cell.status !== 'moved') return `Cell ${to}`;
  return `Cell ${from} → ${to}`;
}

/** "Outputs: 1 added, 1 removed (2 → 2)". */
export function outputsText(outputs: OutputChanges): string {
  const parts = [
    outputs.added ? `${outputs.added} added` : '',
    outputs.removed ? `${outputs.removed} removed` : '',
    outputs.changed ? `${outputs.changed} changed` : '',
  ].filter(Boolean);
  return `Outputs changed: ${parts.join(', ') || 'changed'} (${plural(outputs.from, 'output')} → ${outputs.to})`;
}

export function metadataText(metadata: MetadataChanges, of = 'Metadata'): string {
  return metadata.keys.length ? `${of} changed: ${metadata.keys.join(', ')}` : `${of} changed`;
}

/** The other differences of a changed cell, in words (outputs, metadata, run count, type). */
export function cellNotes(cell: DiffCell): string[] {
  const notes: string[] = [];
  if (cell.cellTypeFrom) notes.push(`Was a ${cell.cellTypeFrom} cell, now ${cell.cellType}`);
  if (cell.outputs) notes.push(outputsText(cell.outputs));
  if (cell.executionCount) {
    const [a, b] = cell.executionCount;
    notes.push(`Execution count ${a ?? 'none'} → ${b ?? 'none'}`);
  }
  if (cell.metadata?.changed) notes.push(metadataText(cell.metadata));
  return notes;
}

/** Whether "Restore this cell" makes sense: the cell differs from its version in the
 * live notebook (the diff goes to `live`), and the version has it. */
export function canRestoreCell(cell: DiffCell, toId: string): boolean {
  return toId === 'live' && cell.indexFrom !== null && (cell.status === 'changed' || cell.status === 'deleted' || cell.status === 'moved');
}

// --- blame ------------------------------------------------------------------------------------

/** The blame line of each of the editor's lines (null where none fits): by position when
 * the texts agree, otherwise the unchanged lines at the start and end keep theirs (the
 * page's text can be ahead of the server's for a moment). */
export function alignBlame(docLines: readonly string[], blame: readonly BlameLine[]): (BlameLine | null)[] {
  const out: (BlameLine | null)[] = docLines.map(() => null);
  let head = 0;
  while (head < docLines.length && head < blame.length && docLines[head] === blame[head]!.text) {
    out[head] = blame[head]!;
    head++;
  }
  let tail = 0;
  while (tail < docLines.length - head && tail < blame.length - head
    && docLines[docLines.length - 1 - tail] === blame[blame.length - 1 - tail]!.text) {
    out[docLines.length - 1 - tail] = blame[blame.length - 1 - tail]!;
    tail++;
  }
  return out;
}

export interface BlameLabel {
  name: string;
  /** The author's colour, when presence knows it. */
  color: string | null;
  when: string;
  title: string;
}

/** How a line's author shows in the gutter: their name (or "unknown"), colour and when. */
export function blameLabel(line: BlameLine, colors: ReadonlyMap<string, string>, now = Date.now() / 1000): BlameLabel {
  const name = line.author?.displayName ?? 'unknown';
  const color = line.author?.username ? colors.get(line.author.username) ?? null : null;
  const when = line.at === null ? '' : relativeTime(line.at, now);
  const title = line.author
    ? `${name}${line.at === null ? '' : `, ${localTime(line.at, now)}`}`
    : 'Author not known (from the file as first opened, or before a crash)';
  return { name, color, when, title };
}

// --- changes since you last looked -------------------------------------------------------------

export interface ChangeMark {
  cellId: string;
  /** changed, added or moved */
  change: string;
  by: HistoryPerson[];
}

/** The cells to mark: changed, added or moved since the last look, still in the notebook,
 * and not changed by me alone (my own edits, e.g. in another tab, are not news). */
export function changeMarks(changes: Changes, liveIds: ReadonlySet<string>, me: string): ChangeMark[] {
  return changes.cells
    .filter((c) => liveIds.has(c.id))
    .filter((c) => !(c.by.length > 0 && c.by.every((p) => p.username === me)))
    .map((c) => ({ cellId: c.id, change: c.change, by: c.by.filter((p) => p.username !== me) }));
}

/** A cell's badge: "changed since you looked · by Bob". */
export function markText(mark: ChangeMark): string {
  const what = mark.change === 'added' ? 'added' : mark.change === 'moved' ? 'moved' : 'changed';
  const by = mark.by.length ? ` · by ${peopleText(mark.by)}` : '';
  return `${what} since you looked${by}`;
}

/** The banner over the notebook while marks are left (null: nothing to say). */
export function changesBanner(marks: readonly ChangeMark[], deleted: number): string | null {
  if (!marks.length && !deleted) return null;
  const parts: string[] = [];
  if (marks.length) {
    const by = peopleText(marks.flatMap((m) => m.by));
    parts.push(`${plural(marks.length, 'cell')} changed since you last looked${by ? ` (by ${by})` : ''}`);
  }
  if (deleted) parts.push(`${plural(deleted, 'cell')} deleted${marks.length ? '' : ' since you last looked'}`);
  const text = parts.join('; ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Which marks are left to see: a marked cell counts as seen once it has been in view for
 * `dwellMs` without leaving it. Times are the caller's (milliseconds); `due` says when to
 * look again.
 */
export class LookTracker {
  private readonly since = new Map<string, number>();
  private readonly left: Set<string>;

  constructor(cellIds: Iterable<string>, readonly dwellMs: number) {
    this.left = new Set(cellIds);
  }

  /** A marked cell came into view (`true`) or left it. */
  inView(cellId: string, visible: boolean, now: number): void {
    if (!this.left.has(cellId)) return;
    if (visible && !this.since.has(cellId)) this.since.set(cellId, now);
    if (!visible) this.since.delete(cellId);
  }

  /** The cells seen by `now` (taken off the marks). */
  settle(now: number): string[] {
    const seen: string[] = [];
    for (const [id, since] of this.since) {
      if (now - since < this.dwellMs) continue;
      this.since.delete(id);
      this.left.delete(id);
      seen.push(id);
    }
    return seen;
  }

  /** When the next cell in view will have been seen (ms), or null if none is in view. */
  due(): number | null {
    const times = [...this.since.values()];
    return times.length ? Math.min(...times) + this.dwellMs : null;
  }

  /** A marked cell is gone from the notebook: nothing to see there. */
  drop(cellId: string): void {
    this.left.delete(cellId);
    this.since.delete(cellId);
  }

  remaining(): string[] {
    return [...this.left];
  }

  get done(): boolean {
    return this.left.size === 0;
  }
}
