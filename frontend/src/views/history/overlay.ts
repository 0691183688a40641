/**
 * Where a version or a diff is shown: over the notebook (which is inert meanwhile), under
 * the sticky header, beside the history panel. Its bar says what is shown and offers
 * "Back to live" (or Escape), and for a version "Compare with live" and, for editors,
 * "Restore this version"; for a diff, which two sides are compared (any version, or live).
 */
import { localTime, sideText, summaryText, versionTitle } from '../../logic/history';
import type { Diff, DiffCell, DiffEnd, Preview, Version } from '../../protocol/history';
import { append, h } from '../dom';
import { renderDiff, renderVersionNotebook } from './render';

export interface OverlayActions {
  canEdit(): boolean;
  back(): void;
  compare(from: DiffEnd, to: DiffEnd): void;
  restore(version: Version): void;
  restoreCell(diff: Diff, cell: DiffCell): void;
}

export class VersionOverlay {
  readonly element: HTMLElement;
  private readonly title = h('h2', { className: 'hd-history-bar-title' });
  private readonly tools = h('div', { className: 'hd-history-bar-tools' });
  private readonly content = h('div', { className: 'hd-history-content' });
  private readonly topObserver = new ResizeObserver(() => this.place());

  constructor(private readonly actions: OverlayActions) {
    this.element = h('section', { className: 'hd-history-overlay', 'aria-label': 'Version history view', hidden: true, tabindex: '-1' },
      h('div', { className: 'hd-history-bar' }, this.title, this.tools,
        h('button', { type: 'button', className: 'hd-history-back', onclick: () => actions.back() }, 'Back to live')),
      this.content);
    this.element.addEventListener('keydown', (event) => {
      event.stopPropagation(); // the notebook's command keys are not for what is shown here
      if (event.key === 'Escape' && !event.defaultPrevented) actions.back();
    });
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  private open(): void {
    // A redraw took away the control that had the keyboard: the overlay keeps it (Escape).
    if (this.isOpen) {
      if (document.activeElement === document.body || document.activeElement === null) this.element.focus({ preventScroll: true });
      return;
    }
    this.element.hidden = false;
    const top = document.querySelector('.hd-top');
    if (top) this.topObserver.observe(top);
    this.place();
    this.element.focus({ preventScroll: true });
  }

  private place(): void {
    const top = document.querySelector('.hd-top')?.getBoundingClientRect().bottom ?? 0;
    this.element.style.top = `${Math.max(0, top)}px`;
  }

  close(): void {
    this.element.hidden = true;
    this.topObserver.disconnect();
    this.content.replaceChildren();
    this.tools.replaceChildren();
  }

  loading(title: string): void {
    this.title.textContent = title;
    this.tools.replaceChildren();
    this.content.replaceChildren(h('p', { className: 'hd-empty' }, 'Loading…'));
    this.element.dataset['view'] = 'loading';
    this.open();
  }

  failed(message: string): void {
    this.content.replaceChildren(h('p', { className: 'hd-history-error', role: 'alert' }, message));
  }

  showPreview(preview: Preview): void {
    const { version, notebook } = preview;
    this.element.dataset['view'] = 'preview';
    this.element.dataset['versionId'] = version.id;
    this.title.textContent = `${versionTitle(version)} · ${localTime(version.createdAt)} (read-only)`;
    this.tools.replaceChildren();
    append(this.tools,
      h('button', { type: 'button', onclick: () => this.actions.compare(version.id, 'live') }, 'Compare with live'),
      this.actions.canEdit() ? h('button', {
        type: 'button',
        className: 'hd-history-restore',
        title: 'Make the whole live notebook this version again (undoable)',
        onclick: () => this.actions.restore(version),
      }, 'Restore this version') : null,
    );
    this.content.replaceChildren(
      h('p', { className: 'hd-history-note' }, `This is the notebook as it was at ${localTime(version.createdAt)}: read-only, nothing runs.`),
      renderVersionNotebook(notebook));
    this.open();
  }

  /** A diff, with a choice of its two sides among `versions` (newest first). */
  showDiff(diff: Diff, versions: readonly Version[]): void {
    this.element.dataset['view'] = 'diff';
    delete this.element.dataset['versionId'];
    this.title.textContent = 'Compare versions';
    const from = this.sidePicker('From', diff.from.id, versions, false);
    const to = this.sidePicker('To', diff.to.id, versions, true);
    const change = (): void => this.actions.compare(from.value as DiffEnd, to.value as DiffEnd);
    from.addEventListener('change', change);
    to.addEventListener('change', change);
    this.tools.replaceChildren(
      h('label', { className: 'hd-history-side' }, 'From ', from),
      h('label', { className: 'hd-history-side' }, 'to ', to));
    const restoreCell = this.actions.canEdit() ? (cell: DiffCell) => this.actions.restoreCell(diff, cell) : null;
    this.content.replaceChildren(
      h('p', { className: 'hd-history-note hd-diff-summary' },
        `From ${sideText(diff.from)} to ${sideText(diff.to)}: ${summaryText(diff.summary)}.`),
      renderDiff(diff, { restoreCell }));
    this.open();
  }

  private sidePicker(label: string, current: string, versions: readonly Version[], withLive: boolean): HTMLSelectElement {
    const options = versions.map((v) => h('option', { value: v.id, selected: v.id === current }, `${localTime(v.createdAt)} · ${versionTitle(v)}`));
    if (withLive || current === 'live') options.unshift(h('option', { value: 'live', selected: current === 'live' }, 'Live notebook'));
    if (current !== 'live' && !versions.some((v) => v.id === current)) {
      options.push(h('option', { value: current, selected: true }, 'An older version'));
    }
    return h('select', { className: 'hd-history-select', 'aria-label': `${label}: version` }, ...options);
  }

  destroy(): void {
    this.topObserver.disconnect();
  }
}
