/**
 * "Changes since you last looked": when the notebook opens, the cells changed or added
 * since this person's last look (`GET .../changes`) get a badge ("changed since you looked ·
 * by Bob") and a banner counts them (and the cells deleted). A badge goes once its cell has
 * been in view for a moment; once none is left (or there was none), the look is recorded
 * (`POST .../seen`). Leaving the page records it too (`pagehide`, a keepalive request),
 * unless badges are still unseen: then they show again next time (more is marked, never
 * less).
 */
import type { YNotebook } from '@jupyter/ydoc';

import { changeMarks, changesBanner, LookTracker, markText, type ChangeMark } from '../../logic/history';
import type { HistoryApi } from '../../protocol/history';
import { ApiError } from '../../protocol/http';
import type { CellView } from '../cell';
import { append, h } from '../dom';

/** A marked cell counts as seen after this long in view. */
const DWELL_MS = 1500;
/** How much of a cell must show to count as in view (or this much of the window, for a
 * cell taller than it). */
const VISIBLE_RATIO = 0.5;
const VISIBLE_WINDOW = 0.4;

export interface LookedHost {
  api: HistoryApi;
  notebook: YNotebook;
  me: string;
  /** The cell views, in order (they are made anew when a cell moves). */
  cells(): readonly CellView[];
  /** Where the banner goes (under the toolbar). */
  banners: HTMLElement;
  /** The banner came (at the page's opening): what is at the top of the view now is what
   * the view holds still, so that the banner stays in view (views/cells.ts). */
  recordAnchor(): void;
  /** The banner went: keep the view where it was (the cells moved up by its height). */
  holdAnchor(): void;
  /** The document is in sync with the server: its cells are there. */
  synced: Promise<void>;
  goToCell(cellId: string): void;
  /** The server keeps no history of this notebook (turned off): 404. */
  historyOff(): void;
}

export class ChangesSinceLooked {
  private marks = new Map<string, ChangeMark>();
  private tracker: LookTracker | null = null;
  private deleted = 0;
  private observer: IntersectionObserver | null = null;
  private readonly observed = new Map<Element, string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly banner = h('div', { className: 'hd-banner hd-banner-changes', role: 'status', 'data-kind': 'changes', hidden: true });
  private active = false;
  private destroyed = false;
  private readonly onPageHide = (): void => this.leave();
  private readonly onCells = (_: unknown, change: { cellsChange?: unknown }): void => {
    if (change.cellsChange) queueMicrotask(() => this.apply());
  };
  private readonly onVisibility = (): void => {
    // A hidden tab sees nothing: the time in view starts again when it shows.
    if (!this.observer || document.visibilityState !== 'visible') return;
    for (const [el] of this.observed) this.observer.unobserve(el);
    for (const [el] of this.observed) this.observer.observe(el);
  };

  constructor(private readonly host: LookedHost) {
    host.banners.append(this.banner);
    window.addEventListener('pagehide', this.onPageHide);
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** Ask what changed and mark it (after the document synced). */
  async start(): Promise<void> {
    await this.host.synced;
    if (this.destroyed) return;
    let marks: ChangeMark[];
    try {
      const changes = await this.host.api.changes();
      const live = new Set(this.host.notebook.cells.map((c) => c.id));
      marks = changeMarks(changes, live, this.host.me);
      this.deleted = changes.deleted;
    } catch (err) {
      // No history here (turned off) or not reachable now: nothing is marked, nor recorded.
      if (err instanceof ApiError && err.status === 404) this.host.historyOff();
      else console.warn('could not ask what changed since the last look', err);
      return;
    }
    if (this.destroyed) return;
    this.active = true;
    this.marks = new Map(marks.map((m) => [m.cellId, m]));
    this.tracker = new LookTracker(this.marks.keys(), DWELL_MS);
    if (this.tracker.done && !this.deleted) return void this.recordLook();
    const top = document.querySelector('.hd-top')?.getBoundingClientRect().bottom ?? 0;
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      rootMargin: `-${Math.round(top)}px 0px 0px 0px`,
      threshold: [0, 0.25, VISIBLE_RATIO, 0.75, 1],
    });
    this.host.notebook.changed.connect(this.onCells);
    this.apply();
    if (this.tracker.done) this.finish(); // only deleted cells to tell
  }

  /** Put the badges on the marked cells' current views, and watch them. */
  private apply(): void {
    const tracker = this.tracker;
    if (!tracker || !this.observer) return;
    const left = new Set(tracker.remaining());
    const live = new Set(this.host.notebook.cells.map((c) => c.id));
    for (const id of left) if (!live.has(id)) tracker.drop(id);
    for (const [el, id] of this.observed) {
      if (el.isConnected && left.has(id)) continue;
      this.observer.unobserve(el);
      this.observed.delete(el);
    }
    for (const cell of this.host.cells()) {
      const mark = this.marks.get(cell.id);
      const shown = cell.flags.querySelector('.hd-changed-badge');
      if (!mark || !left.has(cell.id)) {
        shown?.remove();
        continue;
      }
      if (!shown) cell.flags.append(badge(mark));
      if (!this.observed.has(cell.element)) {
        this.observed.set(cell.element, cell.id);
        this.observer.observe(cell.element);
      }
    }
    this.showBanner();
    if (tracker.done) this.finish();
  }

  private onIntersect(entries: IntersectionObserverEntry[]): void {
    const tracker = this.tracker;
    if (!tracker) return;
    const now = performance.now();
    const visibleTab = document.visibilityState === 'visible';
    for (const entry of entries) {
      const id = this.observed.get(entry.target);
      if (id === undefined) continue;
      const visible = visibleTab && entry.isIntersecting && (entry.intersectionRatio >= VISIBLE_RATIO
        || entry.intersectionRect.height >= window.innerHeight * VISIBLE_WINDOW);
      tracker.inView(id, visible, now);
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const due = this.tracker?.due();
    if (due === null || due === undefined) return;
    this.timer = setTimeout(() => this.settle(), Math.max(0, due - performance.now()) + 20);
  }

  private settle(): void {
    this.timer = null;
    if (!this.tracker || this.tracker.settle(performance.now()).length === 0) return this.arm();
    this.apply();
    this.arm();
  }

  private showBanner(): void {
    const marks = (this.tracker?.remaining() ?? []).map((id) => this.marks.get(id)).filter((m): m is ChangeMark => !!m);
    const text = changesBanner(marks, this.deleted);
    const first = marks.length ? this.firstMarked(marks) : null;
    this.banner.replaceChildren();
    if (text !== null) {
      append(this.banner, h('span', {}, text),
        first ? h('button', { type: 'button', onclick: () => this.host.goToCell(first) }, 'Go to the first') : null,
        h('button', { type: 'button', onclick: () => this.clear() }, marks.length ? 'Mark all as seen' : 'Dismiss'));
    }
    // Shown or gone only now that it holds what it says: the view is held around its height.
    const hidden = text === null;
    if (hidden === this.banner.hidden) return;
    this.banner.hidden = hidden;
    if (hidden) this.host.holdAnchor();
    else this.host.recordAnchor();
  }

  private firstMarked(marks: ChangeMark[]): string | null {
    const ids = new Set(marks.map((m) => m.cellId));
    return this.host.notebook.cells.find((c) => ids.has(c.id))?.id ?? null;
  }

  /** Every mark seen at once (the banner's button). */
  private clear(): void {
    for (const id of this.tracker?.remaining() ?? []) this.tracker?.drop(id);
    this.deleted = 0;
    this.apply();
    this.finish();
    this.showBanner();
  }

  /** Nothing left to see: record the look, and stop watching. */
  private finish(): void {
    if (!this.observer) return;
    this.observer.disconnect();
    this.observer = null;
    this.observed.clear();
    this.host.notebook.changed.disconnect(this.onCells);
    this.showBanner();
    void this.recordLook();
  }

  private async recordLook(keepalive = false): Promise<void> {
    try {
      await this.host.api.seen(keepalive);
    } catch (err) {
      console.warn('could not record the look', err);
    }
  }

  /** The page is going: record the look, unless marks are still unseen. */
  private leave(): void {
    if (!this.active || !this.tracker?.done) return;
    void this.recordLook(true);
  }

  destroy(): void {
    this.leave();
    this.destroyed = true;
    this.active = false;
    window.removeEventListener('pagehide', this.onPageHide);
    document.removeEventListener('visibilitychange', this.onVisibility);
    if (this.timer) clearTimeout(this.timer);
    this.observer?.disconnect();
    this.host.notebook.changed.disconnect(this.onCells);
    this.banner.remove();
  }
}

function badge(mark: ChangeMark): HTMLElement {
  const text = markText(mark);
  return h('span', { className: `hd-changed-badge hd-changed-${mark.change === 'added' ? 'added' : 'changed'}`, title: text }, text);
}
