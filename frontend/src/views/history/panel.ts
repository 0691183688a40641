/**
 * The version history's side panel: the live notebook ("Name this version" for those who
 * may edit), then the versions newest first, each with its local time, kind or name, what
 * a restore did, who contributed and what changed. Choosing one shows it (the overlay);
 * the chosen one offers "Compare with live", "Compare with previous" and, for editors,
 * "Restore this version" and naming. Escape closes it; its keys never reach the notebook.
 */
import { flagsText, localTime, peopleText, summaryText, versionDetail, versionTitle } from '../../logic/history';
import type { Listing, Version } from '../../protocol/history';
import { append, h } from '../dom';

/** Versions drawn at first (a day of autosaves can be hundreds); more on request. */
const PAGE = 100;

export interface PanelActions {
  canEdit(): boolean;
  preview(version: Version): void;
  compare(from: Version | null, to: Version | 'live'): void;
  restore(version: Version): void;
  nameLive(name: string): Promise<void>;
  rename(version: Version, name: string | null): Promise<void>;
  /** Whether this page made this restore and may still undo it. */
  undoable(version: Version): boolean;
  undo(version: Version): void;
  close(): void;
}

export class VersionPanel {
  readonly element: HTMLElement;
  private readonly live = h('div', { className: 'hd-history-live' });
  private readonly list = h('ol', { className: 'hd-version-list', 'aria-label': 'Versions, newest first' });
  private readonly error = h('p', { className: 'hd-history-error', role: 'alert' });
  private readonly nameForm: HTMLFormElement;
  private readonly nameField = h('input', { className: 'hd-history-field', type: 'text', maxlength: '200', 'aria-label': 'Version name', placeholder: 'e.g. submitted' });
  private readonly renameField = h('input', { className: 'hd-history-field', type: 'text', maxlength: '200', 'aria-label': 'New name of the version' });
  private readonly topObserver = new ResizeObserver(() => this.place());
  private listing: Listing | null = null;
  private selected: string | null = null;
  private renaming: string | null = null;
  private shown = PAGE;

  constructor(private readonly actions: PanelActions) {
    this.nameForm = h('form', { className: 'hd-history-name-form', hidden: true, onsubmit: (event: SubmitEvent) => { event.preventDefault(); void this.submitName(); } },
      this.nameField,
      h('div', { className: 'hd-form-buttons' },
        h('button', { type: 'button', onclick: () => this.toggleNameForm(false) }, 'Cancel'),
        h('button', { type: 'submit', className: 'hd-primary-button' }, 'Name')));
    this.element = h('aside', { className: 'hd-history-panel', id: 'hd-history-panel', 'aria-label': 'Version history', hidden: true },
      h('div', { className: 'hd-comments-head' },
        h('h2', {}, 'History'),
        h('button', { type: 'button', className: 'hd-link-button', 'aria-label': 'Close the history panel', onclick: () => actions.close() }, '✕')),
      this.live, this.nameForm, this.error, this.list);
    this.element.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Escape' && !event.defaultPrevented) {
        if (this.renaming !== null) this.stopRenaming();
        else if (!this.nameForm.hidden) this.toggleNameForm(false);
        else actions.close();
      }
    });
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  show(open: boolean): void {
    this.element.hidden = !open;
    const top = document.querySelector('.hd-top');
    if (open && top) this.topObserver.observe(top);
    else this.topObserver.disconnect();
    if (open) this.place();
  }

  /** Below the sticky header and toolbar, however tall they wrap. */
  private place(): void {
    const top = document.querySelector('.hd-top')?.getBoundingClientRect().bottom ?? 0;
    this.element.style.top = `${Math.max(0, top)}px`;
  }

  setError(message: string): void {
    this.error.textContent = message;
  }

  select(id: string | null): void {
    this.selected = id;
    this.render();
  }

  update(listing: Listing): void {
    this.listing = listing;
    this.render();
  }

  render(): void {
    const listing = this.listing;
    const canEdit = this.actions.canEdit();
    this.renderLive(listing, canEdit);
    if (!canEdit) this.nameForm.hidden = true;
    if (!listing) {
      this.list.replaceChildren(h('li', { className: 'hd-empty' }, 'Loading versions…'));
      return;
    }
    // Keep the keyboard where it was across the redraw.
    const focused = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement)
      ? document.activeElement.dataset['control'] ?? null : null;
    const versions = listing.versions.slice(0, this.shown);
    const items = versions.map((v, i) => this.item(v, listing.versions[i + 1] ?? null, canEdit));
    if (!items.length) items.push(h('li', { className: 'hd-empty' }, 'No versions yet.'));
    if (listing.versions.length > this.shown) {
      items.push(h('li', {}, h('button', {
        type: 'button', className: 'hd-link-button',
        onclick: () => { this.shown += PAGE; this.render(); },
      }, `Show ${Math.min(PAGE, listing.versions.length - this.shown)} older versions`)));
    }
    this.list.replaceChildren(...items);
    if (focused) this.list.querySelector<HTMLElement>(`[data-control="${CSS.escape(focused)}"]`)?.focus();
  }

  private renderLive(listing: Listing | null, canEdit: boolean): void {
    const who = listing?.contributors.length ? ` by ${peopleText(listing.contributors)}` : '';
    const state = !listing ? '' : listing.liveChanged ? `Changed since the latest version${who}` : 'Same as the latest version';
    this.live.replaceChildren();
    append(this.live,
      h('div', { className: 'hd-history-live-text' }, h('strong', {}, 'Live notebook'), state ? h('span', {}, state) : null),
      canEdit ? h('button', {
        type: 'button',
        className: 'hd-history-name-button',
        'aria-expanded': String(!this.nameForm.hidden),
        title: 'Keep the notebook as it is now under a name (e.g. "submitted"); named versions are kept until unnamed',
        onclick: () => this.toggleNameForm(this.nameForm.hidden),
      }, 'Name this version') : null);
  }

  private toggleNameForm(open: boolean): void {
    this.nameForm.hidden = !open;
    this.render();
    if (open) this.nameField.focus();
  }

  private async submitName(): Promise<void> {
    const name = this.nameField.value.trim();
    if (!name) return this.nameField.focus();
    this.setError('');
    try {
      await this.actions.nameLive(name);
      this.nameField.value = '';
      this.toggleNameForm(false);
    } catch (err) {
      this.setError(`Could not name the version: ${message(err)}`);
    }
  }

  private item(version: Version, previous: Version | null, canEdit: boolean): HTMLElement {
    const selected = version.id === this.selected;
    const timeOf = (id: string): string => {
      const found = this.listing?.versions.find((v) => v.id === id);
      return found ? localTime(found.createdAt) : 'an older version';
    };
    const detail = versionDetail(version, timeOf);
    const li = h('li', {
      className: `hd-version${selected ? ' hd-version-selected' : ''}${version.name ? ' hd-version-named' : ''}`,
      'data-version-id': version.id,
      'data-kind': version.kind,
    },
    h('button', {
      type: 'button',
      className: 'hd-version-head',
      'aria-current': selected ? 'true' : null,
      'data-control': `show-${version.id}`,
      title: 'Show this version (read-only)',
      onclick: () => this.actions.preview(version),
    },
    h('time', { className: 'hd-version-time', datetime: new Date(version.createdAt * 1000).toISOString() }, localTime(version.createdAt)),
    h('span', { className: 'hd-version-title' }, versionTitle(version)),
    version.name ? h('span', { className: 'hd-version-kind' }, 'named') : null),
    detail ? h('p', { className: 'hd-version-detail' }, detail) : null,
    version.authors.length ? h('p', { className: 'hd-version-authors' }, `by ${peopleText(version.authors)}`) : null,
    h('p', { className: 'hd-version-summary', title: flagsText(version.flags) || null }, summaryText(version.summary)));
    if (this.renaming === version.id && canEdit) li.append(this.renameForm(version));
    else if (selected) li.append(this.tools(version, previous, canEdit));
    return li;
  }

  private tools(version: Version, previous: Version | null, canEdit: boolean): HTMLElement {
    const button = (label: string, control: string, onclick: () => void, title?: string): HTMLButtonElement =>
      h('button', { type: 'button', 'data-control': `${control}-${version.id}`, title: title ?? null, onclick }, label);
    return h('div', { className: 'hd-version-tools' },
      button('Compare with live', 'live', () => this.actions.compare(version, 'live'), 'What changed from this version to the live notebook'),
      previous ? button('Compare with previous', 'previous', () => this.actions.compare(previous, version), 'What this version changed') : null,
      this.actions.undoable(version) ? button('Undo this restore', 'undo', () => this.actions.undo(version),
        'Take back this restore of yours (what others did since stays)') : null,
      canEdit ? button('Restore this version', 'restore', () => this.actions.restore(version),
        'Make the whole live notebook this version again (undoable; others\' later typing is kept where it merges)') : null,
      canEdit ? button(version.name ? 'Rename' : 'Name', 'rename', () => this.startRenaming(version)) : null,
      canEdit && version.name ? button('Remove name', 'unname', () => void this.rename(version, null)) : null);
  }

  private renameForm(version: Version): HTMLElement {
    return h('form', { className: 'hd-history-rename-form', onsubmit: (event: SubmitEvent) => {
      event.preventDefault();
      const name = this.renameField.value.trim();
      if (name) void this.rename(version, name);
    } },
    this.renameField,
    h('div', { className: 'hd-form-buttons' },
      h('button', { type: 'button', onclick: () => this.stopRenaming() }, 'Cancel'),
      h('button', { type: 'submit', className: 'hd-primary-button' }, 'Save')));
  }

  private startRenaming(version: Version): void {
    this.renaming = version.id;
    this.renameField.value = version.name ?? '';
    this.render();
    this.renameField.focus();
    this.renameField.select();
  }

  private stopRenaming(): void {
    const id = this.renaming;
    this.renaming = null;
    this.render();
    if (id) this.list.querySelector<HTMLElement>(`[data-control="show-${id}"]`)?.focus();
  }

  private async rename(version: Version, name: string | null): Promise<void> {
    this.setError('');
    try {
      await this.actions.rename(version, name);
      if (this.renaming === version.id) this.stopRenaming();
    } catch (err) {
      this.setError(`Could not ${name === null ? 'remove the name' : 'name the version'}: ${message(err)}`);
    }
  }

  destroy(): void {
    this.topObserver.disconnect();
  }
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
