/**
 * Follow mode on the page: whom you follow, the "Following …" badge, and the listeners that
 * end it when you scroll or type. The decisions are in logic/follow.ts; the cell list
 * measures and scrolls.
 */
import { textOn } from '../logic/colors';
import { followStep, followStopReason, stopMessage, type StopReason } from '../logic/follow';
import type { Collaborator } from '../protocol/presence';
import type { CellList } from './cells';
import { h } from './dom';

/** User input that can end following (scrolls the page makes itself are not input). */
const INPUT_EVENTS = ['wheel', 'touchmove', 'keydown', 'pointerdown'] as const;

/** How long "Stopped following …" stays in the header. */
const STOPPED_NOTICE_MS = 6000;

export class FollowMode {
  /** "Following Alice · Stop", or after it ended "Stopped following Alice: you scrolled". */
  readonly badge = h('span', { className: 'hd-following', role: 'status', 'aria-live': 'polite', hidden: true });
  private person: { clientId: number; name: string } | null = null;
  private shown = '';
  private hideTimer = 0;
  private readonly onInput = (event: Event): void => {
    if (!this.person) return;
    const target = event.target instanceof Element ? event.target : null;
    const root = document.documentElement;
    const reason = followStopReason({
      type: event.type,
      key: event instanceof KeyboardEvent ? event.key : '',
      onFollowControls: !!target?.closest('.hd-people, .hd-following'),
      onScrollbar: event instanceof MouseEvent && (target === root || target === document.body)
        && event.clientX >= root.clientWidth,
    });
    if (reason) this.stop(reason);
  };

  constructor(
    private readonly list: CellList,
    /** Called when following starts or stops (the people list shows it). */
    private readonly changed: () => void,
  ) {
    for (const type of INPUT_EVENTS) window.addEventListener(type, this.onInput, { capture: true, passive: true });
  }

  /** The client id of the person followed, or null. */
  get following(): number | null {
    return this.person?.clientId ?? null;
  }

  toggle(person: Collaborator): void {
    if (this.person?.clientId === person.clientId) return this.stop(null);
    this.person = { clientId: person.clientId, name: person.displayName };
    this.changed();
  }

  /** Stop following; tell why when it was not your own click on "Stop". */
  stop(reason: StopReason | null): void {
    const person = this.person;
    if (!person) return;
    this.person = null;
    this.list.pin(null);
    if (reason) {
      const text = stopMessage(person.name, reason);
      this.showBadge(`stopped:${text}`, () => [h('span', {}, text)], 'hd-following hd-following-stopped');
      this.hideTimer = window.setTimeout(() => this.hideBadge(), STOPPED_NOTICE_MS);
    } else {
      this.hideBadge();
    }
    this.page()?.classList.remove('hd-following-mode');
    this.changed();
  }

  /** A presence update: go where they are if it is out of view; stop if they left. */
  update(people: Collaborator[]): void {
    if (!this.person) return;
    const person = people.find((p) => p.clientId === this.person!.clientId);
    const step = followStep({ clientId: this.person.clientId, present: !!person, activeCellId: person?.activeCellId ?? null });
    if (step.kind === 'stop' || !person) return this.stop('left');
    if (step.kind === 'check') {
      this.list.pin(step.cellId);
      this.list.bringIntoView(step.cellId);
    }
    const page = this.page();
    page?.classList.add('hd-following-mode');
    page?.style.setProperty('--hd-follow-color', person.color);
    this.badge.style.setProperty('--hd-follow-color', person.color);
    this.badge.style.setProperty('--hd-follow-text', textOn(person.color));
    this.showBadge(`on:${person.clientId}:${person.displayName}`, () => [
      h('span', {}, `Following ${person.displayName}`),
      h('button', {
        type: 'button',
        'aria-label': `Stop following ${person.displayName}`,
        onclick: () => this.stop(null),
      }, 'Stop'),
    ], 'hd-following');
  }

  private page(): HTMLElement | null {
    return this.badge.closest<HTMLElement>('.hd-notebook-page');
  }

  private hideBadge(): void {
    clearTimeout(this.hideTimer);
    this.badge.hidden = true;
    this.shown = '';
  }

  private showBadge(key: string, children: () => HTMLElement[], className: string): void {
    clearTimeout(this.hideTimer);
    this.badge.hidden = false;
    if (key === this.shown) return;
    this.shown = key;
    this.badge.className = className;
    this.badge.replaceChildren(...children());
  }

  destroy(): void {
    clearTimeout(this.hideTimer);
    for (const type of INPUT_EVENTS) window.removeEventListener(type, this.onInput, { capture: true });
  }
}
