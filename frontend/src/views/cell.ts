/**
 * One cell. Cheap until it comes near the viewport: a plain <pre> of its source stands in
 * for the editor, so a long notebook opens fast. Near the viewport ("mounted") it gets its
 * CodeMirror editor (or rendered Markdown) and its outputs.
 */
import type { Extension } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import type { YCellType, YCodeCell } from '@jupyter/ydoc';
import type { Awareness } from 'y-protocols/awareness';

import { textOn } from '../logic/colors';
import type { RequestId } from '../logic/ids';
import { lastRunText } from '../logic/people';
import type { Collaborator, QueueItem, RunInfo } from '../protocol/presence';
import { h } from './dom';
import { createEditor, highlightedPython, type CellEditor, type EditorKeys } from './editor';
import { CellGuard, type CellAccess } from './locks';
import { renderMarkdown } from './markdown';
import { renderOutputs, type WidgetMounts } from './outputs';

export interface CellContext {
  awareness: Awareness;
  myUsername: string;
  keysFor(cell: CellView): EditorKeys;
  focused(cell: CellView): void;
  requestEdit(cell: CellView): void;
  answerInput(requestId: RequestId, value: string): void;
  cancelRun(requestId: RequestId): void;
  /** The cell's own run button: as Ctrl+Enter on it (`byPointer`: clicked, not pressed
   * from the keyboard, so the keyboard goes back to the notebook). */
  run?(cell: CellView, byPointer: boolean): void;
  /** The page's rights: read-only editors, locked cells (views/locks.ts). */
  access?: CellAccess;
  /** Review threads' part in cells (views/comments/). */
  comments?: CellComments;
  /** Version history's part in cells (views/history/: who wrote each line). */
  history?: CellHistory;
  /** Live widgets in outputs (views/widgets.ts). */
  widgets?: WidgetMounts;
}

/** What version history adds to a cell: its "Who wrote this?" toggle (in `tools`) and the
 * editor's blame gutter. */
export interface CellHistory {
  attach(cell: CellView): void;
  detach(cell: CellView): void;
  editorExtensions(cell: CellView): Extension;
}

/** What review threads add to a cell: its badge (in `notes`), its editor's highlights, and
 * its outputs' marks and "comment on this output" buttons. */
export interface CellComments {
  attach(cell: CellView): void;
  detach(cell: CellView): void;
  editorExtensions(cell: CellView): Extension;
  outputsRendered(cell: CellView): void;
}

export interface RunView {
  entry: QueueItem | null;
  position: number;
  last: RunInfo | null;
  /** Nobody else is in the room ("Ran · by you" then says nothing). */
  alone: boolean;
  /** The 1-based number of the cell whose failure stopped this one's Run all, if known. */
  failedCell: number | null;
}

export class CellView {
  readonly element: HTMLElement;
  private readonly prompt: HTMLElement;
  private readonly input: HTMLElement;
  private readonly runLine: HTMLElement;
  private readonly outputs: HTMLElement;
  private readonly peers: HTMLElement;
  /** The gutter's place for review threads' badge and button (views/comments/). */
  readonly notes = h('div', { className: 'hd-cell-notes' });
  /** The gutter's place for the cell's own tools (views/history/: "Who wrote this?"). */
  readonly tools = h('div', { className: 'hd-cell-tools' });
  /** Above the input: marks on the whole cell ("changed since you looked"). */
  readonly flags = h('div', { className: 'hd-cell-flags' });
  /** Beside the prompt: a heading cell's collapse toggle (views/outline/folds.ts). */
  readonly fold = h('div', { className: 'hd-cell-fold' });
  /** Under the cell: what a collapsed heading hides ("3 cells hidden", views/outline/folds.ts). */
  readonly foldNote = h('div', { className: 'hd-fold-note' });
  private editor: CellEditor | null = null;
  private readonly guard: CellGuard | null;
  private mounted = false;
  private editing = false;
  private outputsStale = true;
  private sourceStale = true;
  private frame = 0;
  private stdin: { requestId: RequestId; el: HTMLElement } | null = null;
  // What was last shown, so that the presence updates of every keystroke touch no DOM.
  private peersKey = '';
  private runKey = '';
  private readonly onSource = (): void => this.schedule();
  private readonly onChanged = (_: unknown, change: Record<string, unknown>): void => {
    if (change['outputsChange'] || change['streamOutputChange']) {
      this.outputsStale = true;
      this.schedule();
    }
    if (change['executionCountChange'] || change['executionStateChange']) this.renderPrompt();
  };

  constructor(
    readonly model: YCellType,
    private readonly ctx: CellContext,
  ) {
    this.prompt = h('div', { className: 'hd-prompt', 'aria-hidden': 'true' });
    this.peers = h('div', { className: 'hd-cell-peers' });
    this.input = h('div', { className: 'hd-input' });
    this.runLine = h('div', { className: 'hd-run', 'aria-live': 'polite' });
    this.outputs = h('div', { className: 'hd-outputs' });
    this.guard = ctx.access ? new CellGuard(model, ctx.access) : null;
    this.element = h(
      'div',
      { className: `hd-cell hd-cell-${model.cell_type}`, 'data-cell-id': model.id, 'data-cell-type': model.cell_type },
      h('div', { className: 'hd-gutter' },
        h('div', { className: 'hd-prompt-row' }, this.fold, this.prompt, this.runButton()),
        this.peers, this.notes, this.tools, this.guard?.element),
      h('div', { className: 'hd-cell-body' }, this.flags, this.input, this.runLine, this.outputs, this.foldNote),
    );
    this.guard?.bind(this.element);
    this.element.addEventListener('mousedown', () => this.ctx.focused(this));
    this.element.addEventListener('dblclick', () => {
      if (this.model.cell_type === 'markdown' && !this.editing) this.ctx.requestEdit(this);
    });
    model.ysource.observe(this.onSource);
    model.changed.connect(this.onChanged);
    this.renderPrompt();
    this.renderInput();
    this.ctx.comments?.attach(this);
    this.ctx.history?.attach(this);
  }

  get id(): string {
    return this.model.id;
  }

  /** A code cell's ▶ (right of its prompt, next to its input, as Colab's; the gutter's
   * middle stays free, where a click selects the cell): shown on the active
   * cell, on hover and on keyboard focus; hidden for people who may not run cells
   * (style: `.hd-cannot-run`). */
  private runButton(): HTMLButtonElement | null {
    const run = this.ctx.run;
    if (this.model.cell_type !== 'code' || !run) return null;
    return h('button', {
      type: 'button',
      className: 'hd-cell-run',
      'aria-label': 'Run this cell (Ctrl+Enter)',
      title: 'Run this cell (Ctrl+Enter)',
      onclick: (event: MouseEvent) => {
        event.stopPropagation();
        run(this, event.detail > 0);
      },
    }, '▶');
  }

  /** Hidden under a collapsed heading (views/outline/folds.ts): a view of one person's, not the
   * notebook's. */
  setFoldedAway(away: boolean): void {
    this.element.classList.toggle('hd-folded-away', away);
  }

  get isFoldedAway(): boolean {
    return this.element.classList.contains('hd-folded-away');
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  get isEditing(): boolean {
    return this.editing;
  }

  get hasFocus(): boolean {
    return this.editor?.view.hasFocus ?? false;
  }

  /** The cell's editor, while it has one (mounted; a Markdown cell while edited). */
  get editorView(): EditorView | null {
    return this.editor?.view ?? null;
  }

  private schedule(): void {
    this.sourceStale = true;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderInput();
      if (this.mounted && this.outputsStale) this.renderOutputs();
    });
  }

  private renderPrompt(): void {
    if (this.model.cell_type !== 'code') {
      this.prompt.textContent = '';
      return;
    }
    const cell = this.model as YCodeCell;
    const running = cell.executionState === 'running';
    this.prompt.textContent = `[${running ? '*' : (cell.execution_count ?? ' ')}]:`;
    this.element.classList.toggle('hd-running', running);
  }

  private wantsEditor(): boolean {
    return this.mounted && (this.model.cell_type !== 'markdown' || this.editing);
  }

  private renderInput(): void {
    if (this.wantsEditor()) {
      if (!this.editor) {
        this.input.replaceChildren();
        this.editor = createEditor(this.input, this.model.ysource, this.ctx.awareness,
          this.model.cell_type, this.ctx.keysFor(this), () => this.ctx.focused(this),
          [this.ctx.comments?.editorExtensions(this) ?? [], this.ctx.history?.editorExtensions(this) ?? []]);
        this.guard?.attach(this.editor.view);
      }
      return;
    }
    this.editor?.destroy();
    this.editor = null;
    this.guard?.attach(null);
    if (!this.sourceStale && this.input.firstChild) return;
    this.sourceStale = false;
    const source = this.model.ysource.toString();
    if (this.model.cell_type === 'markdown' && this.mounted) {
      const rendered = h('div', { className: 'hd-markdown hd-rendered' });
      rendered.innerHTML = source.trim() ? renderMarkdown(source) : '<p class="hd-placeholder">Empty Markdown cell: double-click or press Enter to edit</p>';
      this.input.replaceChildren(rendered);
    } else {
      this.input.replaceChildren(h('pre', { className: 'hd-preview' }, source || ' '));
    }
  }

  private renderOutputs(): void {
    if (this.model.cell_type !== 'code') return;
    this.outputsStale = false;
    renderOutputs(this.outputs, (this.model as YCodeCell).getOutputs() as unknown as Record<string, unknown>[], this.ctx.widgets ?? null);
    this.ctx.comments?.outputsRendered(this);
  }

  /** The rendered outputs (`.hd-output`, each with its `data-output-index`). */
  get outputArea(): HTMLElement {
    return this.outputs;
  }

  /** Scroll output `index` into view (mounting the cell first). */
  showOutput(index: number): void {
    if (!this.mounted) this.setNear(true);
    if (this.outputsStale) this.renderOutputs();
    this.outputs.querySelector(`:scope > .hd-output[data-output-index="${index}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  /** Before printing: a cell far from the viewport (no editor, no outputs yet) shows its
   * source highlighted (Markdown rendered) and its outputs, as a mounted one would. It
   * stays unmounted: an edit shows the plain source again, mounting brings the editor. */
  renderForPrint(): void {
    if (this.mounted) return;
    const source = this.model.ysource.toString();
    if (this.model.cell_type === 'markdown') {
      const rendered = h('div', { className: 'hd-markdown hd-rendered' });
      rendered.innerHTML = source.trim() ? renderMarkdown(source) : '';
      this.input.replaceChildren(rendered);
    } else if (this.model.cell_type === 'code') {
      this.input.replaceChildren(h('pre', { className: 'hd-preview' }, highlightedPython(source || ' ')));
    }
    if (this.outputsStale) this.renderOutputs();
  }

  /** Near the viewport or not: mount or drop the editor and outputs. */
  setNear(near: boolean): void {
    if (near === this.mounted) return;
    if (!near && (this.hasFocus || this.element.classList.contains('hd-active'))) return;
    this.mounted = near;
    this.sourceStale = true;
    this.renderInput();
    if (near && this.outputsStale) this.renderOutputs();
  }

  setActive(active: boolean): void {
    this.element.classList.toggle('hd-active', active);
    if (active && !this.mounted) this.setNear(true);
  }

  setEditing(editing: boolean): void {
    if (editing === this.editing) return;
    this.editing = editing;
    this.element.classList.toggle('hd-editing', editing);
    this.sourceStale = true;
    this.renderInput();
  }

  focusEditor(at: 'start' | 'end' | 'keep' = 'keep'): void {
    if (!this.mounted) this.setNear(true);
    const view = this.editor?.view;
    if (!view) return;
    if (at !== 'keep') {
      const pos = at === 'start' ? 0 : view.state.doc.length;
      view.dispatch({ selection: { anchor: pos } });
    }
    view.focus();
  }

  /** Select [from, to) in the editor (shown, not focused), opening a Markdown cell's. */
  selectText(from: number, to: number): void {
    if (!this.mounted) this.setNear(true);
    if (this.model.cell_type === 'markdown') this.setEditing(true);
    const view = this.editor?.view;
    if (!view) return;
    const length = view.state.doc.length;
    view.dispatch({ selection: { anchor: Math.min(from, length), head: Math.min(to, length) }, scrollIntoView: true });
  }

  blurEditor(): void {
    this.editor?.view.contentDOM.blur();
  }

  setPeers(people: Collaborator[]): void {
    const key = people.map((p) => `${p.clientId}:${p.color}:${p.initials}`).join();
    if (key === this.peersKey) return;
    this.peersKey = key;
    this.peers.replaceChildren(
      ...people.map((p) => h('span', { className: 'hd-peer-chip', title: `${p.displayName} is here`, style: `background:${p.color};color:${textOn(p.color)}` }, p.initials)),
    );
    this.element.style.setProperty('--hd-peer-color', people[0]?.color ?? 'transparent');
    this.element.classList.toggle('hd-has-peers', people.length > 0);
  }

  setRun(run: RunView): void {
    const key = JSON.stringify(run);
    if (key === this.runKey) return;
    this.runKey = key;
    if (this.model.cell_type !== 'code') {
      this.runLine.replaceChildren();
      return;
    }
    this.runLine.replaceChildren(...this.runParts(run));
  }

  private runParts({ entry, position, last, alone, failedCell }: RunView): (HTMLElement | string)[] {
    if (entry) {
      const who = entry.requestedBy.displayName;
      if (entry.input) {
        if (entry.requestedBy.username === this.ctx.myUsername) return [this.inputBox(entry)];
        return [h('span', { className: 'hd-run-waiting' }, `Waiting for input from ${who}`)];
      }
      if (entry.state === 'running') return [h('span', { className: 'hd-run-running' }, `Running · asked by ${who}`)];
      const queued = h('span', { className: 'hd-run-queued' }, `Queued${position ? ` (#${position})` : ''} · asked by ${who}`);
      if (entry.requestedBy.username !== this.ctx.myUsername) return [queued];
      return [queued, h('button', {
        type: 'button',
        className: 'hd-run-cancel',
        'aria-label': 'Cancel this queued run',
        title: 'Take this run out of the queue',
        onclick: (event: MouseEvent) => {
          event.stopPropagation();
          (event.currentTarget as HTMLButtonElement).disabled = true;
          this.ctx.cancelRun(entry.requestId);
        },
      }, 'Cancel')];
    }
    if (!last) return [];
    const mine = last.requestedBy.username === this.ctx.myUsername;
    const shown = lastRunText({ state: last.state, by: last.requestedBy.displayName, reason: last.reason, mine, alone }, failedCell);
    if (!shown) return [];
    const kind = { ok: '', failed: ' hd-run-failed', cancelled: ' hd-run-cancelled', skipped: ' hd-run-skipped' }[shown.kind];
    return [h('span', { className: `hd-run-last${kind}`, title: last.reason || undefined }, shown.text)];
  }

  private inputBox(entry: QueueItem): HTMLElement {
    // The same prompt keeps its box (and what is typed in it) across presence updates.
    if (this.stdin?.requestId === entry.requestId) return this.stdin.el;
    const prompt = entry.input?.prompt ?? '';
    const field = h('input', {
      className: 'hd-stdin',
      type: entry.input?.password ? 'password' : 'text',
      'aria-label': prompt || 'Input for the running cell',
      autocomplete: 'off',
    });
    field.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Enter') {
        field.disabled = true;
        this.ctx.answerInput(entry.requestId, field.value);
      }
    });
    queueMicrotask(() => field.focus());
    const el = h('label', { className: 'hd-stdin-row' }, h('span', {}, prompt || 'Input:'), field);
    this.stdin = { requestId: entry.requestId, el };
    return el;
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.model.ysource.unobserve(this.onSource);
    this.model.changed.disconnect(this.onChanged);
    this.ctx.comments?.detach(this);
    this.ctx.history?.detach(this);
    this.guard?.destroy();
    this.editor?.destroy();
    this.editor = null;
    this.element.remove();
  }
}
