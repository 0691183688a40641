/**
 * The notebook page: header (name, connection, save state, kernel, people), toolbar,
 * banners, and the cell list; Jupyter's keyboard model; cell commands as @jupyter/ydoc
 * does them; running through the shared kernel.
 */
import type { SharedCell, YNotebook } from '@jupyter/ydoc';

import { isHexColor, lightColor, initialsOf, settleColor, userColor } from '../logic/colors';
import { CommandKeys, type Command } from '../logic/keys';
import type { Capability } from '../logic/roles';
import { STATUS_TEXT, type ConnectionStatus } from '../logic/status';
import type { Access, AccessApi } from '../protocol/access';
import type { HttpClient } from '../protocol/http';
import type { Identity, KernelsApi } from '../protocol/kernels';
import type { Collaborator } from '../protocol/presence';
import type { RawNotice } from '../protocol/raw';
import type { LocalUser, NotebookRoom } from '../protocol/room';
import type { CellView } from './cell';
import { CellList } from './cells';
import { CommentsView } from './comments';
import { h, toast } from './dom';
import type { EditorKeys } from './editor';
import { FollowMode } from './follow';
import { KernelControls } from './kernel';
import { exportMenu, MenuCloser } from './menus';
import { PeopleBar } from './people';
import { QueuePanel } from './queue';
import { RoleControls } from './roles';
import { SaveStatus } from './save';

type CellType = 'code' | 'markdown' | 'raw';
type CellJson = SharedCell.Cell & { cell_type: CellType; source: string };
type Mode = 'command' | 'edit';

export interface NotebookDeps {
  room: NotebookRoom;
  kernels: KernelsApi;
  me: Identity;
  /** The file list; null for guests (a share link opens only its notebook). */
  filesUrl: string | null;
  navigateFiles(event: MouseEvent): void;
  accessApi: AccessApi;
  /** This user's capabilities on the notebook, as the page opened. */
  access: Access;
  http: HttpClient;
}

export class NotebookPage {
  readonly element: HTMLElement;
  private readonly list: CellList;
  private readonly comments: CommentsView;
  private readonly roles: RoleControls;
  private readonly people: PeopleBar;
  private readonly status = h('span', { className: 'hd-status', role: 'status' });
  private readonly save: SaveStatus;
  private readonly queue: QueuePanel;
  private readonly follow: FollowMode;
  private readonly menus: MenuCloser;
  private user: LocalUser;
  private readonly banner = h('div', { className: 'hd-banners' });
  private readonly keys = new CommandKeys();
  private mode: Mode = 'command';
  private readonly kernel: KernelControls;
  private clipboard: CellJson[] = [];
  private deleted: { index: number; cells: CellJson[] }[] = [];
  private readonly onKey = (event: KeyboardEvent): void => this.commandKey(event);

  constructor(private readonly deps: NotebookDeps) {
    const { room, me } = deps;
    const color = userColor(me.username, me.color);
    this.user = {
      username: me.username,
      name: me.display_name || me.name || me.username,
      display_name: me.display_name || me.name || me.username,
      initials: me.initials || initialsOf(me.display_name || me.username),
      color,
      colorLight: lightColor(color),
      colorSource: isHexColor(me.color) ? 'identity' : 'auto',
      joined: Date.now(),
    };
    room.setUser(this.user);
    this.roles = new RoleControls({ room, api: deps.accessApi, access: deps.access, myUsername: me.username });
    this.comments = new CommentsView({
      notebook: room.notebook,
      documentId: room.documentId,
      http: deps.http,
      me: me.username,
      collaborators: () => room.collaborators(),
      activeCellId: () => this.list.activeId,
      showCell: (id, range, output) => this.showThreadPlace(id, range, output),
    });
    this.list = new CellList(room.notebook, {
      awareness: room.awareness,
      myUsername: me.username,
      keysFor: (cell) => this.editorKeys(cell),
      focused: (cell) => this.select(cell, cell.hasFocus ? 'edit' : 'command'),
      requestEdit: (cell) => this.edit(cell),
      answerInput: (id, value) => void this.kernel.answer(id, value),
      cancelRun: (id) => void this.kernel.cancel(id),
      comments: this.comments,
      access: this.roles,
    }, (id) => room.setActiveCell(id));
    this.save = new SaveStatus(room);
    this.queue = new QueuePanel({
      myUsername: me.username,
      describeCell: (id) => {
        const index = this.list.indexOf(id);
        return index < 0 ? null : { index, firstLine: this.list.cells[index]!.model.ysource.toString().split('\n')[0]! };
      },
      goToCell: (id) => this.goToCell(id),
      cancel: (id) => void this.kernel.cancel(id),
    });
    this.kernel = new KernelControls(deps.kernels, room, this.queue);
    this.follow = new FollowMode(this.list, () => this.showPresence());
    this.people = new PeopleBar((clientId) => this.jumpTo(clientId), (clientId) => this.toggleFollow(clientId),
      { key: () => this.roles.peopleKey(), extra: (p) => this.roles.personExtra(p) });
    const name = room.path.slice(room.path.lastIndexOf('/') + 1);
    this.element = h('div', { className: 'hd-notebook-page' },
      // One sticky block, so that the toolbar stays under the header however it wraps.
      h('div', { className: 'hd-top' },
        h('header', { className: 'hd-header' },
          deps.filesUrl === null ? h('span', { className: 'hd-logo' }, 'Huddle')
            : h('a', { className: 'hd-logo', href: deps.filesUrl, onclick: deps.navigateFiles, title: 'All files' }, 'Huddle'),
          h('h1', { className: 'hd-title', title: room.path }, name), this.roles.badge,
          this.status, this.save.element, this.queue.element, this.follow.badge, this.roles.present.bar, this.comments.toggle,
          this.people.element, this.roles.actions),
        this.toolbar()),
      this.banner,
      h('main', { className: 'hd-notebook', tabindex: '-1', 'aria-label': `Notebook ${name}` }, this.list.element),
      this.comments.panel);
    this.menus = new MenuCloser(this.element);
    this.roles.mount(this.element, this.follow);
    this.roles.changed.on(() => this.schedulePresence());
    room.statusChanged.on((s) => this.showStatus(s));
    room.stateChanged.on(() => this.save.show());
    room.presenceChanged.on(() => this.schedulePresence());
    room.notices.on((n) => this.notice(n));
    document.addEventListener('keydown', this.onKey);
    this.showStatus(room.status);
    void this.kernel.find();
  }

  private get notebook(): YNotebook {
    return this.deps.room.notebook;
  }

  private toolbar(): HTMLElement {
    // `needs`: the capability without which the control is hidden (views/roles.ts).
    const button = (label: string, text: string, action: () => void, needs?: Capability): HTMLButtonElement =>
      h('button', { type: 'button', 'aria-label': label, title: label, 'data-needs': needs, onclick: () => { action(); this.refocus(); } }, text);
    return h('nav', { className: 'hd-toolbar', 'aria-label': 'Notebook actions' },
      button('Run cell and advance (Shift+Enter)', '▶ Run', () => this.exec('runAdvance'), 'execute'),
      button('Run all cells', '▶▶ Run all', () => void this.runAll(), 'execute'),
      button('Run the cells above the selected cell', '▲ Run above', () => void this.runAbove(), 'execute'),
      button('Run the selected cell and the cells below it', '▼ Run below', () => void this.runBelow(), 'execute'),
      button('Interrupt the kernel (I, I)', '■ Interrupt', () => void this.kernel.action('interrupt'), 'interrupt'),
      button('Restart the kernel', '↻ Restart', () => void this.kernel.action('restart'), 'restart'),
      h('span', { className: 'hd-sep', 'data-needs': 'execute' }),
      button('Insert a code cell below (B)', '+ Code', () => this.insert(1, 'code'), 'edit'),
      button('Insert a Markdown cell below', '+ Markdown', () => this.insert(1, 'markdown'), 'edit'),
      button('Move the cell up', '↑', () => this.move(-1), 'edit'),
      button('Move the cell down', '↓', () => this.move(1), 'edit'),
      button('Delete the cell (D, D)', '✕ Delete', () => this.exec('delete'), 'edit'),
      h('span', { className: 'hd-sep', 'data-needs': 'edit' }),
      exportMenu((format) => this.deps.kernels.exportUrl(this.deps.room.documentId, format)));
  }

  // --- status ------------------------------------------------------------------------------

  private showStatus(status: ConnectionStatus): void {
    this.status.textContent = STATUS_TEXT[status];
    this.status.dataset['status'] = status;
    this.save.show();
    // After a terminal close nothing typed here could reach the server: stop editing.
    this.list.element.inert = status === 'stale' || status === 'gone' || status === 'failed' || status === 'ended';
    if (status === 'stale') {
      const kept = this.staleCopyKeptIn ? ` What you typed here is kept in ${this.staleCopyKeptIn}.` : '';
      this.showBanner('stale', `The server rebuilt this notebook's history; this page's copy is out of date and was not merged.${kept} Reload to continue.`, 'Reload', () => location.reload());
    } else if (status === 'gone') {
      const files = this.deps.filesUrl;
      this.showBanner('gone', 'This notebook was deleted or moved away.', files ? 'Back to files' : undefined, files ? () => location.assign(files) : undefined);
    } else if (status === 'ended') {
      this.showBanner('ended', 'Your access to this notebook ended: its share link was revoked or has expired. Ask the owner for a new link.');
    } else if (status === 'failed') {
      this.showBanner('failed', 'The server could not open this notebook.', 'Reload', () => location.reload());
    }
  }

  private showBanner(kind: string, text: string, action?: string, onAction?: () => void): void {
    this.banner.querySelector(`[data-kind="${kind}"]`)?.remove();
    this.banner.append(h('div', { className: `hd-banner hd-banner-${kind}`, 'data-kind': kind, role: 'alert' },
      h('span', {}, text),
      action && onAction ? h('button', { type: 'button', onclick: onAction }, action) : null));
  }

  /** Where the server kept this page's copy when it was refused as stale (RAW stale_copy). */
  private staleCopyKeptIn = '';

  private notice(notice: RawNotice): void {
    if (notice.type === 'refused') this.roles.refused(notice);
    if (notice.type === 'stale_copy') this.staleCopyKeptIn = notice.keptIn;
    if (notice.type === 'file_changed') {
      const text = notice.conflicts.length
        ? `The file was changed outside Huddle; ${notice.conflicts.length} cell(s) edited here were replaced${notice.backup ? ` (your version is in ${notice.backup})` : ''}.`
        : 'The file was changed outside Huddle; the changes were merged.';
      toast(text);
    }
  }

  private presenceFrame = 0;

  /** Presence changes with every cursor move of everyone: show it at most once a frame. */
  private schedulePresence(): void {
    if (this.presenceFrame) return;
    this.presenceFrame = requestAnimationFrame(() => {
      this.presenceFrame = 0;
      this.showPresence();
    });
  }

  private showPresence(): void {
    const people = this.deps.room.collaborators();
    const server = this.deps.room.serverPresence();
    this.settleColor(people);
    this.roles.presence(people); // presenting: whom to follow
    this.follow.update(people);
    this.people.show(people, this.follow.following);
    this.list.showPresence(people, server);
    if (server.kernel) this.kernel.runner.adopt(server.kernel.id);
    this.queue.show(server);
    this.showDurability(server.historyDurable);
  }

  private durable = true;

  /** The server's update store failing is not an outage: say so once, and when it is over. */
  private showDurability(durable: boolean): void {
    if (durable === this.durable) return;
    this.durable = durable;
    if (!durable) {
      this.showBanner('durability', 'The server cannot write this notebook\'s edit history right now. Editing, running and saving to the file go on; the history is written when the server can again.');
    } else {
      this.banner.querySelector('[data-kind="durability"]')?.remove();
      toast('The server writes this notebook\'s edit history again.');
    }
  }

  /** Two people must not show in one colour: move mine if someone there first has it. */
  private settleColor(people: Collaborator[]): void {
    const me = people.find((p) => p.isMe);
    if (!me) return;
    const claim = (p: Collaborator) => ({ username: p.username, clientId: p.clientId, color: p.color, explicit: p.colorExplicit, since: p.since });
    const color = settleColor(claim(me), people.filter((p) => !p.isMe).map(claim));
    if (color === this.user.color) return;
    this.user = { ...this.user, color, colorLight: lightColor(color) };
    this.deps.room.setUser(this.user);
  }

  private goToCell(cellId: string): void {
    if (this.list.indexOf(cellId) < 0) return;
    this.list.setActive(cellId);
    this.list.scrollToActive();
    this.command();
  }

  /** A review thread's place: its cell, active and in view, with its text selected. */
  private showThreadPlace(cellId: string, range: { start: number; end: number } | null, output: number | null): void {
    const view = this.list.cells.find((c) => c.id === cellId);
    if (!view) return;
    this.list.setActive(cellId);
    this.list.scrollToActive();
    if (range) view.selectText(range.start, range.end);
    if (output !== null) view.showOutput(output);
    this.list.recordAnchor();
  }

  private jumpTo(clientId: number): void {
    // Going to someone else is leaving the one you followed.
    if (this.follow.following !== null && this.follow.following !== clientId) this.follow.stop(null);
    const person = this.deps.room.collaborators().find((p) => p.clientId === clientId);
    const view = person?.activeCellId ? this.list.cells.find((c) => c.id === person.activeCellId) : null;
    if (!view) return;
    const rect = view.element.getBoundingClientRect();
    const area = this.list.viewport();
    window.scrollBy({ top: rect.top - (area.top + area.bottom - rect.height) / 2, behavior: 'instant' });
    this.list.recordAnchor();
    view.element.style.setProperty('--hd-flash-color', person!.color);
    view.element.classList.add('hd-flash');
    setTimeout(() => view.element.classList.remove('hd-flash'), 1200);
  }

  private toggleFollow(clientId: number): void {
    const person = this.deps.room.collaborators().find((p) => p.clientId === clientId);
    if (person) this.follow.toggle(person);
  }

  // --- selection and modes -------------------------------------------------------------------

  private select(cell: CellView, mode: Mode): void {
    this.list.setActive(cell.id);
    this.mode = mode;
  }

  private edit(cell: CellView, at: 'start' | 'end' | 'keep' = 'keep'): void {
    this.list.setActive(cell.id);
    this.mode = 'edit';
    cell.setEditing(true);
    cell.focusEditor(at);
  }

  private command(): void {
    this.mode = 'command';
    this.list.activeView?.blurEditor();
    this.refocus();
  }

  private refocus(): void {
    if (this.mode === 'command') this.element.querySelector<HTMLElement>('.hd-notebook')?.focus({ preventScroll: true });
  }

  private activate(index: number, mode: Mode): void {
    const view = this.list.cells[Math.max(0, Math.min(index, this.list.cells.length - 1))];
    if (!view) return;
    this.list.setActive(view.id);
    this.list.scrollToActive();
    if (mode === 'edit' && view.model.cell_type !== 'markdown') this.edit(view, 'start');
    else this.command();
  }

  private editorKeys(cell: CellView): EditorKeys {
    return {
      escape: () => this.command(),
      run: () => this.exec('run', cell),
      runAdvance: () => this.exec('runAdvance', cell),
      runInsert: () => this.exec('runInsert', cell),
      leave: (direction) => {
        const index = this.list.indexOf(cell.id) + direction;
        const next = this.list.cells[index];
        if (!next) return false;
        this.list.setActive(next.id);
        this.list.scrollToActive();
        this.edit(next, direction < 0 ? 'end' : 'start');
        return true;
      },
    };
  }

  private commandKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    if (this.mode !== 'command' || target?.closest('.cm-editor, input, textarea, select, button, a, summary, details, [contenteditable], dialog')) return;
    if (!this.element.isConnected) return;
    const command = this.keys.handle(event, performance.now());
    if (!command) return;
    event.preventDefault();
    this.exec(command);
  }

  // --- commands --------------------------------------------------------------------------------

  exec(command: Command, cell: CellView | null = this.list.activeView): void {
    const index = cell ? this.list.indexOf(cell.id) : -1;
    if (!cell || index < 0 || !this.roles.allows(command, cell.model)) return;
    switch (command) {
      case 'edit': return this.edit(cell);
      case 'run': return void this.run([cell], index, false, false);
      case 'runAdvance': return void this.run([cell], index, true, false);
      case 'runInsert': return void this.run([cell], index, true, true);
      case 'insertAbove': return this.insert(0, 'code');
      case 'insertBelow': return this.insert(1, 'code');
      case 'delete': return this.remove(index, 'delete');
      case 'cut': return this.remove(index, 'cut');
      case 'copy': this.clipboard = [this.cellJson(index)]; return toast('Cell copied');
      case 'paste': return this.paste(index + 1);
      case 'undoDelete': return this.undoDelete();
      case 'toCode': return this.changeType(index, 'code');
      case 'toMarkdown': return this.changeType(index, 'markdown');
      case 'toRaw': return this.changeType(index, 'raw');
      case 'up': return this.activate(index - 1, 'command');
      case 'down': return this.activate(index + 1, 'command');
      case 'first': return this.activate(0, 'command');
      case 'last': return this.activate(this.list.cells.length - 1, 'command');
      case 'interrupt': return void this.kernel.action('interrupt');
    }
  }

  private cellJson(index: number): CellJson {
    const json = this.notebook.getCell(index).toJSON();
    return { cell_type: json.cell_type as CellType, source: String(json.source ?? ''), metadata: json.metadata };
  }

  private insert(offset: 0 | 1, type: CellType, source = ''): void {
    const at = Math.max(0, this.list.activeIndex) + (this.list.cells.length ? offset : 0);
    const model = this.notebook.insertCell(at, { cell_type: type, source });
    this.list.setActive(model.id);
    this.list.scrollToActive();
    this.command();
  }

  private remove(index: number, why: 'delete' | 'cut'): void {
    const cells = [this.cellJson(index)];
    if (why === 'cut') this.clipboard = cells;
    this.deleted.push({ index, cells });
    this.notebook.deleteCell(index);
    this.activate(Math.min(index, this.list.cells.length - 1), 'command');
  }

  private undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) return;
    const at = Math.min(last.index, this.notebook.cells.length);
    this.notebook.insertCells(at, last.cells.map((c) => ({ ...c })));
    this.activate(at, 'command');
  }

  private paste(at: number): void {
    if (!this.clipboard.length) return;
    this.notebook.insertCells(at, this.clipboard.map((c) => ({ ...c })));
    this.activate(at, 'command');
  }

  /** Same id, source and metadata, new type: one transaction, as JupyterLab does it. */
  private changeType(index: number, type: CellType): void {
    const old = this.notebook.getCell(index);
    if (old.cell_type === type) return;
    const json = { ...this.cellJson(index), id: old.id, cell_type: type };
    this.notebook.transact(() => {
      this.notebook.deleteCell(index);
      this.notebook.insertCell(index, json);
    });
    this.activate(index, 'command');
  }

  private move(direction: -1 | 1): void {
    const index = this.list.activeIndex;
    const to = index + direction;
    if (index < 0 || to < 0 || to >= this.list.cells.length) return;
    if (!this.roles.allows('move', this.list.activeView?.model ?? null)) return;
    this.notebook.moveCell(index, to);
    this.list.setActive(this.notebook.getCell(to).id);
    this.list.scrollToActive();
  }

  // --- running -----------------------------------------------------------------------------------

  private async run(cells: CellView[], index: number, advance: boolean, insert: boolean): Promise<void> {
    for (const cell of cells) if (cell.model.cell_type === 'markdown') cell.setEditing(false);
    const wasEditing = this.mode === 'edit';
    if (advance) {
      if ((insert || index + 1 >= this.list.cells.length) && this.roles.has('edit')) {
        this.list.setActive(cells[cells.length - 1]!.id);
        this.insert(1, 'code');
        if (wasEditing && this.list.activeView) this.edit(this.list.activeView, 'start');
      } else {
        this.activate(index + 1, wasEditing ? 'edit' : 'command');
      }
    }
    await this.kernel.execute(cells);
  }

  async runAll(): Promise<void> {
    await this.runRange(0, this.list.cells.length);
  }

  /** Every cell above the selected one (not itself), as Jupyter's "Run All Above". */
  async runAbove(): Promise<void> {
    const index = this.list.activeIndex;
    if (index > 0) await this.runRange(0, index);
  }

  /** The selected cell and every cell below it. */
  async runBelow(): Promise<void> {
    const index = this.list.activeIndex;
    if (index >= 0) await this.runRange(index, this.list.cells.length);
  }

  private async runRange(from: number, to: number): Promise<void> {
    const cells = this.list.cells.slice(from, to);
    for (const cell of cells) if (cell.model.cell_type === 'markdown') cell.setEditing(false);
    await this.kernel.execute(cells);
  }

  destroy(): void {
    cancelAnimationFrame(this.presenceFrame);
    document.removeEventListener('keydown', this.onKey);
    this.follow.destroy();
    this.menus.destroy();
    this.comments.destroy();
    this.roles.destroy();
    this.list.destroy();
    this.deps.room.destroy();
    this.element.remove();
  }
}
