/**
 * The review threads' side panel: a labelled region under the sticky header and toolbar,
 * with the filters (Open, Resolved, Mine, Mentions, Questions: each with its count), the
 * new-comment form, and one card per thread, kept across updates (so that a reply being
 * typed keeps its text and focus). Escape closes it; keys typed in it never reach the
 * notebook's command keys.
 */
import { FILTERS, filterThreads, isUnreadMention, type Placed, type ThreadFilter } from '../../logic/threads';
import { h } from '../dom';
import { ThreadCard, type ThreadActions } from './thread';

export class ThreadPanel {
  readonly element: HTMLElement;
  filter: ThreadFilter = 'open';
  private readonly filters = h('div', { className: 'hd-thread-filters', role: 'group', 'aria-label': 'Show threads' });
  private readonly composeSlot = h('div', { className: 'hd-compose-slot' });
  private readonly list = h('div', { className: 'hd-thread-list' });
  private readonly cards = new Map<string, ThreadCard>();
  /** The panel starts under the sticky header and toolbar, however tall they wrap. */
  private readonly topObserver = new ResizeObserver(() => this.place());
  private last: { placed: Placed[]; current: string | null } = { placed: [], current: null };

  constructor(
    private readonly actions: ThreadActions,
    close: () => void,
  ) {
    this.element = h('aside', { className: 'hd-comments-panel', id: 'hd-comments-panel', 'aria-label': 'Review threads', hidden: true },
      h('div', { className: 'hd-comments-head' },
        h('h2', {}, 'Comments'),
        h('button', { type: 'button', className: 'hd-link-button', 'aria-label': 'Close the comments panel', onclick: close }, '✕')),
      this.filters, this.composeSlot, this.list);
    this.element.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Escape' && !event.defaultPrevented) close();
    });
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  show(open: boolean): void {
    this.element.hidden = !open;
    this.element.parentElement?.classList.toggle('hd-comments-open', open);
    const top = document.querySelector('.hd-top');
    if (open && top) this.topObserver.observe(top);
    else this.topObserver.disconnect();
    if (open) this.place();
  }

  private place(): void {
    const top = document.querySelector('.hd-top')?.getBoundingClientRect().bottom ?? 0;
    this.element.style.top = `${Math.max(0, top)}px`;
  }

  setCompose(form: HTMLElement | null): void {
    this.composeSlot.replaceChildren(...(form ? [form] : []));
  }

  card(id: string): ThreadCard | undefined {
    return this.cards.get(id);
  }

  render(placed: Placed[], current: string | null, me: string): void {
    this.last = { placed, current };
    this.filters.replaceChildren(...FILTERS.map((f) => h('button', {
      type: 'button',
      className: 'hd-filter',
      'aria-pressed': String(f.id === this.filter),
      title: f.title,
      'data-filter': f.id,
      onclick: () => {
        this.filter = f.id;
        this.render(this.last.placed, this.last.current, me);
      },
    }, `${f.label} ${filterThreads(placed, f.id, me).length}`)));
    const shown = filterThreads(placed, this.filter, me);
    const keep = new Set(shown.map((p) => p.thread.id));
    for (const [id, card] of this.cards) {
      if (keep.has(id)) continue;
      card.element.remove();
      this.cards.delete(id);
    }
    shown.forEach(({ thread, place }, i) => {
      let card = this.cards.get(thread.id);
      if (!card) this.cards.set(thread.id, card = new ThreadCard(this.actions));
      card.update({ thread, place, current: thread.id === current, unread: isUnreadMention(thread, me) });
      // Move only what moved, so that a card being typed in keeps its focus.
      if (this.list.children[i] !== card.element) this.list.insertBefore(card.element, this.list.children[i] ?? null);
    });
    this.list.querySelector(':scope > .hd-empty')?.remove();
    if (!shown.length) {
      this.list.append(h('p', { className: 'hd-empty' },
        placed.length ? 'No threads here.' : 'No comments yet: select text in a cell and press “Comment”.'));
    }
  }

  destroy(): void {
    this.topObserver.disconnect();
  }
}
