/**
 * The list of cells: keeps one CellView per cell of the YNotebook in document order (from
 * its `cellsChange` deltas), mounts only the cells near the viewport, and tracks which cell
 * is active. The browser's scroll anchoring keeps the view still when cells or outputs
 * above it change size.
 */
import type { NotebookChange, YCellType, YNotebook } from '@jupyter/ydoc';

import type { Collaborator, ServerPresence } from '../protocol/presence';
import { EMPTY_SERVER_PRESENCE, queueEntryOf, queuePosition } from '../protocol/presence';
import { CellView, type CellContext } from './cell';
import { h } from './dom';

/** How far beyond the viewport cells are mounted: enough to scroll a screen or two
 * without seeing a placeholder, few enough that a 1000-cell notebook opens fast. */
const MOUNT_MARGIN = '1200px 0px';

export class CellList {
  readonly element: HTMLElement;
  private views: CellView[] = [];
  private readonly byElement = new WeakMap<Element, CellView>();
  private readonly observer: IntersectionObserver;
  private active: string | null = null;
  private presence: { people: Collaborator[]; server: ServerPresence } = { people: [], server: EMPTY_SERVER_PRESENCE };
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
    notebook.changed.connect(this.onChange);
    this.apply([{ insert: [...notebook.cells] }]);
  }

  private onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) this.byElement.get(entry.target)?.setNear(entry.isIntersecting);
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
  }

  private create(model: YCellType): CellView {
    const view = new CellView(model, this.ctx);
    view.element.setAttribute('role', 'listitem');
    this.presentTo(view); // a moved cell is a new view: it shows who is there at once
    this.byElement.set(view.element, view);
    this.observer.observe(view.element);
    return view;
  }

  private remove(view: CellView): void {
    this.observer.unobserve(view.element);
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

  setActive(id: string | null): void {
    if (id === this.active) return;
    this.active = id;
    this.refreshActive();
    this.activeChanged(id);
  }

  private refreshActive(): void {
    for (const view of this.views) view.setActive(view.id === this.active);
  }

  scrollToActive(): void {
    const el = this.activeView?.element;
    if (!el) return;
    const rect = el.getBoundingClientRect();
    const header = document.querySelector('.hd-toolbar')?.getBoundingClientRect().bottom ?? 0;
    if (rect.top < header || rect.bottom > window.innerHeight) el.scrollIntoView({ block: 'nearest' });
  }

  showPresence(people: Collaborator[], server: ServerPresence): void {
    this.presence = { people, server };
    for (const view of this.views) this.presentTo(view);
  }

  private presentTo(view: CellView): void {
    const { people, server } = this.presence;
    view.setPeers(people.filter((p) => !p.isMe && p.activeCellId === view.id));
    const entry = queueEntryOf(server, view.id);
    view.setRun({
      entry,
      position: entry && entry.state === 'queued' ? queuePosition(server, entry.requestId) : 0,
      last: server.runs.get(view.id) ?? null,
    });
  }

  destroy(): void {
    this.notebook.changed.disconnect(this.onChange);
    this.observer.disconnect();
    for (const view of this.views) view.destroy();
    this.views = [];
  }
}

type CellsDelta = Array<{ insert?: YCellType[]; delete?: number; retain?: number }>;
