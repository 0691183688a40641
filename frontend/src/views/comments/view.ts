/**
 * Review threads in the notebook page: the header's "Comments" toggle (with the count of
 * unread mentions), the side panel (panel.ts: filters, the new-comment form, one card per
 * thread), the thread you are on, and when everything is redrawn. Its parts: data.ts (the
 * threads, rights and the REST calls), marks.ts (each cell's and output's badge and
 * button), highlights.ts (the editors' highlights and "Comment" button), compose.ts (the
 * new-thread form). Threads are read live from the shared document; every change goes
 * through the REST API.
 */
import type { YCodeCell } from '@jupyter/ydoc';
import type { Extension } from '@codemirror/state';

import { Emitter } from '../../logic/emitter';
import { isCommentKey } from '../../logic/keys';
import { filterShowing, textMarks, threadTarget, unreadMentionsLabel } from '../../logic/thread-marks';
import { filterThreads, unreadMentions } from '../../logic/threads';
import type { NewAnchor } from '../../protocol/comments';
import type { CellComments, CellView } from '../cell';
import { h } from '../dom';
import { ComposeForm, outputTarget, textTarget, type ComposeTarget } from './compose';
import { ReviewData, type ReviewSource } from './data';
import { commentExtensions, commentIcon } from './highlights';
import { renderCellNotes, renderOutputMarks, type MarkActions } from './marks';
import { ThreadPanel } from './panel';
import './comments.css';

/** Text edits move anchors; the open panel re-reads positions at most this often. */
const TEXT_REFRESH_MS = 300;

/** Where command-mode Ctrl+Alt+M is not the page's: typing into an editor or a form. */
const NOT_COMMAND_MODE = '.cm-editor, input, textarea, select, [contenteditable]';

export interface CommentsHost extends ReviewSource {
  activeCellId(): string | null;
  /** Scroll to a cell, make it active, and select [start, end) in it, or scroll to its
   * output `output`, when given. */
  showCell(cellId: string, range: { start: number; end: number } | null, output: number | null): void;
  /** The panel opened: other side panels close. */
  opened?(): void;
}

export class CommentsView implements CellComments {
  readonly toggle: HTMLButtonElement;
  private readonly unread = h('span', { className: 'hd-unread-badge', hidden: true });
  /** "Comments (3)": the open threads, said in words on the button, not an icon alone (in
   * a narrow window the word is left to the tooltip and screen readers: staples.css). */
  private readonly count = h('span', { className: 'hd-comments-count' });
  private readonly label = h('span', { className: 'hd-comments-label' },
    h('span', { className: 'hd-comments-word' }, 'Comments'), this.count);
  private readonly threadPanel: ThreadPanel;
  private readonly data: ReviewData;
  private readonly threadsChanged = new Emitter<void>();
  private readonly cellViews = new Set<CellView>();
  private readonly marks: MarkActions;
  private current: string | null = null;
  private compose: ComposeForm | null = null;
  private frame = 0;
  private textTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly onDocUpdate = (): void => this.scheduleText();
  private readonly onKey = (event: KeyboardEvent): void => this.commandKey(event);

  constructor(private readonly host: CommentsHost) {
    this.data = new ReviewData(host, () => this.scheduleRender(true));
    this.marks = {
      openCell: (cellId) => this.openCell(cellId),
      openThread: (threadId) => this.openThread(threadId, true, true),
      commentCell: (cell) => this.startComment(cell, 0, 0),
      commentOutput: (cell, index) => this.startOutputComment(cell, index),
    };
    this.toggle = h('button', {
      type: 'button',
      className: 'hd-comments-toggle',
      'aria-pressed': 'false',
      'aria-controls': 'hd-comments-panel',
      title: 'Comments: review threads on the notebook\'s text, cells and outputs',
      onclick: () => this.setOpen(!this.threadPanel.isOpen),
    }, commentIcon(), this.label, this.unread);
    this.threadPanel = new ThreadPanel(this.data.threadActions((thread) => this.openThread(thread.id, true, true)),
      () => this.setOpen(false, true));
    host.notebook.ydoc.on('update', this.onDocUpdate);
    document.addEventListener('keydown', this.onKey);
    void this.data.loadAccess();
    this.scheduleRender(true);
  }

  get panel(): HTMLElement {
    return this.threadPanel.element;
  }

  // --- cells and editors (CellComments) ---------------------------------------------------------

  attach(cell: CellView): void {
    this.cellViews.add(cell);
    renderCellNotes(cell, this.data.openCounts().get(cell.id) ?? 0, this.data.caps.comment, this.marks);
  }

  detach(cell: CellView): void {
    this.cellViews.delete(cell);
  }

  outputsRendered(cell: CellView): void {
    renderOutputMarks(cell, this.data.openOutputThreads(), this.data.caps.comment, this.marks);
  }

  editorExtensions(cell: CellView): Extension {
    return commentExtensions({
      source: cell.model.ysource,
      ranges: () => textMarks(this.data.all(), cell.id, cell.model.ysource, this.current),
      onThreadsChange: (listener) => this.threadsChanged.on(listener),
      canComment: () => this.data.caps.comment,
      comment: (from, to) => this.startComment(cell, from, to),
      open: (id) => this.openThread(id, false),
    });
  }

  // --- starting a thread -------------------------------------------------------------------------

  /** Start a thread on [from, to) of a cell (an empty range: the whole cell). */
  startComment(cell: CellView, from: number, to: number): void {
    this.openCompose(textTarget(cell.id, this.cellNumber(cell), cell.model.ysource, from, to));
  }

  /** Start a thread on output `index` of a code cell. */
  startOutputComment(cell: CellView, index: number): void {
    const output = (cell.model as YCodeCell).getOutputs()[index] as unknown as Record<string, unknown> | undefined;
    this.openCompose(outputTarget(cell.id, this.cellNumber(cell), output, index));
  }

  private cellNumber(cell: CellView): number {
    return this.host.notebook.cells.findIndex((c) => c.id === cell.id) + 1;
  }

  private openCompose(target: ComposeTarget): void {
    this.compose = new ComposeForm(target, {
      candidates: () => this.data.candidates(),
      create: (anchor, body, suggestion) => this.create(anchor, body, suggestion),
      cancel: () => this.closeCompose(),
    });
    this.threadPanel.setCompose(this.compose.element);
    this.setOpen(true);
    void this.data.loadUsers();
    this.compose.focus();
  }

  private async create(anchor: NewAnchor, body: string, suggestion: string | undefined): Promise<void> {
    const created = await this.data.create(anchor, body, suggestion);
    this.closeCompose();
    if (typeof created['id'] === 'string') this.openThread(created['id'], false);
  }

  private closeCompose(): void {
    this.compose = null;
    this.threadPanel.setCompose(null);
  }

  // --- the thread you are on -------------------------------------------------------------------------

  /** The thread of a cell's badge: its first open one, in notebook order. */
  private openCell(cellId: string): void {
    const first = filterThreads(this.data.placed(), 'open', this.host.me).find((p) => p.thread.anchor.cellId === cellId);
    if (first) this.openThread(first.thread.id, true, true);
  }

  /** Make a thread the one you are on: shown in the panel (under a filter that has it),
   * its mentions of you marked read, (`jump`) its text selected in the notebook, and
   * (`focus`) the keyboard in its reply box. */
  openThread(id: string, jump: boolean, focus = false): void {
    this.current = id;
    this.threadsChanged.emit(); // its highlight shows as the current one
    const thread = this.data.get(id);
    if (thread) {
      const placed = this.data.placed().filter((p) => p.thread.id === thread.id);
      this.threadPanel.filter = filterShowing(thread, placed, this.threadPanel.filter, this.host.me);
      this.data.markRead(thread);
      if (jump) this.jump(thread.id);
    }
    this.setOpen(true);
    this.renderNow();
    const card = this.threadPanel.card(id);
    card?.element.scrollIntoView({ block: 'nearest' });
    if (focus) card?.focus(this.data.caps.comment);
  }

  private jump(id: string): void {
    const placed = this.data.placed().find((p) => p.thread.id === id);
    const target = placed ? threadTarget(placed.thread, placed.place) : null;
    if (target) this.host.showCell(target.cellId, target.range, target.output);
  }

  setOpen(open: boolean, returnFocus = false): void {
    if (open === this.threadPanel.isOpen) return;
    this.threadPanel.show(open);
    this.toggle.setAttribute('aria-pressed', String(open));
    if (open) {
      this.host.opened?.();
      this.renderNow();
    } else if (returnFocus) this.toggle.focus();
  }

  /** Ctrl+Alt+M in command mode: comment the selected cell. */
  private commandKey(event: KeyboardEvent): void {
    if (!isCommentKey(event) || !this.data.caps.comment) return;
    const target = event.target as HTMLElement | null;
    if (target?.closest(NOT_COMMAND_MODE)) return;
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
    const counts = this.data.openCounts();
    const marks = this.data.openOutputThreads();
    const canComment = this.data.caps.comment;
    for (const cell of this.cellViews) {
      renderCellNotes(cell, counts.get(cell.id) ?? 0, canComment, this.marks);
      renderOutputMarks(cell, marks, canComment, this.marks);
    }
    let open = 0;
    for (const n of counts.values()) open += n;
    this.count.textContent = open ? ` (${open})` : '';
    this.toggle.title = `Comments: ${open || 'no'} open ${open === 1 ? 'thread' : 'threads'} on the notebook's text, cells and outputs`;
    const unread = unreadMentions(this.data.all(), this.host.me).length;
    this.unread.hidden = unread === 0;
    this.unread.textContent = unread ? String(unread) : '';
    this.unread.setAttribute('aria-label', unreadMentionsLabel(unread));
    this.unread.title = this.unread.getAttribute('aria-label')!;
    if (this.threadPanel.isOpen) this.threadPanel.render(this.data.placed(), this.current, this.host.me);
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    if (this.textTimer) clearTimeout(this.textTimer);
    document.removeEventListener('keydown', this.onKey);
    this.threadPanel.destroy();
    this.host.notebook.ydoc.off('update', this.onDocUpdate);
    this.threadsChanged.clear();
    this.data.destroy();
  }
}
