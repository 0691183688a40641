/**
 * Review threads inside a cell's CodeMirror editor: the open threads' ranges highlighted in
 * their author's colour (kept in step with the text and the threads), a "Comment" button
 * next to a selection, and Ctrl+Alt+M to comment the selection (or the whole cell).
 */
import { Prec, StateEffect, StateField, type EditorState, type Extension } from '@codemirror/state';
import {
  Decoration,
  EditorView,
  ViewPlugin,
  keymap,
  showTooltip,
  type DecorationSet,
  type Tooltip,
  type ViewUpdate,
} from '@codemirror/view';
import type * as Y from 'yjs';

import type { TextMark } from '../../logic/thread-marks';
import { h } from '../dom';

export const COMMENT_KEY = 'Ctrl-Alt-m';
export const COMMENT_KEY_LABEL = 'Ctrl+Alt+M';

/** One highlighted range (UTF-16 offsets, as CodeMirror counts), in its author's colour. */
export type CommentRange = TextMark;

export interface CommentEditorOptions {
  source: Y.Text;
  /** The open threads' ranges in this cell, now. */
  ranges(): CommentRange[];
  /** Subscribe to thread changes; returns the unsubscribe. */
  onThreadsChange(listener: () => void): () => void;
  canComment(): boolean;
  /** Start a comment on [from, to) (an empty range: the whole cell). */
  comment(from: number, to: number): void;
  /** Show the thread (a click on its highlight). */
  open(threadId: string): void;
}

const SVG = 'http://www.w3.org/2000/svg';

/** A speech-bubble icon (an emoji would depend on the system's fonts). */
export function commentIcon(): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'hd-comment-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', 'M3 2h10a1.5 1.5 0 0 1 1.5 1.5v6A1.5 1.5 0 0 1 13 11H8.5L5 14v-3H3a1.5 1.5 0 0 1-1.5-1.5v-6A1.5 1.5 0 0 1 3 2z');
  svg.appendChild(path);
  return svg;
}

const refresh = StateEffect.define<null>();
const setFocus = StateEffect.define<boolean>();

function decorations(view: EditorView, options: CommentEditorOptions): DecorationSet {
  const length = view.state.doc.length;
  const marks = [];
  for (const range of options.ranges()) {
    const from = Math.max(0, Math.min(range.from, length));
    const to = Math.min(range.to, length);
    if (to <= from) continue;
    marks.push(Decoration.mark({
      class: range.current ? 'hd-comment-mark hd-comment-mark-current' : 'hd-comment-mark',
      attributes: { style: `--hd-comment-color:${range.color}`, 'data-thread-id': range.threadId, title: range.title },
    }).range(from, to));
  }
  return Decoration.set(marks, true);
}

function highlights(options: CommentEditorOptions): Extension {
  return ViewPlugin.fromClass(class {
    decorations: DecorationSet;
    private pending = false;
    private destroyed = false;
    private readonly unsubscribe: () => void;
    // After a change of the shared text (or of the threads), positions are read again from
    // the CRDT once both the text and the editor have it: in a microtask.
    private readonly schedule = (): void => {
      if (this.pending) return;
      this.pending = true;
      queueMicrotask(() => {
        this.pending = false;
        if (!this.destroyed) this.view.dispatch({ effects: refresh.of(null) });
      });
    };

    constructor(private readonly view: EditorView) {
      this.decorations = decorations(view, options);
      this.unsubscribe = options.onThreadsChange(this.schedule);
      options.source.observe(this.schedule);
    }

    update(update: ViewUpdate): void {
      if (update.transactions.some((tr) => tr.effects.some((e) => e.is(refresh)))) {
        this.decorations = decorations(update.view, options);
      } else if (update.docChanged) {
        // Meanwhile, move them with the edit (text typed at a range's edges stays out, as
        // the server's positions have it).
        this.decorations = this.decorations.map(update.changes);
      }
    }

    destroy(): void {
      this.destroyed = true;
      this.unsubscribe();
      options.source.unobserve(this.schedule);
    }
  }, { decorations: (plugin) => plugin.decorations });
}

const focused = StateField.define<boolean>({
  create: () => false,
  update(value, tr) {
    for (const effect of tr.effects) if (effect.is(setFocus)) value = effect.value;
    return value;
  },
});

function commentButton(view: EditorView, options: CommentEditorOptions): HTMLElement {
  const button = h('button', {
    type: 'button',
    className: 'hd-comment-selection',
    'aria-label': 'Comment on the selected text',
    title: `Comment on the selected text (${COMMENT_KEY_LABEL})`,
    // Keep the editor's focus (and so the selection) while the button is pressed.
    onmousedown: (event: MouseEvent) => event.preventDefault(),
    onclick: () => {
      const { from, to } = view.state.selection.main;
      if (to > from) options.comment(from, to);
    },
  }, commentIcon(), 'Comment');
  return button;
}

function selectionTooltip(options: CommentEditorOptions): Extension {
  const tooltip = (state: EditorState): Tooltip | null => {
    const { main } = state.selection;
    if (main.empty || !state.field(focused) || !options.canComment()) return null;
    return { pos: main.to, above: false, strictSide: false, create: (view) => ({ dom: commentButton(view, options) }) };
  };
  const field = StateField.define<Tooltip | null>({
    create: tooltip,
    update(value, tr) {
      if (!tr.docChanged && !tr.selection && !tr.effects.some((e) => e.is(setFocus) || e.is(refresh))) return value;
      return tooltip(tr.state);
    },
    provide: (f) => showTooltip.from(f),
  });
  return [focused, EditorView.focusChangeEffect.of((_state, focusing) => setFocus.of(focusing)), field];
}

function commentKeys(options: CommentEditorOptions): Extension {
  return Prec.high(keymap.of([{
    key: COMMENT_KEY,
    run: (view) => {
      if (!options.canComment()) return false;
      const { from, to } = view.state.selection.main;
      options.comment(from, to);
      return true;
    },
  }]));
}

/** Everything review threads add to one cell's editor. */
export function commentExtensions(options: CommentEditorOptions): Extension {
  return [
    highlights(options),
    selectionTooltip(options),
    commentKeys(options),
    EditorView.domEventHandlers({
      click: (event, view) => {
        // A click (not the end of a drag that selects) on a highlight shows its thread.
        if (!view.state.selection.main.empty) return false;
        const mark = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-thread-id]') : null;
        const id = mark?.dataset['threadId'];
        if (id) options.open(id);
        return false;
      },
    }),
  ];
}
