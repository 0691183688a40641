/** Who is here: one chip per person (several tabs of one person count once), in their
 * colour; clicking a chip jumps to the cell that person is in, and "Follow" next to it
 * makes your view follow theirs. */
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
  readonly element = h('ul', { className: 'hd-people', 'aria-label': 'People here' });
  private shown = '';

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
    this.element.replaceChildren(...unique.map((p) => {
      const label = p.isMe ? `${p.displayName} (you)` : p.displayName;
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
      if (p.isMe) return h('li', { className: 'hd-person-item' }, button, extra);
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
      return h('li', { className: 'hd-person-item' }, button, follow, extra);
    }));
    if (focused) this.element.querySelector<HTMLElement>(`[data-control="${focused}"]`)?.focus();
  }
}
