/**
 * The file list of a folder: open, download; for who may change files (the server's rule:
 * Jupyter's "write" on contents) create notebooks and folders, upload (views/uploads.ts),
 * rename, move, duplicate and delete. Also the notebook page's links to its folder and to
 * JupyterLab (`notebookLinks`).
 */
import { movedPath } from '../logic/upload-plan';
import { parentPath, siblingPath, type ContentsApi, type Entry } from '../protocol/contents';
import type { Route } from '../logic/routes';
import { h, toast } from './dom';
import { UploadPanel } from './uploads';

export interface FilesDeps {
  contents: ContentsApi;
  dir: string;
  /** May this person change files here? Without it only open and download are offered. */
  writable: boolean;
  link(route: Route, text: string, className?: string): HTMLAnchorElement;
  navigate(route: Route): void;
  fileUrl(path: string): string;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class FilesPage {
  readonly element: HTMLElement;
  private readonly rows = h('tbody');
  private readonly empty = h('p', { className: 'hd-empty', hidden: true }, 'This folder is empty.');
  private readonly folderForm = h('form', { className: 'hd-new-folder', hidden: true });
  private readonly uploads: UploadPanel | null;
  private entries: Entry[] = [];

  constructor(private readonly deps: FilesDeps) {
    this.uploads = deps.writable ? new UploadPanel({
      contents: deps.contents,
      dir: deps.dir,
      exists: (name) => this.entries.some((e) => e.name === name),
      uploaded: () => void this.refresh(),
    }) : null;
    const main = h('main', { className: 'hd-files' },
      this.uploads?.element, this.folderForm,
      h('table', { className: 'hd-file-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Modified'), h('th', {}, h('span', { className: 'hd-sr' }, 'Actions')))),
        this.rows),
      this.empty);
    this.uploads?.dropZone(main);
    this.element = h('div', { className: 'hd-files-page' },
      h('header', { className: 'hd-header' },
        deps.link({ view: 'files', dir: '' }, 'Huddle', 'hd-logo'),
        h('nav', { className: 'hd-breadcrumbs', 'aria-label': 'Folder' }, ...this.crumbs()),
        ...(deps.writable ? this.writeControls() : [])),
      main);
    void this.refresh();
  }

  destroy(): void {
    this.uploads?.destroy();
  }

  private writeControls(): HTMLElement[] {
    return [
      h('button', { type: 'button', className: 'hd-new-folder-button', onclick: () => this.askFolderName() }, '+ New folder'),
      this.uploads!.button, this.uploads!.input,
      h('button', { type: 'button', className: 'hd-primary', onclick: () => void this.create() }, '+ New notebook'),
    ];
  }

  private crumbs(): (HTMLElement | string)[] {
    const parts = this.deps.dir ? this.deps.dir.split('/') : [];
    const crumbs: (HTMLElement | string)[] = [this.deps.link({ view: 'files', dir: '' }, 'root')];
    parts.forEach((part, i) => crumbs.push(' / ', this.deps.link({ view: 'files', dir: parts.slice(0, i + 1).join('/') }, part)));
    return crumbs;
  }

  async refresh(): Promise<void> {
    try {
      this.entries = await this.deps.contents.list(this.deps.dir);
      const rows = this.entries.map((e) => this.row(e));
      if (this.deps.dir) rows.unshift(h('tr', {}, h('td', { colspan: '3' }, this.deps.link({ view: 'files', dir: parentPath(this.deps.dir) }, '..', 'hd-entry hd-entry-directory'))));
      this.rows.replaceChildren(...rows);
      this.empty.hidden = this.entries.length > 0;
    } catch (err) {
      toast(`Could not list the folder: ${reason(err)}`, 'error');
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
    const button = (label: string, text: string, onclick: () => void): HTMLButtonElement =>
      h('button', { type: 'button', 'aria-label': `${label} ${entry.name}`, onclick }, text);
    const isFile = entry.type !== 'directory';
    const showActions = (): void => actions.replaceChildren(...[
      isFile && h('a', { className: 'hd-download', href: this.deps.contents.downloadUrl(entry.path), download: entry.name, 'aria-label': `Download ${entry.name}` }, 'Download'),
      this.deps.writable && button('Rename', 'Rename', () => this.renaming(entry, row)),
      this.deps.writable && button('Move', 'Move', () => this.moving(entry, actions, showActions)),
      this.deps.writable && isFile && button('Duplicate', 'Duplicate', () => void this.duplicate(entry)),
      this.deps.writable && button('Delete', 'Delete', () => confirmDelete()),
    ].filter((el): el is Exclude<typeof el, false> => el !== false));
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
      toast(`Could not rename: ${reason(err)}`, 'error');
      cancel();
    }
  }

  /** Move: a folder path (the folders here and the parent offered), Enter or Move. */
  private moving(entry: Entry, actions: HTMLElement, done: () => void): void {
    const listId = `hd-folders-${Math.random().toString(36).slice(2)}`;
    const folders = [...new Set([parentPath(this.deps.dir), ...this.entries
      .filter((e) => e.type === 'directory' && e.path !== entry.path).map((e) => e.path)])];
    const field = h('input', { className: 'hd-move-field', list: listId, value: this.deps.dir, placeholder: 'folder (empty: the root)', 'aria-label': `Move ${entry.name} to folder` });
    const go = (): void => void this.move(entry, field.value, done);
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') done();
      if (event.key === 'Enter') go();
    });
    actions.replaceChildren(field,
      h('datalist', { id: listId }, ...folders.map((f) => h('option', { value: f }, f || 'root'))),
      h('button', { type: 'button', onclick: go }, 'Move here'),
      h('button', { type: 'button', onclick: done }, 'Cancel'));
    field.focus();
    field.select();
  }

  private async move(entry: Entry, dir: string, done: () => void): Promise<void> {
    const target = movedPath(entry.path, dir);
    if (target === null) return toast(`Not a folder: ${dir}`, 'error');
    if (target === entry.path) return done();
    try {
      await this.deps.contents.rename(entry.path, target);
      toast(`Moved ${entry.name} to ${parentPath(target) || 'root'}`);
      await this.refresh();
    } catch (err) {
      toast(`Could not move: ${reason(err)}`, 'error');
    }
  }

  private async duplicate(entry: Entry): Promise<void> {
    try {
      const copy = await this.deps.contents.duplicate(entry.path, this.deps.dir);
      toast(`Made ${copy.name}`);
      await this.refresh();
    } catch (err) {
      toast(`Could not duplicate: ${reason(err)}`, 'error');
    }
  }

  private async remove(entry: Entry): Promise<void> {
    try {
      await this.deps.contents.remove(entry.path);
      await this.refresh();
    } catch (err) {
      toast(`Could not delete: ${reason(err)}`, 'error');
    }
  }

  private askFolderName(): void {
    const field = h('input', { className: 'hd-new-folder-name', placeholder: 'Folder name', 'aria-label': 'New folder name', required: true });
    const close = (): void => { this.folderForm.hidden = true; this.folderForm.replaceChildren(); };
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') close();
    });
    this.folderForm.onsubmit = (event) => {
      event.preventDefault();
      void this.newFolder(field.value.trim(), close);
    };
    this.folderForm.replaceChildren(field,
      h('button', { type: 'submit', className: 'hd-primary' }, 'Create folder'),
      h('button', { type: 'button', onclick: close }, 'Cancel'));
    this.folderForm.hidden = false;
    field.focus();
  }

  private async newFolder(name: string, close: () => void): Promise<void> {
    if (!name) return;
    if (name.includes('/') || name === '.' || name === '..') return toast('A folder name cannot contain "/"', 'error');
    if (this.entries.some((e) => e.name === name)) return toast(`${name} already exists here`, 'error');
    try {
      await this.deps.contents.newFolder(this.deps.dir ? `${this.deps.dir}/${name}` : name);
      close();
      await this.refresh();
    } catch (err) {
      toast(`Could not create the folder: ${reason(err)}`, 'error');
    }
  }

  private async create(): Promise<void> {
    try {
      const model = await this.deps.contents.newNotebook(this.deps.dir);
      this.deps.navigate({ view: 'notebook', path: model.path });
    } catch (err) {
      toast(`Could not create a notebook: ${reason(err)}`, 'error');
    }
  }
}

export interface NotebookLinksDeps {
  link(route: Route, text: string, className?: string): HTMLAnchorElement;
  /** JupyterLab's URL (`<base>lab/`) when the server runs it; null: no link. */
  labUrl: string | null;
}

/** For the notebook page's header: the notebook's folder in Files and, when the server
 * runs JupyterLab, the notebook there (a new tab: the Huddle page stays open). */
export function notebookLinks(path: string, deps: NotebookLinksDeps): HTMLElement {
  const dir = parentPath(path);
  const folder = deps.link({ view: 'files', dir }, `▸ ${dir ? dir.slice(dir.lastIndexOf('/') + 1) : 'Files'}`, 'hd-notebook-folder');
  folder.title = `Open the notebook's folder${dir ? ` (${dir})` : ''} in Files`;
  const lab = deps.labUrl === null ? null : h('a', {
    className: 'hd-open-lab', target: '_blank', rel: 'noopener',
    href: `${deps.labUrl}tree/${path.split('/').map(encodeURIComponent).join('/')}`,
    title: 'Open this notebook in JupyterLab (a new tab; edits are shared live)',
  }, 'Open in JupyterLab');
  return h('nav', { className: 'hd-notebook-links', 'aria-label': 'This notebook elsewhere' }, folder, lab);
}
