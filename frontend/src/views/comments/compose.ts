/**
 * The form that starts a thread: what it is on (the quoted selection, a whole cell, an
 * output), the first message (with @mentions), and optionally "Suggest a change" with the
 * replacement text. The selection is held as CRDT positions while you write, so others'
 * edits move it.
 */
import type * as Y from 'yjs';

import { heldRangeNow, holdRange, outputQuote, type HeldRange, type MentionCandidate } from '../../logic/threads';
import type { NewAnchor } from '../../protocol/comments';
import { h } from '../dom';
import { MentionBox } from './mention-input';

export interface ComposeTarget {
  cellId: string;
  /** 1-based, for the label. */
  cellNumber: number;
  /** A text selection, or null for the whole cell (or an output). */
  held: HeldRange | null;
  /** The output commented on (an index into the cell's outputs), or null. */
  outputIndex: number | null;
  quote: string;
}

/** A thread on [from, to) of a cell's text (an empty range: the whole cell); the
 * selection is held from now on. */
export function textTarget(cellId: string, cellNumber: number, source: Y.Text, from: number, to: number): ComposeTarget {
  const held = to > from ? holdRange(source, from, to) : null;
  return { cellId, cellNumber, held, outputIndex: null, quote: held ? source.toString().slice(from, to) : '' };
}

/** A thread on output `index` of a code cell (`output`: that output, if there is one). */
export function outputTarget(cellId: string, cellNumber: number, output: Record<string, unknown> | undefined, index: number): ComposeTarget {
  return { cellId, cellNumber, held: null, outputIndex: index, quote: outputQuote(output, index, cellNumber) };
}

export interface ComposeActions {
  candidates(): readonly MentionCandidate[];
  create(anchor: NewAnchor, body: string, suggestion: string | undefined): Promise<void>;
  cancel(): void;
}

export class ComposeForm {
  readonly element: HTMLFormElement;
  private readonly box: MentionBox;
  private readonly suggest: HTMLInputElement;
  private readonly replacement: HTMLTextAreaElement;
  private readonly error = h('p', { className: 'hd-thread-error', role: 'alert' });
  private readonly send: HTMLButtonElement;

  constructor(readonly target: ComposeTarget, private readonly actions: ComposeActions) {
    this.box = new MentionBox({
      label: 'Comment',
      placeholder: 'Comment… (Markdown, @name to mention, Ctrl+Enter to send)',
      candidates: () => actions.candidates(),
      submit: () => void this.submit(),
      cancel: () => actions.cancel(),
    });
    this.suggest = h('input', { type: 'checkbox', className: 'hd-suggest-toggle', onchange: () => this.showReplacement() });
    this.replacement = h('textarea', { className: 'hd-comment-field hd-suggest-field', rows: 3, 'aria-label': 'Suggested replacement text', hidden: true });
    this.replacement.value = target.quote;
    this.send = h('button', { type: 'submit', className: 'hd-primary-button' }, 'Comment');
    const output = target.outputIndex === null ? null : `output ${target.outputIndex + 1} of cell ${target.cellNumber}`;
    const on = target.held
      ? [h('span', {}, `Comment on cell ${target.cellNumber}:`), h('blockquote', { className: 'hd-thread-quote' }, target.quote)]
      : output
        ? [h('span', {}, `Comment on ${output}:`), h('blockquote', { className: 'hd-thread-quote' }, target.quote)]
        : [h('span', {}, `Comment on the whole of cell ${target.cellNumber}`)];
    this.element = h('form', {
      className: 'hd-compose',
      'aria-label': 'New comment',
      onsubmit: (event: SubmitEvent) => { event.preventDefault(); void this.submit(); },
    },
    h('div', { className: 'hd-compose-target' }, ...on),
    this.box.element,
    target.held ? h('label', { className: 'hd-suggest-label' }, this.suggest, 'Suggest a change') : null,
    this.replacement,
    this.error,
    h('div', { className: 'hd-form-buttons' },
      this.send,
      h('button', { type: 'button', onclick: () => actions.cancel() }, 'Cancel')));
  }

  focus(): void {
    this.box.focus();
  }

  private showReplacement(): void {
    this.replacement.hidden = !this.suggest.checked;
    this.send.textContent = this.suggest.checked ? 'Suggest' : 'Comment';
    if (this.suggest.checked) this.replacement.focus();
  }

  /** The anchor as the API wants it, now; null (and a message) if the text is gone. */
  private anchor(): NewAnchor | null {
    const { cellId, held, outputIndex } = this.target;
    if (outputIndex !== null) return { cell_id: cellId, kind: 'output', output_index: outputIndex };
    if (!held) return { cell_id: cellId, kind: 'cell' };
    const range = heldRangeNow(held);
    if (!range) {
      this.error.textContent = 'The selected text was deleted meanwhile; select it again.';
      return null;
    }
    return { cell_id: cellId, kind: 'text', start: range.start, end: range.end };
  }

  private async submit(): Promise<void> {
    const body = this.box.value;
    this.error.textContent = '';
    if (!body.trim()) {
      this.error.textContent = 'Write a message first.';
      return;
    }
    const anchor = this.anchor();
    if (!anchor) return;
    const suggestion = this.suggest.checked ? this.replacement.value : undefined;
    this.send.disabled = true;
    try {
      await this.actions.create(anchor, body, suggestion);
    } catch (err) {
      this.error.textContent = `Could not comment: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.send.disabled = false;
    }
  }
}
