/**
 * The notebook page: makes its parts (cells, comments, version history, roles, people, run
 * queue, kernel and its picker, cell-type list, outline, save state, banners) and wires them to the room: presence shown at most
 * once a frame, the connection status, the server's notices (a recorded version refreshes
 * the history). Each job is a module beside this one:
 * layout.ts (the elements), keyboard.ts (command and edit mode, keys), commands.ts (what a
 * command does to the cells, running), places.ts (going to a cell or a person),
 * colors.ts (this user's colour) and banners.ts (status, banners, notices).
 */
import type { Command } from '../../logic/keys';
import { isTerminal, type ConnectionStatus } from '../../logic/status';
import type { Access, AccessApi } from '../../protocol/access';
import type { HttpClient } from '../../protocol/http';
import type { Identity, KernelsApi } from '../../protocol/kernels';
import type { NotebookRoom } from '../../protocol/room';
import type { CellView } from '../cell';
import { CellList } from '../cells';
import { CommentsView } from '../comments/view';
import { FollowMode } from '../follow';
import { ChangesSinceLooked } from '../history/looked';
import { HistoryView } from '../history/view';
import { CellTypePicker } from '../cell-type';
import { KernelControls } from '../kernel';
import { KernelPicker } from '../kernel-picker';
import { MenuCloser } from '../menus';
import { OutlineView } from '../outline/view';
import { PeopleBar } from '../people';
import { QueuePanel } from '../queue';
import { RoleControls } from '../roles';
import { SaveKey, SaveStatus } from '../save';
import { WidgetSlots } from '../widgets';
import '../staples.css';
import { Banners } from './banners';
import { OwnColor } from './colors';
import { CellCommands } from './commands';
import { CommandKeyListener, editorKeys, Modes } from './keyboard';
import { pageLayout, toolbar } from './layout';
import { Places } from './places';

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
  private readonly color: OwnColor;
  private readonly roles: RoleControls;
  private readonly banners: Banners;
  private readonly comments: CommentsView;
  private readonly history: HistoryView;
  private readonly looked: ChangesSinceLooked;
  private readonly list: CellList;
  private readonly save: SaveStatus;
  private readonly widgets: WidgetSlots;
  private readonly queue: QueuePanel;
  private readonly kernel: KernelControls;
  private readonly kernelPicker: KernelPicker;
  private readonly cellType: CellTypePicker;
  private readonly outline: OutlineView;
  private readonly follow: FollowMode;
  private readonly people: PeopleBar;
  private readonly modes: Modes;
  private readonly commands: CellCommands;
  private readonly places: Places;
  private readonly menus: MenuCloser;
  private readonly keys: CommandKeyListener;
  private readonly saveKey: SaveKey;
  private presenceFrame = 0;

  constructor(private readonly deps: NotebookDeps) {
    const { room, me } = deps;
    this.color = new OwnColor(room, me);
    this.roles = new RoleControls({ room, api: deps.accessApi, access: deps.access, myUsername: me.username });
    this.banners = new Banners(deps.filesUrl, this.roles);
    this.comments = new CommentsView({
      notebook: room.notebook,
      documentId: room.documentId,
      http: deps.http,
      me: me.username,
      collaborators: () => room.collaborators(),
      activeCellId: () => this.list.activeId,
      showCell: (id, range, output) => this.places.showThreadPlace(id, range, output),
      opened: () => this.history.setOpen(false),
    });
    this.history = new HistoryView({
      http: deps.http,
      documentId: room.documentId,
      notebook: room.notebook,
      canEdit: () => this.roles.has('edit'),
      colors: () => new Map(room.collaborators().map((p) => [p.username, p.color])),
      main: () => this.element.querySelector<HTMLElement>('.hd-notebook'),
      opened: () => this.comments.setOpen(false),
      requestEdit: (cell) => this.modes.edit(cell),
    });
    this.widgets = new WidgetSlots({ notebook: room.notebook, documentId: room.documentId, baseUrl: deps.http.baseUrl });
    // The cells' callbacks run on user input and on mount, after this constructor.
    this.list = new CellList(room.notebook, {
      awareness: room.awareness,
      myUsername: me.username,
      keysFor: (cell) => editorKeys(cell, this.list, this.modes, (command, on) => this.exec(command, on)),
      focused: (cell) => this.modes.select(cell, cell.hasFocus ? 'edit' : 'command'),
      requestEdit: (cell) => this.modes.edit(cell),
      answerInput: (id, value) => void this.kernel.answer(id, value),
      cancelRun: (id) => void this.kernel.cancel(id),
      run: (cell, byPointer) => {
        this.exec('run', cell);
        if (byPointer) this.modes.refocus();
      },
      comments: this.comments,
      history: this.history.blame,
      access: this.roles,
      widgets: this.widgets,
    }, (id) => {
      room.setActiveCell(id);
      // (a cell may be made active while the page is still being made: these come later)
      this.outline?.activeChanged(id);
      this.cellType?.show();
    });
    this.save = new SaveStatus(room);
    this.queue = new QueuePanel({
      myUsername: me.username,
      describeCell: (id) => {
        const index = this.list.indexOf(id);
        return index < 0 ? null : { index, firstLine: this.list.cells[index]!.model.ysource.toString().split('\n')[0]! };
      },
      goToCell: (id) => this.places.goToCell(id),
      cancel: (id) => void this.kernel.cancel(id),
    });
    this.kernel = new KernelControls(deps.kernels, room, this.queue, me.username);
    this.follow = new FollowMode(this.list, () => this.showPresence());
    this.people = new PeopleBar((clientId) => this.places.jumpTo(clientId), (clientId) => this.places.toggleFollow(clientId),
      { key: () => this.roles.peopleKey(), extra: (p) => this.roles.personExtra(p) });
    this.modes = new Modes(this.list, () => this.element.querySelector<HTMLElement>('.hd-notebook'));
    this.commands = new CellCommands({ notebook: room.notebook, list: this.list, modes: this.modes, roles: this.roles, kernel: this.kernel });
    this.places = new Places(room, this.list, this.modes, this.follow);
    this.outline = new OutlineView({ notebook: room.notebook, documentId: room.documentId, list: this.list,
      goToCell: (id) => this.places.goToCell(id) });
    this.cellType = new CellTypePicker({ notebook: room.notebook, list: this.list, exec: (command) => this.exec(command),
      canEdit: () => this.roles.has('edit'), after: () => this.modes.refocus() });
    this.kernelPicker = new KernelPicker({ notebook: room.notebook, kernels: deps.kernels, controls: this.kernel,
      canChange: () => this.roles.has('restart') && deps.kernels.sessions, canEdit: () => this.roles.has('edit') });
    this.element = pageLayout({
      header: {
        path: room.path,
        filesUrl: deps.filesUrl,
        navigateFiles: deps.navigateFiles,
        items: [this.roles.badge, this.banners.status, this.save.element, this.queue.element, this.follow.badge,
          this.roles.present.bar, this.comments.toggle, this.history.toggle, this.people.element, this.roles.actions],
      },
      toolbar: toolbar(this.commands, this.kernel,
        (format) => deps.kernels.exportUrl(room.documentId, format), () => this.modes.refocus(),
        { contents: this.outline.contents.toggle, cellType: this.cellType.element, kernelPicker: this.kernelPicker.element }),
      banners: this.banners.element,
      cells: this.list.element,
      panels: [this.outline.contents.element, this.comments.panel, ...this.history.elements],
    });
    this.menus = new MenuCloser(this.element);
    const header = this.element.querySelector<HTMLElement>('.hd-header');
    if (header) this.people.fitIn(header);
    this.roles.mount(this.element, this.follow);
    this.roles.changed.on(() => this.schedulePresence());
    this.roles.changed.on(() => this.history.rightsChanged());
    this.roles.changed.on(() => {
      this.cellType.show();
      this.kernelPicker.show();
    });
    this.outline.refresh();
    room.statusChanged.on((s) => this.showStatus(s));
    room.stateChanged.on(() => this.save.show());
    room.presenceChanged.on(() => this.schedulePresence());
    room.notices.on((n) => this.banners.notice(n));
    room.notices.on((n) => {
      if (n.type === 'history') this.history.recorded(n.version);
    });
    this.looked = new ChangesSinceLooked({
      api: this.history.api,
      notebook: room.notebook,
      me: me.username,
      cells: () => this.list.cells,
      banners: this.banners.element,
      recordAnchor: () => this.list.recordAnchor(),
      holdAnchor: () => this.list.holdAnchor(),
      synced: room.synced,
      goToCell: (id) => this.places.goToCell(id),
      historyOff: () => this.history.turnedOff(),
    });
    void this.looked.start();
    this.banners.showCopyOf(room.notebook, me.username, deps.http.baseUrl);
    this.keys = new CommandKeyListener(this.element, this.modes, (command) => this.exec(command));
    this.saveKey = new SaveKey(this.element, () => void this.save.saveNow(true));
    this.showStatus(room.status);
    // The room may have heard everyone's presence (and the server's: kernel status) while
    // the page was being made: show it now, not at the next change (up to 15 s away).
    this.showPresence();
    void this.kernel.find();
  }

  exec(command: Command, cell?: CellView | null): void {
    this.commands.exec(command, cell);
  }

  async runAll(): Promise<void> {
    await this.commands.runAll();
  }

  /** Every cell above the selected one (not itself), as Jupyter's "Run All Above". */
  async runAbove(): Promise<void> {
    await this.commands.runAbove();
  }

  /** The selected cell and every cell below it. */
  async runBelow(): Promise<void> {
    await this.commands.runBelow();
  }

  private showStatus(status: ConnectionStatus): void {
    this.banners.showStatus(status);
    this.save.show();
    // After a terminal close nothing typed here could reach the server: stop editing.
    this.list.element.inert = isTerminal(status);
    this.banners.showEnded(status);
  }

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
    this.color.settle(people);
    this.roles.presence(people); // presenting: whom to follow
    this.follow.update(people);
    this.people.show(people, this.follow.following);
    this.list.showPresence(people, server);
    if (server.kernel) this.kernel.runner.adopt(server.kernel.id);
    this.queue.show(server);
    this.kernel.showAction(server);
    this.banners.showDurability(server.historyDurable);
  }

  destroy(): void {
    cancelAnimationFrame(this.presenceFrame);
    this.keys.destroy();
    this.saveKey.destroy();
    this.follow.destroy();
    this.people.destroy();
    this.menus.destroy();
    this.comments.destroy();
    this.looked.destroy();
    this.history.destroy();
    this.roles.destroy();
    this.outline.destroy();
    this.cellType.destroy();
    this.kernelPicker.destroy();
    this.list.destroy();
    this.widgets.destroy();
    this.deps.room.destroy();
    this.element.remove();
  }
}
