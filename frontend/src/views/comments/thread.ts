/**
 * One review thread in the side panel: where it is (or that its text, output or cell is gone), the
 * quoted text, a suggestion (quote → replacement, with Accept / Reject), its messages
 * (Markdown, sanitized), and for the thread you are on: reply, edit or delete your own
 * messages, resolve or reopen. A failed request shows the server's reason on the card.
 */
import { initialsOf, textOn } from '../../logic/colors';
import { authorColor } from '../../logic/thread-marks';
import type { Author, Message, Place, Thread } from '../../logic/threads';
import type { MentionCandidate } from '../../logic/threads';
import type { Capabilities } from '../../protocol/comments';
import { append, h } from '../dom';
import { renderCommentMarkdown } from '../markdown';
import { MentionBox } from './mention-input';

export interface ThreadActions {
  me: string;
  caps(): Capabilities;
  candidates(): readonly MentionCandidate[];
  /** Make this the thread you are on (and show it in the notebook). */
  select(thread: Thread): void;
  reply(thread: Thread, body: string): Promise<unknown>;
  edit(thread: Thread, messageId: string, body: string): Promise<unknown>;
  remove(thread: Thread, messageId: string): Promise<unknown>;
  setStatus(thread: Thread, status: 'open' | 'resolved'): Promise<unknown>;
  decide(thread: Thread, decision: 'accept' | 'reject'): Promise<unknown>;
}

export interface ThreadState {
  thread: Thread;
  place: Place;
  current: boolean;
  unread: boolean;
}

export function formatTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : date.toLocaleDateString();
}

function describePlace(thread: Thread, place: Place): string {
  if (place.state === 'orphaned') return 'cell deleted';
  const cell = `Cell ${place.cellIndex + 1}`;
  if (thread.anchor.kind === 'cell') return `${cell} · whole cell`;
  if (thread.anchor.kind === 'output') {
    // Gone: a re-run cleared it (the thread stays on the cell).
    if (place.state !== 'attached') return `${cell} · output gone`;
    const output = `${cell} · Output ${(thread.anchor.outputIndex ?? 0) + 1}`;
    return place.outputChanged ? `${output} · output changed since` : output;
  }
  if (place.state === 'attached') return cell;
  // Accepting a suggestion replaces the anchored text: that is not the text being lost.
  return thread.suggestion?.state === 'accepted' ? `${cell} · suggestion applied` : `${cell} · text deleted`;
}

/** Whether the thread's text (or cell) is gone, other than by its own accepted suggestion. */
function isGone(thread: Thread, place: Place): boolean {
  if (place.state === 'orphaned') return true;
  return place.state === 'detached' && thread.suggestion?.state !== 'accepted';
}

function avatar(author: Author): HTMLElement {
  const color = authorColor(author);
  return h('span', { className: 'hd-thread-avatar', style: `background:${color};color:${textOn(color)}`, 'aria-hidden': 'true' },
    initialsOf(author.displayName) || '?');
}

export class ThreadCard {
  readonly element: HTMLElement;
  private readonly head: HTMLButtonElement;
  private readonly content = h('div', { className: 'hd-thread-content' });
  private readonly tools = h('div', { className: 'hd-thread-tools' });
  private readonly error = h('p', { className: 'hd-thread-error', role: 'alert' });
  private readonly replyForm: HTMLFormElement;
  private readonly replyBox: MentionBox;
  private state: ThreadState | null = null;
  private shown = '';
  private editing: { messageId: string; box: MentionBox; el: HTMLElement } | null = null;

  constructor(private readonly actions: ThreadActions) {
    this.head = h('button', { type: 'button', className: 'hd-thread-head', onclick: () => this.state && actions.select(this.state.thread) });
    this.replyBox = new MentionBox({
      label: 'Reply',
      placeholder: 'Reply… (@name to mention, Ctrl+Enter to send)',
      candidates: () => actions.candidates(),
      submit: () => void this.sendReply(),
    });
    this.replyForm = h('form', { className: 'hd-thread-reply', onsubmit: (event: SubmitEvent) => { event.preventDefault(); void this.sendReply(); } },
      this.replyBox.element,
      h('div', { className: 'hd-form-buttons' }, h('button', { type: 'submit', className: 'hd-primary-button' }, 'Reply')));
    this.element = h('article', { className: 'hd-thread' }, this.head, this.content, this.tools, this.replyForm, this.error);
  }

  get threadId(): string | undefined {
    return this.state?.thread.id;
  }

  /** The keyboard to the reply box (or, for those who may not reply, the card's head). */
  focus(reply: boolean): void {
    if (reply && !this.replyForm.hidden) this.replyBox.focus();
    else this.head.focus();
  }

  update(state: ThreadState): void {
    const caps = this.actions.caps();
    const key = JSON.stringify([state, caps, this.editing?.messageId]);
    if (key === this.shown) return;
    this.shown = key;
    this.state = state;
    const { thread, place, current } = state;
    this.element.dataset['threadId'] = thread.id;
    this.element.style.setProperty('--hd-comment-color', authorColor(thread.author));
    this.element.classList.toggle('hd-thread-current', current);
    this.element.classList.toggle('hd-thread-resolved', thread.status === 'resolved');
    this.element.classList.toggle('hd-thread-gone', isGone(thread, place));
    this.head.setAttribute('aria-expanded', String(current));
    this.head.replaceChildren();
    append(this.head,
      place.executionCount === undefined ? null
        : h('span', { className: 'hd-thread-prompt', title: 'The cell\'s prompt, as its gutter shows it' }, `[${place.executionCount}]:`),
      h('span', { className: 'hd-thread-where' }, describePlace(thread, place)),
      thread.status === 'resolved' ? h('span', { className: 'hd-thread-status' }, 'Resolved') : null,
      thread.suggestion?.state === 'open' ? h('span', { className: 'hd-thread-status hd-thread-suggests' }, 'Suggestion') : null,
      state.unread ? h('span', { className: 'hd-thread-unread', title: 'Mentions you (unread)' }, '@ unread') : null,
    );
    this.content.replaceChildren();
    append(this.content, ...this.body(thread, place, current));
    this.tools.replaceChildren(...(current ? this.toolButtons(thread, place) : []));
    this.replyForm.hidden = !(current && caps.comment);
  }

  private body(thread: Thread, place: Place, current: boolean): (HTMLElement | null)[] {
    const quote = thread.anchor.quote;
    const gone = isGone(thread, place) && thread.anchor.kind === 'text';
    const quoteEl = quote ? h('blockquote', { className: gone ? 'hd-thread-quote hd-quote-gone' : 'hd-thread-quote' }, quote) : null;
    const messages = current ? thread.messages : thread.messages.slice(0, 1);
    const more = thread.messages.length - messages.length;
    return [
      thread.suggestion ? this.suggestion(thread) : quoteEl,
      h('ol', { className: 'hd-messages' }, ...messages.map((m) => this.message(thread, m, current))),
      more > 0 ? h('p', { className: 'hd-thread-more' }, `${more} more ${more === 1 ? 'reply' : 'replies'}`) : null,
      thread.status === 'resolved' && thread.resolvedBy && thread.suggestion?.state !== 'accepted'
        ? h('p', { className: 'hd-thread-resolved-by' }, `Resolved by ${thread.resolvedBy.displayName}`) : null,
    ];
  }

  private suggestion(thread: Thread): HTMLElement {
    const s = thread.suggestion!;
    const decided = s.state === 'open' ? null
      : `${s.state === 'accepted' ? 'Accepted' : 'Rejected'}${s.decidedBy ? ` by ${s.decidedBy.displayName}` : ''}`;
    return h('div', { className: `hd-suggestion hd-suggestion-${s.state}` },
      h('span', { className: 'hd-sr' }, 'Suggested change: replace'),
      h('del', { className: 'hd-suggestion-old' }, thread.anchor.quote || ' '),
      h('span', { className: 'hd-suggestion-arrow', 'aria-label': 'with' }, '→'),
      h('ins', { className: 'hd-suggestion-new' }, s.text || '(nothing)'),
      decided ? h('p', { className: 'hd-suggestion-decided' }, decided) : null);
  }

  private message(thread: Thread, message: Message, current: boolean): HTMLElement {
    const mine = message.author.username === this.actions.me;
    const editing = this.editing?.messageId === message.id ? this.editing : null;
    const body = editing ? editing.el : h('div', { className: 'hd-message-body hd-markdown' });
    // Sanitized Markdown (raw HTML is shown as typed); names and quotes are text nodes.
    if (!editing) body.innerHTML = renderCommentMarkdown(message.body);
    const controls = current && mine && !editing && this.actions.caps().comment ? [
      h('button', { type: 'button', className: 'hd-link-button', 'aria-label': 'Edit your message', onclick: () => this.startEdit(thread, message) }, 'Edit'),
      h('button', { type: 'button', className: 'hd-link-button', 'aria-label': 'Delete your message', onclick: (event: MouseEvent) => this.confirmDelete(event, thread, message) }, 'Delete'),
    ] : [];
    return h('li', { className: 'hd-message', 'data-message-id': message.id },
      h('div', { className: 'hd-message-head' },
        avatar(message.author),
        h('span', { className: 'hd-message-author' }, message.author.displayName),
        h('time', { className: 'hd-message-time', datetime: new Date(message.created * 1000).toISOString(), title: new Date(message.created * 1000).toLocaleString() },
          formatTime(message.created)),
        message.edited ? h('span', { className: 'hd-message-edited' }, '(edited)') : null,
        ...controls),
      body);
  }

  private toolButtons(thread: Thread, place: Place): HTMLElement[] {
    const caps = this.actions.caps();
    const buttons: HTMLElement[] = [];
    if (thread.suggestion?.state === 'open' && caps.edit) {
      const canApply = place.state === 'attached';
      buttons.push(
        h('button', { type: 'button', className: 'hd-primary-button', disabled: !canApply,
          title: canApply ? 'Replace the quoted text with the suggestion' : 'The quoted text is gone',
          onclick: (e: MouseEvent) => this.act(e, this.actions.decide(thread, 'accept')) }, 'Accept suggestion'),
        h('button', { type: 'button', onclick: (e: MouseEvent) => this.act(e, this.actions.decide(thread, 'reject')) }, 'Reject'));
    }
    if (caps.comment) {
      const resolved = thread.status === 'resolved';
      buttons.push(h('button', {
        type: 'button',
        className: 'hd-thread-resolve',
        onclick: (e: MouseEvent) => this.act(e, this.actions.setStatus(thread, resolved ? 'open' : 'resolved')),
      }, resolved ? 'Reopen' : 'Resolve'));
    }
    return buttons;
  }

  /** Runs a request for a button: disabled meanwhile, the server's reason shown if it fails. */
  private act(event: MouseEvent | null, request: Promise<unknown>): Promise<boolean> {
    const button = event?.currentTarget instanceof HTMLButtonElement ? event.currentTarget : null;
    if (button) button.disabled = true;
    this.error.textContent = '';
    return request.then(() => true, (err: unknown) => {
      this.error.textContent = `Could not do that: ${err instanceof Error ? err.message : String(err)}`;
      return false;
    }).finally(() => {
      if (button) button.disabled = false;
    });
  }

  private async sendReply(): Promise<void> {
    const thread = this.state?.thread;
    const body = this.replyBox.value;
    if (!thread || !body.trim()) return;
    if (await this.act(null, this.actions.reply(thread, body))) this.replyBox.value = '';
  }

  private startEdit(thread: Thread, message: Message): void {
    const box = new MentionBox({
      label: 'Edit your message',
      placeholder: '',
      candidates: () => this.actions.candidates(),
      submit: () => void save(),
      cancel: () => this.stopEdit(),
    }, message.body);
    const save = async (): Promise<void> => {
      if (await this.act(null, this.actions.edit(thread, message.id, box.value))) this.stopEdit();
    };
    const el = h('form', { className: 'hd-message-edit', onsubmit: (e: SubmitEvent) => { e.preventDefault(); void save(); } },
      box.element,
      h('div', { className: 'hd-form-buttons' },
        h('button', { type: 'submit', className: 'hd-primary-button' }, 'Save'),
        h('button', { type: 'button', onclick: () => this.stopEdit() }, 'Cancel')));
    this.editing = { messageId: message.id, box, el };
    this.rerender();
    box.focus();
  }

  private stopEdit(): void {
    this.editing = null;
    this.rerender();
  }

  private rerender(): void {
    if (!this.state) return;
    this.shown = '';
    this.update(this.state);
  }

  private confirmDelete(event: MouseEvent, thread: Thread, message: Message): void {
    const button = event.currentTarget as HTMLButtonElement;
    if (button.dataset['confirm'] !== 'yes') {
      // Two steps instead of a blocking dialog: the button asks once more, for a while.
      button.dataset['confirm'] = 'yes';
      button.textContent = 'Yes, delete';
      button.setAttribute('aria-label', 'Yes, delete your message');
      setTimeout(() => {
        if (!button.isConnected) return;
        button.dataset['confirm'] = '';
        button.textContent = 'Delete';
        button.setAttribute('aria-label', 'Delete your message');
      }, 4000);
      return;
    }
    void this.act(event, this.actions.remove(thread, message.id));
  }
}
