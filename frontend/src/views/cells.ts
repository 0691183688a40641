/**
 * The list of cells: keeps one CellView per cell of the YNotebook in document order (from
 * its `cellsChange` deltas), mounts only the cells near the viewport, and tracks which cell
 * is active. It keeps the view still when cells or outputs above it change size (someone
 * else's output grows, a cell far above mounts its editor): the element at the top of the
 * viewport is held where it was (see logic/anchor.ts), by this code, not the browser's
 * scroll anchoring, which is turned off.
 */
import type { NotebookChange, YCellType, YNotebook } from '@jupyter/ydoc';

import { ANCHOR_TOLERANCE_PX, anchorCorrection, firstBelow } from '../logic/anchor';
import { followScroll, inView, type Span } from '../logic/follow';
import type { Collaborator, ServerPresence } from '../protocol/presence';
import { EMPTY_SERVER_PRESENCE, queueEntryOf, queuePosition } from '../protocol/presence';
import { CellView, type CellContext } from './cell';
import { h } from './dom';
import { PrintWholeNotebook } from './print';

/** How far beyond the viewport cells are mounted: enough to scroll a screen or two
 * without seeing a placeholder, few enough that a 1000-cell notebook opens fast. */
const MOUNT_MARGIN = '1200px 0px';
/** How long a cell gone to is kept in view while what is around it mounts. */
const REVEAL_MS = 1500;

export class CellList {
  readonly element: HTMLElement;
  private views: CellView[] = [];
  private readonly byElement = new WeakMap<Element, CellView>();
  private readonly observer: IntersectionObserver;
  private active: string | null = null;
  private presence: { people: Collaborator[]; server: ServerPresence } = { people: [], server: EMPTY_SERVER_PRESENCE };
  /** Of the shown presence: whether nobody else is here, and each failed Run all's failed
   * cell (by batch), for the run lines. */
  private alone = true;
  private failedIn = new Map<string, string>();
  /** What is held still: the element at the top of the viewport (a cell, or the part of
   * a cell that spans the top), its cell, and where both were. */
  private anchor: { el: Element; cell: Element; offset: number; cellOffset: number; scrollY: number } | null = null;
  /** While following someone: their cell, held still in place of the top one. */
  private pinned: string | null = null;
  private readonly resizes: ResizeObserver;
  /** Renders every cell before the page is printed (views/print.ts). */
  private readonly printing: PrintWholeNotebook;
  /** A cell just gone to (End, Home, ↑ ↓): kept fully in view while it and the cells
   * around it mount and change size, until the user scrolls or a moment has passed. */
  private revealing: { id: string; until: number } | null = null;
  /** A scroll to somewhere else than where the list last put the page is someone
   * scrolling: what is at the top from then on is what to hold. */
  private readonly onScroll = (): void => {
    if (!this.anchor || Math.abs(window.scrollY - this.anchor.scrollY) > ANCHOR_TOLERANCE_PX) {
      this.revealing = null;
      this.recordAnchor();
    }
  };
  private readonly onChange = (_: YNotebook, change: NotebookChange): void => {
    if (change.cellsChange) this.apply(change.cellsChange as CellsDelta);
  };

  constructor(
    private readonly notebook: YNotebook,
    private readonly ctx: CellContext,
    private readonly activeChanged: (id: string | null) => void,
  ) {
    this.element = h('div', { className: 'hd-cells', role: 'list', 'aria-label': 'Cells' });
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), { rootMargin: MOUNT_MARGIN });
    // Called after layout, before paint: a correction made here is never seen as a jump.
    this.resizes = new ResizeObserver(() => (this.isRevealing() ? this.scrollToActive() : this.holdAnchor()));
    notebook.changed.connect(this.onChange);
    this.apply([{ insert: [...notebook.cells] }]);
    window.addEventListener('scroll', this.onScroll, { passive: true });
    this.printing = new PrintWholeNotebook(() => this.views);
  }

  // --- keeping the view still ------------------------------------------------------------------

  /** The top of the visible area: below the sticky header and toolbar. */
  viewport(): Span {
    const bars = document.querySelector('.hd-toolbar')?.getBoundingClientRect().bottom ?? 0;
    return { top: Math.max(0, bars), bottom: window.innerHeight };
  }

  /** Hold cell `id` still (while it is in view) instead of the cell at the top: follow
   * mode keeps the followed cell where it was put while cells around it mount. */
  pin(id: string | null): void {
    if (id === this.pinned) return;
    this.pinned = id;
    this.recordAnchor();
  }

  /** Remember what is at the top of the viewport, or the pinned cell (after every scroll,
   * and after the list scrolls itself). */
  recordAnchor(): void {
    const { top, bottom } = this.viewport();
    const pinned = this.pinned === null ? null : this.views.find((v) => v.id === this.pinned)?.element;
    const rect = pinned?.getBoundingClientRect();
    if (pinned && rect && rect.bottom > top && rect.top < bottom) {
      const offset = rect.top - top;
      this.anchor = { el: pinned, cell: pinned, offset, cellOffset: offset, scrollY: window.scrollY };
      return;
    }
    const i = firstBelow(this.views.length, (k) => this.views[k]!.element.getBoundingClientRect().bottom, top);
    if (i < 0) {
      this.anchor = null;
      return;
    }
    const cell = this.views[i]!.element;
    const cellTop = cell.getBoundingClientRect().top;
    let el: Element = cell;
    let offset = cellTop - top;
    if (cellTop < top) {
      // A cell spans the top: hold the part of it that is at the top (its input, or one
      // output), so that a growing output above that part does not push it down.
      for (const part of cell.querySelectorAll('.hd-input, .hd-run, .hd-output')) {
        const rect = part.getBoundingClientRect();
        if (rect.height > 0 && rect.bottom > top) {
          el = part;
          offset = rect.top - top;
          break;
        }
      }
    }
    this.anchor = { el, cell, offset, cellOffset: cellTop - top, scrollY: window.scrollY };
  }

  /** Something changed size or was inserted or removed: scroll by as much as the anchor
   * moved, so that it is where it was. */
  holdAnchor(): void {
    const anchor = this.anchor;
    if (!anchor) return this.recordAnchor();
    const held = anchor.el.isConnected ? anchor.el : anchor.cell.isConnected ? anchor.cell : null;
    if (!held) return this.recordAnchor();
    const offsetNow = held.getBoundingClientRect().top - this.viewport().top;
    const recorded = held === anchor.el ? anchor.offset : anchor.cellOffset;
    if (Math.abs(window.scrollY - anchor.scrollY) > ANCHOR_TOLERANCE_PX) return this.recordAnchor();
    const dy = anchorCorrection({ offset: recorded, scrollY: anchor.scrollY }, offsetNow, window.scrollY);
    if (dy) window.scrollBy({ top: dy, behavior: 'instant' });
    // Keep the recorded offset as the target: scroll positions are rounded, and
    // re-recording after each correction would let the rounding add up into a drift.
    this.anchor = { el: held, cell: anchor.cell, offset: recorded, cellOffset: anchor.cellOffset, scrollY: window.scrollY };
  }

  /** Scroll so that cell `id` is in view, if it is not (follow mode); whether it scrolled. */
  bringIntoView(id: string): boolean {
    const view = this.views.find((v) => v.id === id);
    if (!view) return false;
    const rect = view.element.getBoundingClientRect();
    const dy = followScroll(rect, this.viewport());
    if (!dy) return false;
    window.scrollBy({ top: dy, behavior: 'instant' });
    this.recordAnchor();
    return true;
  }

  /** Whether cell `id` is in view. */
  isInView(id: string): boolean {
    const view = this.views.find((v) => v.id === id);
    return !!view && inView(view.element.getBoundingClientRect(), this.viewport());
  }

  private onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      // Printing lays every cell out at once: what was mounted stays (views/print.ts).
      if (!entry.isIntersecting && this.printing.active) continue;
      this.byElement.get(entry.target)?.setNear(entry.isIntersecting);
    }
  }

  private apply(delta: CellsDelta): void {
    let index = 0;
    for (const op of delta) {
      if (op.retain !== undefined) index += op.retain;
      else if (op.delete !== undefined) {
        for (const view of this.views.splice(index, op.delete)) this.remove(view);
      } else if (op.insert) {
        const created = op.insert.map((model) => this.create(model));
        const before = this.views[index]?.element ?? null;
        for (const view of created) this.element.insertBefore(view.element, before);
        this.views.splice(index, 0, ...created);
        index += created.length;
      }
    }
    if (this.active && !this.views.some((v) => v.id === this.active)) this.active = null;
    if (!this.active && this.views[0]) this.setActive(this.views[0].id);
    else this.refreshActive();
    if (this.anchor) this.holdAnchor();
  }

  private create(model: YCellType): CellView {
    const view = new CellView(model, this.ctx);
    view.element.setAttribute('role', 'listitem');
    this.presentTo(view); // a moved cell is a new view: it shows who is there at once
    this.byElement.set(view.element, view);
    this.observer.observe(view.element);
    this.resizes.observe(view.element);
    return view;
  }

  private remove(view: CellView): void {
    this.observer.unobserve(view.element);
    this.resizes.unobserve(view.element);
    view.destroy();
  }

  get cells(): readonly CellView[] {
    return this.views;
  }

  get activeId(): string | null {
    return this.active;
  }

  get activeIndex(): number {
    return this.views.findIndex((v) => v.id === this.active);
  }

  get activeView(): CellView | null {
    return this.views.find((v) => v.id === this.active) ?? null;
  }

  indexOf(id: string): number {
    return this.views.findIndex((v) => v.id === id);
  }

  /** The index of the next cell from `index` in `direction` that is not under a collapsed
   * heading (↑ ↓ pass over them, as in JupyterLab); past either end, past it. */
  step(index: number, direction: -1 | 1): number {
    let next = index + direction;
    while (this.views[next]?.isFoldedAway) next += direction;
    return next;
  }

  setActive(id: string | null): void {
    if (id === this.active) return;
    this.active = id;
    this.refreshActive();
    this.activeChanged(id);
  }

  private refreshActive(): void {
    for (const view of this.views) view.setActive(view.id === this.active);
  }

  /** Bring the active cell fully into view and keep it there while lazy editors mount
   * (a placeholder is shorter than its editor and outputs). */
  revealActive(): void {
    this.revealing = this.active === null ? null : { id: this.active, until: performance.now() + REVEAL_MS };
    this.scrollToActive();
  }

  private isRevealing(): boolean {
    const r = this.revealing;
    if (r && (r.id !== this.active || performance.now() > r.until)) this.revealing = null;
    return this.revealing !== null;
  }

  scrollToActive(): void {
    const el = this.activeView?.element;
    if (!el) return;
    const rect = el.getBoundingClientRect();
    const view = this.viewport();
    if (rect.top < view.top) window.scrollBy({ top: rect.top - view.top - 4, behavior: 'instant' });
    else if (rect.bottom > view.bottom) {
      window.scrollBy({ top: Math.min(rect.bottom - view.bottom + 4, rect.top - view.top - 4), behavior: 'instant' });
    }
    this.recordAnchor();
  }

  showPresence(people: Collaborator[], server: ServerPresence): void {
    this.presence = { people, server };
    this.alone = people.every((p) => p.isMe || p.username === people.find((q) => q.isMe)?.username);
    this.failedIn = new Map();
    for (const [cellId, run] of server.runs) if (run.batch && run.state !== 'aborted') this.failedIn.set(run.batch, cellId);
    for (const view of this.views) this.presentTo(view);
  }

  private presentTo(view: CellView): void {
    const { people, server } = this.presence;
    view.setPeers(people.filter((p) => !p.isMe && p.activeCellId === view.id));
    const entry = queueEntryOf(server, view.id);
    const last = server.runs.get(view.id) ?? null;
    const failed = last?.state === 'aborted' && last.batch ? this.failedIn.get(last.batch) : undefined;
    const failedIndex = failed === undefined ? -1 : this.indexOf(failed);
    view.setRun({
      entry,
      position: entry && entry.state === 'queued' ? queuePosition(server, entry.requestId) : 0,
      last,
      alone: this.alone,
      failedCell: failedIndex < 0 ? null : failedIndex + 1,
    });
  }

  destroy(): void {
    window.removeEventListener('scroll', this.onScroll);
    this.printing.destroy();
    this.notebook.changed.disconnect(this.onChange);
    this.observer.disconnect();
    this.resizes.disconnect();
    for (const view of this.views) view.destroy();
    this.views = [];
  }
}

type CellsDelta = Array<{ insert?: YCellType[]; delete?: number; retain?: number }>;
