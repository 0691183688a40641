/**
 * The page's word on its connection and the server: the header's status ("Live",
 * "Reconnecting…"), the banners under the toolbar (a connection that ended, an update
 * store that fails), and the server's notices (a refused edit, a file changed outside
 * Huddle, where a stale copy was kept). What they say is logic/banners.ts.
 */
import type { YNotebook } from '@jupyter/ydoc';

import { copyNote, fileChangedText, HISTORY_DURABLE_AGAIN, HISTORY_NOT_DURABLE, statusBanner, type Banner } from '../../logic/banners';
import { routeUrl } from '../../logic/routes';
import { STATUS_TEXT, type ConnectionStatus } from '../../logic/status';
import type { RawNotice } from '../../protocol/raw';
import { h, toast } from '../dom';
import type { RoleControls } from '../roles';

export class Banners {
  /** The header's connection status. */
  readonly status = h('span', { className: 'hd-status', role: 'status' });
  /** Where the banners go, under the toolbar. */
  readonly element = h('div', { className: 'hd-banners' });
  /** Where the server kept this page's copy when it was refused as stale (RAW stale_copy). */
  private staleCopyKeptIn = '';
  private durable = true;

  constructor(
    /** The file list, for "Back to files"; null for guests. */
    private readonly filesUrl: string | null,
    private readonly roles: RoleControls,
  ) {}

  showStatus(status: ConnectionStatus): void {
    this.status.textContent = STATUS_TEXT[status];
    this.status.dataset['status'] = status;
  }

  /** After a terminal close: say why, and what can be done. */
  showEnded(status: ConnectionStatus): void {
    const banner = statusBanner(status, this.staleCopyKeptIn, !!this.filesUrl);
    if (banner) this.show(banner);
  }

  notice(notice: RawNotice): void {
    if (notice.type === 'refused') this.roles.refused(notice);
    if (notice.type === 'stale_copy') this.staleCopyKeptIn = notice.keptIn;
    if (notice.type === 'file_changed') toast(fileChangedText(notice.conflicts.length, notice.backup));
  }

  /** The server's update store failing is not an outage: say so once, and when it is over. */
  showDurability(durable: boolean): void {
    if (durable === this.durable) return;
    this.durable = durable;
    if (!durable) {
      this.show(HISTORY_NOT_DURABLE);
    } else {
      this.element.querySelector(`[data-kind="${HISTORY_NOT_DURABLE.kind}"]`)?.remove();
      toast(HISTORY_DURABLE_AGAIN);
    }
  }

  /** A personal copy says so, with a link to the notebook it copies (from its metadata,
   * which arrives with the document and may change). */
  showCopyOf(notebook: YNotebook, me: string, baseUrl: string): void {
    const show = (): void => {
      const note = copyNote(notebook.getMetadata('huddle'), me);
      const key = note ? `${note.text}\n${note.originalPath}` : '';
      const old = this.element.querySelector<HTMLElement>('[data-kind="copy"]');
      if ((old?.dataset['key'] ?? '') === key) return;
      old?.remove();
      if (!note) return;
      const link = h('a', { href: routeUrl(baseUrl, { view: 'notebook', path: note.originalPath }) }, 'Open the original');
      this.element.prepend(h('div', { className: 'hd-banner hd-banner-copy', 'data-kind': 'copy', 'data-key': key, role: 'note' },
        h('span', {}, note.text), link));
    };
    notebook.metadataChanged.connect(show);
    show();
  }

  private show(banner: Banner): void {
    this.element.querySelector(`[data-kind="${banner.kind}"]`)?.remove();
    this.element.append(h('div', { className: `hd-banner hd-banner-${banner.kind}`, 'data-kind': banner.kind, role: 'alert' },
      h('span', {}, banner.text),
      banner.action ? h('button', { type: 'button', onclick: () => this.act(banner) }, banner.action.label) : null));
  }

  private act(banner: Banner): void {
    if (banner.action?.does === 'reload') location.reload();
    else if (banner.action?.does === 'files' && this.filesUrl) location.assign(this.filesUrl);
  }
}
