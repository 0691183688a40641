/**
 * Collapsible sections: a heading cell's toggle hides the cells under it, up to the next
 * heading of the same or a higher level (logic/outline.ts), as JupyterLab's collapsible
 * headings. Collapsing is one person's view of the notebook, so it is kept in this
 * browser (localStorage, per notebook) and never written into the shared document
 * (Jupyter's `heading_collapsed` metadata would fold everyone's view).
 */
import { headingLevel, headingsOf, hiddenCells, hiddenCount, type OutlineCell } from '../../logic/outline';
import type { CellView } from '../cell';
import { h } from '../dom';

/** How many notebooks' folds this browser keeps: a bound on what this page stores there
 * (beyond it, some notebooks' folds are forgotten, in storage order). */
const MAX_REMEMBERED = 200;
const STORE_PREFIX = 'huddle.folds.';

/** The key of a cell that is no heading and not hidden (what a new view shows). */
const PLAIN = JSON.stringify([null, false, 0, '', false]);

export class Folds {
  private readonly collapsed: Set<string>;
  private hidden = new Map<string, string>();
  /** The cells as last applied: what `reveal` works out the folds on. */
  private cells: readonly OutlineCell[] = [];
  /** What each cell shows now, so that an unchanged cell's DOM is not touched. */
  private readonly shown = new WeakMap<CellView, string>();

  constructor(private readonly documentId: string, private readonly changed: () => void) {
    this.collapsed = new Set(load(documentId));
  }

  /** The collapsed heading that hides a cell, if any. */
  hiddenBy(cellId: string): string | undefined {
    return this.hidden.get(cellId);
  }

  toggle(headingId: string, collapse = !this.collapsed.has(headingId)): void {
    if (collapse) this.collapsed.add(headingId);
    else this.collapsed.delete(headingId);
    save(this.documentId, this.collapsed);
    this.changed();
  }

  /** Expand every section that hides `cellId` (the cell was gone to). True if any was. */
  reveal(cellId: string): boolean {
    let by = this.hidden.get(cellId);
    if (by === undefined) return false;
    // The outermost collapsed heading first; a collapsed one inside it may hide it still.
    while (by !== undefined) {
      this.collapsed.delete(by);
      by = hiddenCells(this.cells, this.collapsed).get(cellId);
    }
    save(this.documentId, this.collapsed);
    this.changed();
    return true;
  }

  /** Show the folds on the cells: toggles on heading cells, the hidden cells hidden. */
  apply(views: readonly CellView[], cells: readonly OutlineCell[]): void {
    this.cells = cells;
    this.hidden = hiddenCells(cells, this.collapsed);
    views.forEach((view, i) => {
      const cell = cells[i]!;
      const level = headingLevel(cell);
      const collapsed = level !== null && this.collapsed.has(cell.id);
      const count = collapsed ? hiddenCount(this.hidden, cell.id) : 0;
      const title = level === null ? '' : headingsOf(cell.source)[0]!.text;
      const key = JSON.stringify([level, collapsed, count, title, this.hidden.has(cell.id)]);
      // A new view is made unfolded, with nothing in its slots: a plain cell (most of a
      // 1000-cell notebook) needs no DOM write when the page opens.
      if ((this.shown.get(view) ?? PLAIN) === key) {
        this.shown.set(view, key);
        return;
      }
      this.shown.set(view, key);
      view.setFoldedAway(this.hidden.has(cell.id));
      view.fold.replaceChildren(...(level === null ? [] : [this.toggleButton(cell.id, title, collapsed)]));
      view.foldNote.replaceChildren(...(count ? [h('button', {
        type: 'button',
        className: 'hd-fold-more',
        title: `Show the cells of "${title}"`,
        onclick: () => this.toggle(cell.id, false),
      }, `${count} ${count === 1 ? 'cell' : 'cells'} hidden`)] : []));
    });
  }

  private toggleButton(cellId: string, title: string, collapsed: boolean): HTMLButtonElement {
    const label = `${collapsed ? 'Expand' : 'Collapse'} the section "${title}"`;
    return h('button', {
      type: 'button',
      className: 'hd-fold-toggle',
      'aria-expanded': String(!collapsed),
      'aria-label': label,
      title: `${label} (only in your view)`,
      onclick: (event: MouseEvent) => {
        event.stopPropagation();
        this.toggle(cellId);
      },
    }, collapsed ? '▸' : '▾');
  }
}

function load(documentId: string): string[] {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(STORE_PREFIX + documentId) ?? '[]');
    return Array.isArray(raw) ? raw.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return []; // storage off or a value not ours: nothing collapsed
  }
}

function save(documentId: string, collapsed: ReadonlySet<string>): void {
  try {
    const key = STORE_PREFIX + documentId;
    if (collapsed.size) localStorage.setItem(key, JSON.stringify([...collapsed]));
    else localStorage.removeItem(key);
    forgetOldest();
  } catch (err) {
    console.warn('keeping the collapsed sections failed', err); // they stay for this page
  }
}

/** The folds of at most MAX_REMEMBERED notebooks stay in this browser. */
function forgetOldest(): void {
  const keys: string[] = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key?.startsWith(STORE_PREFIX)) keys.push(key);
  }
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_REMEMBERED))) localStorage.removeItem(key);
}
