/**
 * The notebook's outline, as JupyterLab's table of contents and collapsible headings read
 * it: the Markdown headings of each cell (ATX `#` lines outside code fences), a cell's
 * own level (its first heading's), and which cells a collapsed heading hides (those under
 * it up to the next heading of the same or a higher level).
 */

export interface OutlineCell {
  id: string;
  type: string;
  source: string;
}

export interface Heading {
  cellId: string;
  /** 1 (`#`) to 6 (`######`). */
  level: number;
  /** As shown in the contents: Markdown's emphasis and link syntax dropped. */
  text: string;
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** The headings of one Markdown source, in order. */
export function headingsOf(source: string): { level: number; text: string }[] {
  const found: { level: number; text: string }[] = [];
  let fence: string | null = null;
  for (const line of source.split('\n')) {
    const opening = FENCE.exec(line)?.[1];
    if (opening) {
      if (fence === null) fence = opening;
      else if (opening[0] === fence[0] && opening.length >= fence.length) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const match = ATX.exec(line);
    if (match) found.push({ level: match[1]!.length, text: plainText(match[2] ?? '') });
  }
  return found;
}

/** Markdown inline syntax out of a heading's text: `**a**`, `_a_`, `` `a` ``, `[a](url)`. */
export function plainText(markdown: string): string {
  return markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__|\*|_|`)(.+?)\1/g, '$2')
    .replace(/<[^>]+>/g, '')
    .trim();
}

/** Every heading of the notebook's Markdown cells, in notebook order. */
export function outline(cells: readonly OutlineCell[]): Heading[] {
  return cells.flatMap((cell) => cell.type !== 'markdown' ? []
    : headingsOf(cell.source).map((h) => ({ cellId: cell.id, ...h })));
}

/** A cell's level as a section head: its first heading's, or null (not a heading cell). */
export function headingLevel(cell: OutlineCell): number | null {
  if (cell.type !== 'markdown') return null;
  return headingsOf(cell.source)[0]?.level ?? null;
}

/** The cells hidden by the collapsed heading cells (`collapsed`, ids): after each, up to
 * the next heading cell of the same or a higher level (a smaller number). Each hidden cell
 * maps to the collapsed heading that hides it (the outermost one). */
export function hiddenCells(cells: readonly OutlineCell[], collapsed: ReadonlySet<string>): Map<string, string> {
  const hidden = new Map<string, string>();
  let under: { id: string; level: number } | null = null;
  for (const cell of cells) {
    const level = headingLevel(cell);
    if (under && level !== null && level <= under.level) under = null;
    if (under) {
      hidden.set(cell.id, under.id);
      continue;
    }
    if (level !== null && collapsed.has(cell.id)) under = { id: cell.id, level };
  }
  return hidden;
}

/** How many cells a collapsed heading hides (for its toggle's label). */
export function hiddenCount(hidden: ReadonlyMap<string, string>, headingId: string): number {
  let count = 0;
  for (const by of hidden.values()) if (by === headingId) count += 1;
  return count;
}
