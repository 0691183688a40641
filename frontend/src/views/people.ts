/** Who is here: one chip per person (several tabs of one person count once), in their
 * colour; clicking a chip jumps to the cell that person is in, and "Follow" next to it
 * makes your view follow theirs. The header is one line of constant height: the people
 * who do not fit go into a "+N" menu (you are always shown), so nothing below it moves
 * when someone comes or goes. */
import { textOn } from '../logic/colors';
import type { Collaborator } from '../protocol/presence';
import { h } from './dom';

/** More next to each person (views/roles.ts: "presenting", the owner's Hand over). */
export interface PeopleExtras {
  /** Changes whenever what `extra` shows changes. */
  key(): string;
  extra(person: Collaborator): Node | null;
}

export class PeopleBar {
  private readonly inline = h('ul', { className: 'hd-people', 'aria-label': 'People here' });
  private readonly more = h('ul', { className: 'hd-people-overflow', 'aria-label': 'More people here' });
  private readonly moreLabel = h('summary', {}, '');
  private readonly moreMenu = h('details', { className: 'hd-menu hd-people-more', hidden: true }, this.moreLabel,
    h('div', { className: 'hd-menu-body' }, this.more));
  readonly element = h('div', { className: 'hd-people-bar' }, this.inline, this.moreMenu);
  private shown = '';
  private items: HTMLElement[] = [];
  /** How many of `items` (the first) always stay in the line: you, and whom you follow. */
  private kept = 1;
  private lastFollowed: number | null = null;
  private fitting: ResizeObserver | null = null;

  constructor(
    private readonly jump: (clientId: number) => void,
    private readonly toggleFollow: (clientId: number) => void,
    private readonly extras: PeopleExtras | null = null,
  ) {}

  show(people: Collaborator[], following: number | null): void {
    const seen = new Set<string>();
    const unique = people.filter((p) => !seen.has(p.username) && seen.add(p.username));
    const key = JSON.stringify([following, this.extras?.key(), unique.map((p) => [p.clientId, p.username, p.displayName, p.color, p.initials, p.isMe])]);
    if (key === this.shown) return;
    // Keep the keyboard focus on the same control across the re-render.
    const focused = document.activeElement instanceof HTMLElement && this.element.contains(document.activeElement)
      ? document.activeElement.dataset['control'] ?? null : null;
    this.shown = key;
    // Whom you follow, or followed last, stays in the line next to you: its Follow button
    // says whether it is on, and is at hand to follow again.
    if (following !== null) this.lastFollowed = following;
    const pinned = (p: Collaborator): number => Number(p.clientId === this.lastFollowed);
    const order = [...unique].sort((a, b) => Number(b.isMe) - Number(a.isMe) || pinned(b) - pinned(a));
    this.kept = order.filter((p) => p.isMe || pinned(p)).length;
    this.items = order.map((p) => {
      const label = p.isMe ? `${p.displayName} (you)` : p.displayName;
      const className = p.isMe ? 'hd-person-item hd-person-me' : 'hd-person-item';
      const button = h('button', {
        type: 'button',
        className: 'hd-person',
        style: `--hd-person-color:${p.color};--hd-person-text:${textOn(p.color)}`,
        title: p.isMe ? label : `${label}: go to their cell`,
        'aria-label': p.isMe ? label : `Go to ${p.displayName}'s cell`,
        'data-username': p.username,
        'data-control': `jump-${p.clientId}`,
      }, h('span', { className: 'hd-avatar', 'aria-hidden': 'true' }, p.initials), h('span', { className: 'hd-person-name' }, label));
      const extra = this.extras?.extra(p) ?? null;
      if (p.isMe) return h('li', { className }, button, extra);
      button.addEventListener('click', () => this.jump(p.clientId));
      const on = following === p.clientId;
      const follow = h('button', {
        type: 'button',
        className: on ? 'hd-follow hd-follow-on' : 'hd-follow',
        style: `--hd-person-color:${p.color};--hd-person-text:${textOn(p.color)}`,
        'aria-pressed': String(on),
        // A toggle: its name stays, aria-pressed says whether it is on.
        'aria-label': `Follow ${p.displayName}`,
        title: on ? 'Stop following (or just scroll or type)' : `Follow ${p.displayName}: your view follows their cell until you scroll or type`,
        'data-control': `follow-${p.clientId}`,
        onclick: () => this.toggleFollow(p.clientId),
      }, on ? 'Following' : 'Follow');
      return h('li', { className }, button, follow, extra);
    });
    this.fit();
    if (focused) this.element.querySelector<HTMLElement>(`[data-control="${focused}"]`)?.focus();
  }

  /** Put as many people in the header line as fit (`line`: the header), the rest in the
   * "+N" menu; again whenever something in the line changes size. */
  fitIn(line: HTMLElement): void {
    this.fitting?.disconnect();
    this.fitting = new ResizeObserver(() => this.fit());
    this.fitting.observe(line);
    for (const child of line.children) this.fitting.observe(child);
    this.fit();
  }

  private fit(): void {
    const line = this.element.parentElement;
    this.inline.replaceChildren(...this.items);
    this.more.replaceChildren();
    this.showMore();
    if (!line) return;
    line.classList.add('hd-fitting'); // the title at its full width, while measuring
    // Labels that can say less ("Comments (3)" as its icon and count, History and the
    // logo as their icons) do so before anyone is moved out of the line (`.hd-tight`,
    // style.css).
    line.classList.remove(...TIGHTER);
    if (overflows(line)) line.classList.add('hd-tight');
    // Leave me (first) and whom I follow in the line: never hidden, never cut. Each one
    // moved shows the "+N" button, which takes room too: measured again each time.
    while (this.inline.children.length > this.kept && overflows(line)) {
      this.more.prepend(this.inline.lastElementChild!);
      this.showMore();
    }
    // With people moved, the labels may have room to say everything again.
    if (line.classList.contains('hd-tight')) {
      line.classList.remove('hd-tight');
      if (overflows(line)) line.classList.add('hd-tight');
    }
    // A narrow window, where even a shortened title leaves too little room: closer
    // together, then (last resort) your chip as your initials, your name in its tooltip
    // and for screen readers. Share and Present stay reachable.
    line.classList.remove('hd-fitting');
    for (const level of TIGHTER.slice(1)) {
      if (overflows(line)) line.classList.add(level);
    }
  }

  private showMore(): void {
    const n = this.more.children.length;
    this.moreMenu.hidden = n === 0;
    if (!n) this.moreMenu.open = false;
    this.moreLabel.textContent = `+${n}`;
    this.moreLabel.setAttribute('aria-label', `${n} more ${n === 1 ? 'person' : 'people'} here`);
    this.moreLabel.title = `${n} more: see them, go to their cells, follow them`;
  }

  destroy(): void {
    this.fitting?.disconnect();
  }
}

/** How the header says less, in order, while it does not fit (style.css). */
const TIGHTER = ['hd-tight', 'hd-tighter', 'hd-tightest'];

/** Whether the header line's items reach past its right edge. */
function overflows(line: HTMLElement): boolean {
  const box = line.getBoundingClientRect();
  const end = box.right - parseFloat(getComputedStyle(line).paddingRight || '0');
  let right = box.left;
  for (const child of line.children) {
    if (child instanceof HTMLElement && !child.hidden) right = Math.max(right, child.getBoundingClientRect().right);
  }
  return right > end + 0.5;
}
