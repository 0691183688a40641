/**
 * Version history in the notebook page: the header's "History" toggle, the side panel of
 * versions (panel.ts), a version or a diff shown over the notebook (overlay.ts, drawn by
 * render.ts), restores with their "Undo" (for the person who restored only), and each
 * cell's "Who wrote this?" (blame.ts). The list follows the room: the server's RAW
 * `history` message, sent whenever a version is recorded, refreshes it. Every change goes
 * through the history API (protocol/history.ts); who may do what is the server's word,
 * mirrored here by hiding what needs edit from those without it.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { DocumentId } from '../../logic/ids';
import { localTime, restoredText } from '../../logic/history';
import { HistoryApi, parseVersion, type Diff, type DiffCell, type DiffEnd, type Listing, type Version } from '../../protocol/history';
import type { HttpClient } from '../../protocol/http';
import type { CellView } from '../cell';
import { actionToast, h, toast } from '../dom';
import { BlameGutters } from './blame';
import { VersionOverlay } from './overlay';
import { message, VersionPanel } from './panel';
import './history.css';

/** RAW `history` messages come in bursts (before-restore, restore): one refresh for them. */
const REFRESH_MS = 250;

export interface HistoryHost {
  http: HttpClient;
  documentId: DocumentId;
  notebook: YNotebook;
  /** Whether this user may edit (name, restore, undo). */
  canEdit(): boolean;
  /** Colours of the people here, by username (blame). */
  colors(): Map<string, string>;
  /** The notebook's `<main>`: inert while a version is shown over it. */
  main(): HTMLElement | null;
  /** The panel opened: other side panels close. */
  opened(): void;
  /** Open a Markdown cell's editor (blame shows beside editors). */
  requestEdit(cell: CellView): void;
}

export class HistoryView {
  readonly toggle: HTMLButtonElement;
  readonly api: HistoryApi;
  readonly blame: BlameGutters;
  private readonly panel: VersionPanel;
  private readonly overlay: VersionOverlay;
  private listing: Listing | null = null;
  private stale = true;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** What the overlay shows, to show it again after a change (a restore, a rename). */
  private showing: { kind: 'preview'; id: string } | { kind: 'diff'; from: DiffEnd; to: DiffEnd } | null = null;
  /** Each request for the overlay gets a number: only the latest one's answer is shown. */
  private request = 0;
  /** This page's restores that may still be undone: the restore version's id -> its
   * restore id (the toast goes after a while; the panel keeps offering the undo). */
  private readonly undoable = new Map<string, string>();

  constructor(private readonly host: HistoryHost) {
    this.api = new HistoryApi(host.http, host.documentId);
    this.toggle = h('button', {
      type: 'button',
      className: 'hd-history-toggle',
      'aria-pressed': 'false',
      'aria-controls': 'hd-history-panel',
      title: 'History: versions of this notebook, what changed, restore',
      onclick: () => this.setOpen(!this.panel.isOpen),
    }, clockIcon(), h('span', { className: 'hd-history-word' }, 'History'));
    this.panel = new VersionPanel({
      canEdit: () => host.canEdit(),
      preview: (version) => void this.preview(version.id),
      compare: (from, to) => void this.compare(from?.id ?? 'live', to === 'live' ? 'live' : to.id),
      restore: (version) => void this.restore(version),
      nameLive: (name) => this.nameLive(name),
      rename: (version, name) => this.rename(version, name),
      undoable: (version) => this.undoable.has(version.id),
      undo: (version) => void this.undo(this.undoable.get(version.id) ?? ''),
      close: () => this.setOpen(false, true),
    });
    this.overlay = new VersionOverlay({
      canEdit: () => host.canEdit(),
      back: () => this.back(),
      compare: (from, to) => void this.compare(from, to),
      restore: (version) => void this.restore(version),
      restoreCell: (diff, cell) => void this.restoreCell(diff, cell),
    });
    this.blame = new BlameGutters({
      api: this.api,
      colors: () => host.colors(),
      requestEdit: (cell) => host.requestEdit(cell),
      onNotebookChange: (listener) => {
        host.notebook.ydoc.on('update', listener);
        return () => host.notebook.ydoc.off('update', listener);
      },
    });
  }

  /** The panel and the overlay, for the page's layout. */
  get elements(): HTMLElement[] {
    return [this.panel.element, this.overlay.element];
  }

  setOpen(open: boolean, returnFocus = false): void {
    if (open === this.panel.isOpen) return;
    this.panel.show(open);
    this.toggle.setAttribute('aria-pressed', String(open));
    this.panel.element.parentElement?.classList.toggle('hd-history-open', open);
    if (open) {
      this.host.opened();
      this.panel.render();
      if (this.stale) void this.refresh();
    } else {
      this.back();
      if (returnFocus) this.toggle.focus();
    }
  }

  /** The server keeps no history of this notebook (`history_enabled` off): no toggle, no
   * "Who wrote this?". */
  turnedOff(): void {
    this.setOpen(false);
    this.toggle.hidden = true;
    this.panel.element.parentElement?.classList.add('hd-history-off');
  }

  /** The rights changed: redraw what depends on them. */
  rightsChanged(): void {
    this.panel.render();
    void this.reshow();
  }

  /** The server recorded a version (RAW `history`): refresh the list. */
  recorded(raw: unknown): void {
    if (!parseVersion(raw)) return;
    this.stale = true;
    if (!this.panel.isOpen || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    this.stale = false;
    try {
      this.listing = await this.api.list();
      this.panel.setError('');
      this.panel.update(this.listing);
    } catch (err) {
      this.stale = true;
      this.panel.setError(`Could not list the versions: ${message(err)}`);
    }
  }

  // --- the overlay ----------------------------------------------------------------------------

  private setMainInert(inert: boolean): void {
    const main = this.host.main();
    if (main) main.inert = inert;
  }

  async preview(versionId: string): Promise<void> {
    const request = ++this.request;
    this.showing = { kind: 'preview', id: versionId };
    this.panel.select(versionId);
    this.setMainInert(true);
    this.overlay.loading('Loading the version…');
    try {
      const preview = await this.api.preview(versionId);
      if (request === this.request) this.overlay.showPreview(preview);
    } catch (err) {
      if (request === this.request) this.overlay.failed(`Could not show the version: ${message(err)}`);
    }
  }

  async compare(from: DiffEnd, to: DiffEnd): Promise<void> {
    const request = ++this.request;
    this.showing = { kind: 'diff', from, to };
    this.panel.select(from === 'live' ? (to === 'live' ? null : to) : from);
    this.setMainInert(true);
    if (!this.overlay.isOpen) this.overlay.loading('Comparing…');
    try {
      const diff = await this.api.diff(from, to);
      if (request === this.request) this.overlay.showDiff(diff, this.listing?.versions ?? []);
    } catch (err) {
      if (request === this.request) this.overlay.failed(`Could not compare: ${message(err)}`);
    }
  }

  /** Show again what is shown (a restore changed the live side). */
  private async reshow(): Promise<void> {
    const showing = this.showing;
    if (!showing || !this.overlay.isOpen) return;
    if (showing.kind === 'preview') await this.preview(showing.id);
    else await this.compare(showing.from, showing.to);
  }

  /** Back to live: the overlay goes, the notebook is usable again. */
  back(): void {
    this.request++;
    const wasOpen = this.overlay.isOpen;
    this.showing = null;
    this.overlay.close();
    this.setMainInert(false);
    this.panel.select(null);
    if (wasOpen) this.panel.element.querySelector<HTMLElement>('.hd-version-head')?.focus({ preventScroll: true });
  }

  // --- changes --------------------------------------------------------------------------------

  private async nameLive(name: string): Promise<void> {
    const version = await this.api.name(name);
    toast(`Named this version “${version.name ?? name}”`);
    await this.refresh();
  }

  private async rename(version: Version, name: string | null): Promise<void> {
    await this.api.rename(version.id, name);
    await this.refresh();
    await this.reshow(); // its title
  }

  async restore(version: Version): Promise<void> {
    await this.restoring(version.id, localTime(version.createdAt), undefined, null);
    this.back();
  }

  private async restoreCell(diff: Diff, cell: DiffCell): Promise<void> {
    await this.restoring(diff.from.id, localTime(diff.from.createdAt), cell.id, cell.indexFrom);
    await this.reshow();
  }

  /** Restore a version (or one cell of it); offer its undo to the one who restored. */
  private async restoring(versionId: string, when: string, cellId: string | undefined, index: number | null): Promise<void> {
    try {
      const result = await this.api.restore(versionId, cellId);
      if (!result.changed || !result.restoreId) {
        toast(cellId === undefined ? 'Nothing to restore: the notebook already is that version' : 'Nothing to restore: the cell already is as in that version');
        return;
      }
      const at = cellId === undefined ? null : result.version?.restored?.index ?? index ?? 0;
      const restoreId = result.restoreId;
      if (result.version) this.undoable.set(result.version.id, restoreId);
      actionToast(restoredText(at, when), 'Undo', () => void this.undo(restoreId));
    } catch (err) {
      toast(`Could not restore: ${message(err)}`, 'error');
    }
  }

  private async undo(restoreId: string): Promise<void> {
    for (const [versionId, id] of this.undoable) if (id === restoreId) this.undoable.delete(versionId);
    this.panel.render();
    try {
      await this.api.undo(restoreId);
      toast('Restore undone');
      await this.reshow();
    } catch (err) {
      toast(`Could not undo the restore: ${message(err)}`, 'error');
    }
  }

  destroy(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.request++;
    this.panel.destroy();
    this.overlay.destroy();
    this.blame.destroy();
  }
}

/** A clock face, drawn in the text colour. */
function clockIcon(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'hd-history-icon');
  svg.setAttribute('aria-hidden', 'true');
  const face = document.createElementNS(ns, 'circle');
  face.setAttribute('cx', '8');
  face.setAttribute('cy', '8');
  face.setAttribute('r', '6.25');
  const hands = document.createElementNS(ns, 'path');
  hands.setAttribute('d', 'M8 4.5V8l2.5 1.5');
  svg.append(face, hands);
  return svg;
}
