/** Who is here: one chip per person (several tabs of one person count once), in their
 * colour; clicking a chip jumps to the cell that person is in. */
import type { Collaborator } from '../protocol/presence';
import { h } from './dom';

export class PeopleBar {
  readonly element = h('ul', { className: 'hd-people', 'aria-label': 'People here' });
  private shown = '';

  constructor(private readonly jump: (clientId: number) => void) {}

  show(people: Collaborator[]): void {
    const seen = new Set<string>();
    const unique = people.filter((p) => !seen.has(p.username) && seen.add(p.username));
    const key = JSON.stringify(unique.map((p) => [p.clientId, p.displayName, p.color, p.initials, p.isMe]));
    if (key === this.shown) return;
    this.shown = key;
    this.element.replaceChildren(...unique.map((p) => {
      const label = p.isMe ? `${p.displayName} (you)` : p.displayName;
      const button = h('button', {
        type: 'button',
        className: 'hd-person',
        style: `--hd-person-color:${p.color}`,
        title: p.isMe ? label : `${label}: click to go to their cell`,
        'aria-label': label,
        'data-username': p.username,
      }, h('span', { className: 'hd-avatar', 'aria-hidden': 'true' }, p.initials), h('span', { className: 'hd-person-name' }, label));
      if (!p.isMe) button.addEventListener('click', () => this.jump(p.clientId));
      return h('li', {}, button);
    }));
  }
}
