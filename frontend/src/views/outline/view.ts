/**
 * The notebook's outline in the page: the table of contents (contents.ts) and the
 * collapsible sections (folds.ts), both worked out from the cells' Markdown headings
 * (logic/outline.ts) a moment after the notebook changes, not on every keystroke.
 */
import type { YNotebook } from '@jupyter/ydoc';

import { outline, type Heading, type OutlineCell } from '../../logic/outline';
import type { CellList } from '../cells';
import { ContentsPanel } from './contents';
import { Folds } from './folds';

/** How long after a change the outline is worked out again: typing in a heading updates
 * it soon after, and a burst of edits costs one pass. */
const REFRESH_MS = 200;

export interface OutlineDeps {
  notebook: YNotebook;
  documentId: string;
  list: CellList;
  /** Make the cell active and bring it into view (the page's places). */
  goToCell(cellId: string): void;
  /** The contents panel opened. */
  opened?(): void;
}

export class OutlineView {
  readonly contents: ContentsPanel;
  private readonly folds: Folds;
  private headings: Heading[] = [];
  private cells: OutlineCell[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly onUpdate = (): void => this.schedule();

  constructor(private readonly deps: OutlineDeps) {
    this.folds = new Folds(deps.documentId, () => this.refresh());
    this.contents = new ContentsPanel((cellId) => this.goTo(cellId), () => {
      this.render();
      deps.opened?.();
    });
    deps.notebook.ydoc.on('update', this.onUpdate);
  }

  /** Work the outline out now (the page is built; a fold changed). */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const views = this.deps.list.cells;
    // Only Markdown sources are read: a code cell's text is never a heading.
    this.cells = views.map((v) => ({ id: v.id, type: v.model.cell_type, source: v.model.cell_type === 'markdown' ? v.model.ysource.toString() : '' }));
    this.headings = outline(this.cells);
    this.folds.apply(views, this.cells);
    this.render();
  }

  /** The active cell changed: a cell under a collapsed heading is shown (someone went to
   * it: a search, a thread, the run queue, End), and the contents mark its section. */
  activeChanged(cellId: string | null): void {
    if (cellId !== null && this.folds.hiddenBy(cellId) !== undefined) this.folds.reveal(cellId);
    else this.render();
  }

  private goTo(cellId: string): void {
    this.folds.reveal(cellId);
    this.deps.goToCell(cellId);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  private render(): void {
    if (!this.contents.isOpen) return;
    this.contents.render(this.headings, this.currentHeading());
  }

  /** The last heading at or above the active cell. */
  private currentHeading(): Heading | null {
    const active = this.deps.list.activeIndex;
    if (active < 0) return null;
    const index = new Map(this.cells.map((c, i) => [c.id, i]));
    let current: Heading | null = null;
    for (const heading of this.headings) {
      if ((index.get(heading.cellId) ?? Infinity) > active) break;
      current = heading;
    }
    return current;
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.deps.notebook.ydoc.off('update', this.onUpdate);
    this.contents.destroy();
  }
}
