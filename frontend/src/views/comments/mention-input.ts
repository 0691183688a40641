/**
 * A comment box: a textarea with @mention completion (a listbox under it; ↑ ↓ to pick,
 * Enter or Tab to insert, Esc to close) and Ctrl+Enter to send.
 */
import { insertMention, matchMentions, mentionQuery, type MentionCandidate } from '../../logic/threads';
import { h } from '../dom';

let boxes = 0;

export interface MentionBoxOptions {
  label: string;
  placeholder: string;
  candidates(): readonly MentionCandidate[];
  submit(): void;
  cancel?(): void;
}

export class MentionBox {
  readonly element: HTMLElement;
  readonly field: HTMLTextAreaElement;
  private readonly list: HTMLUListElement;
  private readonly id = `hd-mention-${++boxes}`;
  private matches: MentionCandidate[] = [];
  private chosen = 0;
  private query: { at: number; query: string } | null = null;

  constructor(private readonly options: MentionBoxOptions, value = '') {
    this.field = h('textarea', {
      className: 'hd-comment-field',
      rows: 3,
      'aria-label': options.label,
      placeholder: options.placeholder,
      'aria-autocomplete': 'list',
      'aria-controls': `${this.id}-list`,
      'aria-expanded': 'false',
    });
    this.field.value = value;
    this.list = h('ul', { className: 'hd-mention-list', id: `${this.id}-list`, role: 'listbox', 'aria-label': 'People to mention', hidden: true });
    this.element = h('div', { className: 'hd-mention-box' }, this.field, this.list);
    this.field.addEventListener('input', () => this.complete());
    this.field.addEventListener('click', () => this.complete());
    this.field.addEventListener('keydown', (event) => this.key(event));
    this.field.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  get value(): string {
    return this.field.value;
  }

  set value(text: string) {
    this.field.value = text;
    this.close();
  }

  focus(): void {
    this.field.focus();
  }

  private complete(): void {
    const caret = this.field.selectionStart ?? this.field.value.length;
    this.query = this.field.selectionEnd === caret ? mentionQuery(this.field.value, caret) : null;
    this.matches = this.query ? matchMentions(this.options.candidates(), this.query.query) : [];
    this.chosen = 0;
    this.render();
  }

  private render(): void {
    const open = this.matches.length > 0;
    this.list.hidden = !open;
    this.field.setAttribute('aria-expanded', String(open));
    this.list.replaceChildren(...this.matches.map((p, i) => h('li', {
      id: `${this.id}-${i}`,
      role: 'option',
      className: 'hd-mention-option',
      'aria-selected': String(i === this.chosen),
      onmousedown: (event: MouseEvent) => {
        event.preventDefault(); // keep the textarea's focus
        this.choose(i);
      },
    }, h('span', { className: 'hd-mention-name' }, p.displayName), h('span', { className: 'hd-mention-handle' }, `@${p.handle}`))));
    if (open) this.field.setAttribute('aria-activedescendant', `${this.id}-${this.chosen}`);
    else this.field.removeAttribute('aria-activedescendant');
  }

  private choose(index: number): void {
    const person = this.matches[index];
    if (!person || !this.query) return;
    const caret = this.field.selectionStart ?? this.field.value.length;
    const next = insertMention(this.field.value, this.query.at, caret, person.handle);
    this.field.value = next.text;
    this.field.setSelectionRange(next.caret, next.caret);
    this.close();
    this.field.focus();
  }

  private close(): void {
    this.matches = [];
    this.query = null;
    this.render();
  }

  private key(event: KeyboardEvent): void {
    const open = this.matches.length > 0;
    if (open && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.chosen = (this.chosen + step + this.matches.length) % this.matches.length;
      this.render();
    } else if (open && (event.key === 'Enter' || event.key === 'Tab') && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.choose(this.chosen);
    } else if (event.key === 'Escape' && (open || this.options.cancel)) {
      // Otherwise Escape goes on to the panel, which closes.
      event.preventDefault();
      event.stopPropagation();
      if (open) this.close();
      else this.options.cancel?.();
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.options.submit();
    }
  }
}
