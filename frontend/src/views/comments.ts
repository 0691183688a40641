/**
 * Review threads in the notebook page: the header's "Comments" toggle (with the count of
 * unread mentions), the side panel (filters, the new-comment form, one card per thread),
 * each cell's badge and "comment on this cell" button, and the editors' highlights and
 * "Comment" button (views/comment-highlights.ts). Threads are read live from the shared
 * document (protocol/comments.ts `ThreadStore`); every change goes through the REST API.
 */
import type { YCodeCell, YNotebook } from '@jupyter/ydoc';
import type { Extension } from '@codemirror/state';
import type * as Y from 'yjs';

import { Emitter } from '../logic/emitter';
import type { DocumentId } from '../logic/ids';
import {
  filterThreads,
  handleOf,
  holdRange,
  isUnreadMention,
  openCounts,
  openOutputThreads,
  outputQuote,
  placeOf,
  positionIn,
  unreadMentions,
  type MentionCandidate,
  type Placed,
  type Thread,
} from '../logic/threads';
import { CommentsApi, ThreadStore, type Capabilities, type NewAnchor } from '../protocol/comments';
import type { HttpClient } from '../protocol/http';
import type { Collaborator } from '../protocol/presence';
import type { CellComments, CellView } from './cell';
import { ComposeForm, type ComposeTarget } from './comment-compose';
import { COMMENT_KEY_LABEL, commentExtensions, commentIcon, type CommentRange } from './comment-highlights';
import { ThreadPanel } from './comment-panel';
import { authorColor, type ThreadActions } from './comment-thread';
import { append, h, toast } from './dom';
import './comments.css';

/** Text edits move anchors; the open panel re-reads positions at most this often. */
const TEXT_REFRESH_MS = 300;

export interface CommentsHost {
  notebook: YNotebook;
  documentId: DocumentId;
  http: HttpClient;
  me: string;
  collaborators(): Collaborator[];
  activeCellId(): string | null;
  /** Scroll to a cell, make it active, and select [start, end) in it, or scroll to its
   * output `output`, when given. */
  showCell(cellId: string, range: { start: number; end: number } | null, output: number | null): void;
}

export class CommentsView implements CellComments {
  readonly toggle: HTMLButtonElement;
  private readonly unread = h('span', { className: 'hd-unread-badge', hidden: true });
  private readonly threadPanel: ThreadPanel;
  private readonly store: ThreadStore;
  private readonly api: CommentsApi;
  private readonly threadsChanged = new Emitter<void>();
  private readonly cellViews = new Set<CellView>();
  private readonly markingRead = new Set<string>();
  private caps: Capabilities = { comment: true, edit: true, share: false };
  private serverUsers: MentionCandidate[] | null = null;
  private current: string | null = null;
  /** Open threads per cell, until the threads change (a long notebook attaches many cells). */
  private counts: Map<string, number> | null = null;
  /** Open output threads per cell and output, likewise. */
  private outputThreads: Map<string, Map<number, Thread[]>> | null = null;
  private compose: ComposeForm | null = null;
  private frame = 0;
  private textTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly actions: ThreadActions;
  private readonly onDocUpdate = (): void => this.scheduleText();
  private readonly onKey = (event: KeyboardEvent): void => this.commandKey(event);

  constructor(private readonly host: CommentsHost) {
    this.store = new ThreadStore(host.notebook.ydoc);
    this.api = new CommentsApi(host.http, host.documentId);
    this.actions = this.threadActions();
    this.toggle = h('button', {
      type: 'button',
      className: 'hd-comments-toggle',
      'aria-pressed': 'false',
      'aria-controls': 'hd-comments-panel',
      title: 'Comments: review threads on the notebook\'s text, cells and outputs',
      onclick: () => this.setOpen(!this.threadPanel.isOpen),
    }, commentIcon(), h('span', { className: 'hd-sr' }, 'Comments'), this.unread); // compact: the header is full
    this.threadPanel = new ThreadPanel(this.actions, () => this.setOpen(false, true));
    this.store.changed.on(() => {
      this.counts = null;
      this.outputThreads = null;
      this.scheduleRender(true);
    });
    host.notebook.ydoc.on('update', this.onDocUpdate);
    document.addEventListener('keydown', this.onKey);
    void this.loadAccess();
    this.scheduleRender(true);
  }

  get panel(): HTMLElement {
    return this.threadPanel.element;
  }

  // --- data ---------------------------------------------------------------------------------

  private async loadAccess(): Promise<void> {
    try {
      this.caps = await this.api.capabilities();
    } catch {
      // Unknown: offer everything; the server refuses what is not allowed, with a reason.
    }
    if (this.caps.share) void this.loadUsers(); // others may not list the server's users
    this.scheduleRender(true);
  }

  private async loadUsers(): Promise<void> {
    try {
      this.serverUsers = await this.api.users();
    } catch {
      this.serverUsers = null; // the people in the room are offered instead
    }
  }

  /** Who may be @mentioned: the people here first, then everyone the server knows. */
  private candidates(): MentionCandidate[] {
    const known = new Map((this.serverUsers ?? []).map((u) => [u.username, u]));
    const here = this.host.collaborators().map((p) => known.get(p.username)
      ?? { username: p.username, displayName: p.displayName, handle: handleOf(p.displayName) || handleOf(p.username) });
    return [...here, ...known.values()].filter((p) => p.username !== this.host.me);
  }

  private placed(): Placed[] {
    const cells = new Map<string, { index: number; source: Y.Text; outputs: number }>();
    this.host.notebook.cells.forEach((cell, index) => {
      const outputs = cell.cell_type === 'code' ? (cell as YCodeCell).youtputs.length : 0;
      if (!cells.has(cell.id)) cells.set(cell.id, { index, source: cell.ysource, outputs });
    });
    return this.store.all().map((thread) => ({ thread, place: placeOf(thread.anchor, cells.get(thread.anchor.cellId) ?? null) }));
  }

  private threadActions(): ThreadActions {
    const api = this.api;
    return {
      me: this.host.me,
      caps: () => this.caps,
      candidates: () => this.candidates(),
      select: (thread) => this.openThread(thread.id, true, true),
      reply: (thread, body) => api.reply(thread.id, body),
      edit: (thread, messageId, body) => api.edit(thread.id, messageId, body),
      remove: (thread, messageId) => api.remove(thread.id, messageId),
      setStatus: (thread, status) => api.setStatus(thread.id, status),
      decide: (thread, decision) => api.decide(thread.id, decision),
    };
  }

  // --- cells and editors (CellComments) ---------------------------------------------------------

  attach(cell: CellView): void {
    this.cellViews.add(cell);
    this.renderCell(cell, this.openCounts());
  }

  detach(cell: CellView): void {
    this.cellViews.delete(cell);
  }

  outputsRendered(cell: CellView): void {
    this.renderOutputs(cell, this.outputThreads ??= openOutputThreads(this.store.all()));
  }

  editorExtensions(cell: CellView): Extension {
    return commentExtensions({
      source: cell.model.ysource,
      ranges: () => this.ranges(cell),
      onThreadsChange: (listener) => this.threadsChanged.on(listener),
      canComment: () => this.caps.comment,
      comment: (from, to) => this.startComment(cell, from, to),
      open: (id) => this.openThread(id, false),
    });
  }

  private ranges(cell: CellView): CommentRange[] {
    const ranges: CommentRange[] = [];
    for (const t of this.store.all()) {
      if (t.anchor.cellId !== cell.id || t.anchor.kind !== 'text' || t.status !== 'open') continue;
      const from = positionIn(t.anchor.start, cell.model.ysource);
      const to = positionIn(t.anchor.end, cell.model.ysource);
      if (from === null || to === null || to <= from) continue;
      const first = t.messages[0]?.body ?? '';
      ranges.push({ from, to, color: authorColor(t.author), threadId: t.id, current: t.id === this.current,
        title: `Comment by ${t.author.displayName}: ${first.slice(0, 120)}` });
    }
    return ranges;
  }

  private openCounts(): Map<string, number> {
    return this.counts ??= openCounts(this.store.all());
  }

  private renderCell(cell: CellView, counts: Map<string, number>): void {
    const count = counts.get(cell.id) ?? 0;
    const key = `${count}:${this.caps.comment}`;
    if (cell.notes.dataset['shown'] === key) return;
    cell.notes.dataset['shown'] = key;
    cell.notes.replaceChildren();
    append(cell.notes,
      count ? h('button', {
        type: 'button',
        className: 'hd-comment-badge',
        'aria-label': `${count} open ${count === 1 ? 'comment' : 'comments'} on this cell`,
        title: 'Show this cell\'s comments',
        onclick: (event: MouseEvent) => { event.stopPropagation(); this.openCell(cell.id); },
      }, commentIcon(), String(count)) : null,
      this.caps.comment ? h('button', {
        type: 'button',
        className: 'hd-cell-comment',
        'aria-label': 'Comment on this cell',
        title: `Comment on the whole cell (${COMMENT_KEY_LABEL} in command mode)`,
        onclick: (event: MouseEvent) => { event.stopPropagation(); this.startComment(cell, 0, 0); },
      }, '+', commentIcon()) : null,
    );
  }

  /** Each rendered output: a thin bar in the colour of whoever started its first open
   * thread (with a button showing it), and (for those who may comment) a "Comment on this
   * output" button shown on hover and keyboard focus. Their visible text ("+", the count)
   * comes from CSS, so that an output's text stays its own. */
  private renderOutputs(cell: CellView, marks: Map<string, Map<number, Thread[]>>): void {
    const byIndex = marks.get(cell.id);
    for (const wrapper of cell.outputArea.querySelectorAll<HTMLElement>(':scope > .hd-output')) {
      const index = Number(wrapper.dataset['outputIndex']);
      const threads = byIndex?.get(index) ?? [];
      const key = `${this.caps.comment}:${threads.map((t) => `${t.id}/${authorColor(t.author)}`).join()}`;
      if (wrapper.dataset['commentsShown'] === key) continue;
      wrapper.dataset['commentsShown'] = key;
      wrapper.querySelector(':scope > .hd-output-notes')?.remove();
      wrapper.classList.toggle('hd-output-commented', threads.length > 0);
      if (threads[0]) wrapper.style.setProperty('--hd-comment-color', authorColor(threads[0].author));
      else wrapper.style.removeProperty('--hd-comment-color');
      const n = threads.length;
      const notes = h('div', { className: 'hd-output-notes' },
        threads[0] ? h('button', {
          type: 'button',
          className: 'hd-output-badge',
          'aria-label': `${n} open ${n === 1 ? 'comment' : 'comments'} on this output`,
          title: 'Show this output\'s comments',
          'data-count': String(n),
          onclick: (event: MouseEvent) => { event.stopPropagation(); this.openThread(threads[0]!.id, true, true); },
        }, commentIcon()) : null,
        this.caps.comment ? h('button', {
          type: 'button',
          className: 'hd-output-comment',
          'aria-label': 'Comment on this output',
          title: 'Comment on this output',
          onclick: (event: MouseEvent) => { event.stopPropagation(); this.startOutputComment(cell, index); },
        }, commentIcon()) : null);
      if (notes.childElementCount) wrapper.append(notes);
    }
  }

  // --- actions -------------------------------------------------------------------------------------

  /** Start a thread on [from, to) of a cell (an empty range: the whole cell). */
  startComment(cell: CellView, from: number, to: number): void {
    const source = cell.model.ysource;
    const held = to > from ? holdRange(source, from, to) : null;
    this.openCompose({
      cellId: cell.id,
      cellNumber: this.cellNumber(cell),
      held,
      outputIndex: null,
      quote: held ? source.toString().slice(from, to) : '',
    });
  }

  /** Start a thread on output `index` of a code cell. */
  startOutputComment(cell: CellView, index: number): void {
    const cellNumber = this.cellNumber(cell);
    const output = (cell.model as YCodeCell).getOutputs()[index] as unknown as Record<string, unknown> | undefined;
    this.openCompose({ cellId: cell.id, cellNumber, held: null, outputIndex: index, quote: outputQuote(output, index, cellNumber) });
  }

  private cellNumber(cell: CellView): number {
    return this.host.notebook.cells.findIndex((c) => c.id === cell.id) + 1;
  }

  private openCompose(target: ComposeTarget): void {
    this.compose = new ComposeForm(target, {
      candidates: () => this.candidates(),
      create: (anchor, body, suggestion) => this.create(anchor, body, suggestion),
      cancel: () => this.closeCompose(),
    });
    this.threadPanel.setCompose(this.compose.element);
    this.setOpen(true);
    void this.loadUsers();
    this.compose.focus();
  }

  private async create(anchor: NewAnchor, body: string, suggestion: string | undefined): Promise<void> {
    const created = await this.api.create(anchor, body, suggestion);
    this.closeCompose();
    if (typeof created['id'] === 'string') this.openThread(created['id'], false);
  }

  private closeCompose(): void {
    this.compose = null;
    this.threadPanel.setCompose(null);
  }

  /** The thread of a cell's badge: its first open one, in notebook order. */
  private openCell(cellId: string): void {
    const first = filterThreads(this.placed(), 'open', this.host.me).find((p) => p.thread.anchor.cellId === cellId);
    if (first) this.openThread(first.thread.id, true, true);
  }

  /** Make a thread the one you are on: shown in the panel (under a filter that has it),
   * its mentions of you marked read, (`jump`) its text selected in the notebook, and
   * (`focus`) the keyboard in its reply box. */
  openThread(id: string, jump: boolean, focus = false): void {
    this.current = id;
    this.threadsChanged.emit(); // its highlight shows as the current one
    const thread = this.store.get(id);
    if (thread) {
      this.showFilterOf(thread);
      this.markRead(thread);
      if (jump) this.jump(thread);
    }
    this.setOpen(true);
    this.renderNow();
    const card = this.threadPanel.card(id);
    card?.element.scrollIntoView({ block: 'nearest' });
    if (focus) card?.focus(this.caps.comment);
  }

  private showFilterOf(thread: Thread): void {
    const placed = this.placed().filter((p) => p.thread.id === thread.id);
    if (filterThreads(placed, this.threadPanel.filter, this.host.me).length) return;
    this.threadPanel.filter = thread.status === 'resolved' ? 'resolved' : 'open';
  }

  private jump(thread: Thread): void {
    const place = this.placed().find((p) => p.thread.id === thread.id)?.place;
    if (!place || place.state === 'orphaned') return;
    const attached = place.state === 'attached';
    const range = attached && thread.anchor.kind === 'text' ? { start: place.start, end: place.end } : null;
    const output = attached && thread.anchor.kind === 'output' ? thread.anchor.outputIndex : null;
    this.host.showCell(thread.anchor.cellId, range, output);
  }

  private markRead(thread: Thread): void {
    if (!isUnreadMention(thread, this.host.me) || this.markingRead.has(thread.id)) return;
    this.markingRead.add(thread.id);
    this.api.markRead(thread.id)
      .catch((err: unknown) => toast(`Could not mark the thread read: ${err instanceof Error ? err.message : String(err)}`, 'error'))
      .finally(() => this.markingRead.delete(thread.id));
  }

  setOpen(open: boolean, returnFocus = false): void {
    if (open === this.threadPanel.isOpen) return;
    this.threadPanel.show(open);
    this.toggle.setAttribute('aria-pressed', String(open));
    if (open) this.renderNow();
    else if (returnFocus) this.toggle.focus();
  }

  /** Ctrl+Alt+M in command mode: comment the selected cell. */
  private commandKey(event: KeyboardEvent): void {
    if (!(event.ctrlKey && event.altKey && event.code === 'KeyM') || !this.caps.comment) return;
    const target = event.target as HTMLElement | null;
    if (target?.closest('.cm-editor, input, textarea, select, [contenteditable]')) return;
    const id = this.host.activeCellId();
    const cell = [...this.cellViews].find((c) => c.id === id);
    if (!cell) return;
    event.preventDefault();
    this.startComment(cell, 0, 0);
  }

  // --- rendering -------------------------------------------------------------------------------------

  private scheduleRender(threads: boolean): void {
    if (threads) this.threadsChanged.emit();
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  private scheduleText(): void {
    if (!this.threadPanel.isOpen || this.textTimer) return;
    this.textTimer = setTimeout(() => {
      this.textTimer = null;
      this.scheduleRender(false);
    }, TEXT_REFRESH_MS);
  }

  private renderNow(): void {
    const threads = this.store.all();
    const counts = this.openCounts();
    const marks = this.outputThreads ??= openOutputThreads(threads);
    for (const cell of this.cellViews) {
      this.renderCell(cell, counts);
      this.renderOutputs(cell, marks);
    }
    const unread = unreadMentions(threads, this.host.me).length;
    this.unread.hidden = unread === 0;
    this.unread.textContent = unread ? String(unread) : '';
    this.unread.setAttribute('aria-label', `${unread} unread ${unread === 1 ? 'mention' : 'mentions'}`);
    this.unread.title = this.unread.getAttribute('aria-label')!;
    if (this.threadPanel.isOpen) this.threadPanel.render(this.placed(), this.current, this.host.me);
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    if (this.textTimer) clearTimeout(this.textTimer);
    document.removeEventListener('keydown', this.onKey);
    this.threadPanel.destroy();
    this.host.notebook.ydoc.off('update', this.onDocUpdate);
    this.threadsChanged.clear();
    this.store.destroy();
  }
}
