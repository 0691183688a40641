/**
 * The threads' marks on the cells: in each cell's gutter, the badge with its open threads'
 * count and the "Comment on this cell" button; on each rendered output, a bar in the
 * colour of whoever started its first open thread, its badge, and the "Comment on this
 * output" button. Each is redrawn only when what it shows changed.
 */
import { authorColor, openCommentsLabel } from '../../logic/thread-marks';
import type { Thread } from '../../logic/threads';
import type { CellView } from '../cell';
import { append, h } from '../dom';
import { COMMENT_KEY_LABEL, commentIcon } from './highlights';

/** What the marks' buttons do. */
export interface MarkActions {
  /** Open the cell's first open thread. */
  openCell(cellId: string): void;
  /** Open a thread (an output's badge). */
  openThread(threadId: string): void;
  /** Start a thread on the whole cell. */
  commentCell(cell: CellView): void;
  commentOutput(cell: CellView, index: number): void;
}

/** The cell's badge (`count` open threads) and, for those who may comment, its button. */
export function renderCellNotes(cell: CellView, count: number, canComment: boolean, actions: MarkActions): void {
  const key = `${count}:${canComment}`;
  if (cell.notes.dataset['shown'] === key) return;
  cell.notes.dataset['shown'] = key;
  cell.notes.replaceChildren();
  append(cell.notes,
    count ? h('button', {
      type: 'button',
      className: 'hd-comment-badge',
      'aria-label': openCommentsLabel(count, 'cell'),
      title: 'Show this cell\'s comments',
      onclick: (event: MouseEvent) => { event.stopPropagation(); actions.openCell(cell.id); },
    }, commentIcon(), String(count)) : null,
    canComment ? h('button', {
      type: 'button',
      className: 'hd-cell-comment',
      'aria-label': 'Comment on this cell',
      title: `Comment on the whole cell (${COMMENT_KEY_LABEL} in command mode)`,
      onclick: (event: MouseEvent) => { event.stopPropagation(); actions.commentCell(cell); },
    }, '+', commentIcon()) : null,
  );
}

/** Each rendered output of the cell: its bar and badge (`marks`: the open output threads
 * per cell and output), and (for those who may comment) a "Comment on this output" button
 * shown on hover and keyboard focus. Their visible text ("+", the count) comes from CSS, so
 * that an output's text stays its own. */
export function renderOutputMarks(cell: CellView, marks: Map<string, Map<number, Thread[]>>, canComment: boolean, actions: MarkActions): void {
  const byIndex = marks.get(cell.id);
  for (const wrapper of cell.outputArea.querySelectorAll<HTMLElement>(':scope > .hd-output')) {
    const index = Number(wrapper.dataset['outputIndex']);
    const threads = byIndex?.get(index) ?? [];
    const key = `${canComment}:${threads.map((t) => `${t.id}/${authorColor(t.author)}`).join()}`;
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
        'aria-label': openCommentsLabel(n, 'output'),
        title: 'Show this output\'s comments',
        'data-count': String(n),
        onclick: (event: MouseEvent) => { event.stopPropagation(); actions.openThread(threads[0]!.id); },
      }, commentIcon()) : null,
      canComment ? h('button', {
        type: 'button',
        className: 'hd-output-comment',
        'aria-label': 'Comment on this output',
        title: 'Comment on this output',
        onclick: (event: MouseEvent) => { event.stopPropagation(); actions.commentOutput(cell, index); },
      }, commentIcon()) : null);
    if (notes.childElementCount) wrapper.append(notes);
  }
}
