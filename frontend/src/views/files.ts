/** The file list of a folder: open, create, rename and delete notebooks. */
import { parentPath, siblingPath, type ContentsApi, type Entry } from '../protocol/contents';
import type { Route } from '../logic/routes';
import { h, toast } from './dom';

export interface FilesDeps {
  contents: ContentsApi;
  dir: string;
  link(route: Route, text: string, className?: string): HTMLAnchorElement;
  navigate(route: Route): void;
  fileUrl(path: string): string;
}


export class FilesPage {
  readonly element: HTMLElement;
  private readonly rows = h('tbody');
  private readonly empty = h('p', { className: 'hd-empty', hidden: true }, 'This folder is empty.');

  constructor(private readonly deps: FilesDeps) {
    this.element = h('div', { className: 'hd-files-page' },
      h('header', { className: 'hd-header' },
        deps.link({ view: 'files', dir: '' }, 'Huddle', 'hd-logo'),
        h('nav', { className: 'hd-breadcrumbs', 'aria-label': 'Folder' }, ...this.crumbs()),
        h('button', { type: 'button', className: 'hd-primary', onclick: () => void this.create() }, '+ New notebook')),
      h('main', { className: 'hd-files' },
        h('table', { className: 'hd-file-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Modified'), h('th', {}, h('span', { className: 'hd-sr' }, 'Actions')))),
          this.rows),
        this.empty));
    void this.refresh();
  }

  private crumbs(): (HTMLElement | string)[] {
    const parts = this.deps.dir ? this.deps.dir.split('/') : [];
    const crumbs: (HTMLElement | string)[] = [this.deps.link({ view: 'files', dir: '' }, 'root')];
    parts.forEach((part, i) => crumbs.push(' / ', this.deps.link({ view: 'files', dir: parts.slice(0, i + 1).join('/') }, part)));
    return crumbs;
  }

  async refresh(): Promise<void> {
    try {
      const entries = await this.deps.contents.list(this.deps.dir);
      const rows = entries.map((e) => this.row(e));
      if (this.deps.dir) rows.unshift(h('tr', {}, h('td', { colspan: '3' }, this.deps.link({ view: 'files', dir: parentPath(this.deps.dir) }, '..', 'hd-entry hd-entry-directory'))));
      this.rows.replaceChildren(...rows);
      this.empty.hidden = entries.length > 0;
    } catch (err) {
      toast(`Could not list the folder: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
  }

  private nameCell(entry: Entry): HTMLElement {
    const text = entry.name;
    const className = `hd-entry hd-entry-${entry.type}`;
    if (entry.type === 'directory') return this.deps.link({ view: 'files', dir: entry.path }, text, className);
    if (entry.type === 'notebook') return this.deps.link({ view: 'notebook', path: entry.path }, text, className);
    return h('a', { className, href: this.deps.fileUrl(entry.path), target: '_blank', rel: 'noopener' }, text);
  }

  private row(entry: Entry): HTMLTableRowElement {
    const actions = h('td', { className: 'hd-actions' });
    const row = h('tr', { 'data-path': entry.path }, h('td', {}, this.nameCell(entry)),
      h('td', { className: 'hd-modified' }, new Date(entry.last_modified).toLocaleString()), actions);
    const showActions = (): void => actions.replaceChildren(
      h('button', { type: 'button', 'aria-label': `Rename ${entry.name}`, onclick: () => this.renaming(entry, row) }, 'Rename'),
      h('button', { type: 'button', 'aria-label': `Delete ${entry.name}`, onclick: () => confirmDelete() }, 'Delete'));
    const confirmDelete = (): void => actions.replaceChildren(
      h('span', {}, `Delete ${entry.name}? `),
      h('button', { type: 'button', className: 'hd-danger', onclick: () => void this.remove(entry) }, 'Yes, delete'),
      h('button', { type: 'button', onclick: showActions }, 'Cancel'));
    showActions();
    return row;
  }

  private renaming(entry: Entry, row: HTMLTableRowElement): void {
    const field = h('input', { className: 'hd-rename', value: entry.name, 'aria-label': `New name for ${entry.name}` });
    const cell = row.cells[0]!;
    const original = [...cell.childNodes];
    const cancel = (): void => cell.replaceChildren(...original);
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') cancel();
      if (event.key === 'Enter') void this.rename(entry, field.value.trim(), cancel);
    });
    cell.replaceChildren(field);
    field.focus();
    field.setSelectionRange(0, entry.name.replace(/\.ipynb$/, '').length);
  }

  private async rename(entry: Entry, name: string, cancel: () => void): Promise<void> {
    if (!name || name === entry.name || name.includes('/')) return cancel();
    try {
      await this.deps.contents.rename(entry.path, siblingPath(entry.path, name));
      await this.refresh();
    } catch (err) {
      toast(`Could not rename: ${err instanceof Error ? err.message : String(err)}`, 'error');
      cancel();
    }
  }

  private async remove(entry: Entry): Promise<void> {
    try {
      await this.deps.contents.remove(entry.path);
      await this.refresh();
    } catch (err) {
      toast(`Could not delete: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
  }

  private async create(): Promise<void> {
    try {
      const model = await this.deps.contents.newNotebook(this.deps.dir);
      this.deps.navigate({ view: 'notebook', path: model.path });
    } catch (err) {
      toast(`Could not create a notebook: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
  }
}
