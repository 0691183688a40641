/**
 * Presenting on the page: the owner's "Present" toggle (`POST /api/huddle/present`); for
 * everyone else, "<name> is presenting" with Step out / Follow presenter, and their view
 * follows the presenter's active cell through the existing follow mode (logic/present.ts
 * decides). The presenter's cursor flag, cell chip and person chip are made prominent.
 */
import { NO_PRESENTATION, presentStep, rejoin, rgbOf, stepOut, type PresentState, type Presenter } from '../logic/present';
import type { AccessApi } from '../protocol/access';
import type { Collaborator } from '../protocol/presence';
import type { NotebookRoom } from '../protocol/room';
import { h, toast } from './dom';
import type { FollowMode } from './follow';

export class PresentMode {
  /** Owners: the Present toggle. */
  readonly toggle: HTMLButtonElement;
  /** Everyone else, while someone presents: who, and Step out / Follow presenter. */
  readonly bar = h('span', { className: 'hd-present-bar', role: 'status', hidden: true });
  private state: PresentState = NO_PRESENTATION;
  private presenter: Presenter | null = null;
  private follow: FollowMode | null = null;
  private page: HTMLElement | null = null;
  private barKey = '';
  private readonly style = h('style', { 'data-huddle': 'presenter' });
  private styleKey = '';

  constructor(
    private readonly room: NotebookRoom,
    private readonly api: AccessApi,
    private readonly myUsername: string,
  ) {
    this.toggle = h('button', {
      type: 'button',
      className: 'hd-present-toggle',
      'aria-pressed': 'false',
      'aria-label': 'Present',
      title: 'Present: everyone else follows your cell (they can step out)',
      onclick: () => void this.setPresenting(this.toggle.getAttribute('aria-pressed') !== 'true'),
    }, 'Present');
    document.head.append(this.style);
  }

  mount(page: HTMLElement, follow: FollowMode): void {
    this.page = page;
    this.follow = follow;
  }

  get current(): Presenter | null {
    return this.presenter;
  }

  private async setPresenting(on: boolean): Promise<void> {
    this.toggle.disabled = true;
    try {
      await this.api.present(this.room.documentId, on);
    } catch (err) {
      toast(`Could not ${on ? 'start' : 'stop'} presenting: ${err instanceof Error ? err.message : String(err)}`, 'error');
    } finally {
      this.toggle.disabled = false;
    }
  }

  /** A presence update (before follow mode's own): follow the presenter, or stop. */
  update(people: Collaborator[]): void {
    this.presenter = this.room.presenter();
    const follow = this.follow;
    if (!follow) return;
    const step = presentStep(this.state, {
      presenter: this.presenter, myUsername: this.myUsername, people, following: follow.following,
    });
    this.state = step.state;
    if (step.action.kind === 'follow') {
      const clientId = step.action.clientId;
      const person = people.find((p) => p.clientId === clientId);
      if (person && follow.following !== clientId) follow.toggle(person);
    } else if (step.action.kind === 'unfollow') {
      follow.stop(null);
    }
    this.show(people);
  }

  private show(people: Collaborator[]): void {
    const presenter = this.presenter;
    const mine = presenter?.username === this.myUsername;
    this.toggle.setAttribute('aria-pressed', String(mine));
    this.toggle.classList.toggle('hd-present-on', mine);
    this.toggle.textContent = mine ? 'Presenting' : 'Present';
    const following = !!presenter && !mine && this.state.leading !== null && this.follow?.following === this.state.leading;
    this.page?.classList.toggle('hd-presentation', !!presenter);
    this.page?.classList.toggle('hd-following-presenter', following);
    this.showBar(presenter, mine, following);
    this.highlight(presenter ? people.filter((p) => p.username === presenter.username && !p.isMe) : []);
  }

  private showBar(presenter: Presenter | null, mine: boolean, following: boolean): void {
    const key = JSON.stringify([presenter?.username, presenter?.name, mine, following, this.state.steppedOut]);
    if (key === this.barKey) return;
    this.barKey = key;
    this.bar.hidden = !presenter || mine;
    if (!presenter || mine) return this.bar.replaceChildren();
    const action = this.state.steppedOut || !following
      ? h('button', { type: 'button', onclick: () => this.rejoin() }, 'Follow presenter')
      : h('button', { type: 'button', onclick: () => this.stepOut() }, 'Step out');
    const text = following ? `${presenter.name} is presenting: you follow their cell`
      : this.state.steppedOut ? `${presenter.name} is presenting (you stepped out)` : `${presenter.name} is presenting`;
    this.bar.replaceChildren(h('span', {}, text), action);
  }

  private stepOut(): void {
    const step = stepOut(this.state, this.follow?.following ?? null);
    this.state = step.state;
    if (step.action.kind === 'unfollow') this.follow?.stop(null);
    this.update(this.room.collaborators());
  }

  private rejoin(): void {
    this.state = rejoin(this.state);
    this.update(this.room.collaborators());
  }

  /** The presenter's remote cursor and cell chips stand out. y-codemirror.next marks a
   * caret only with its colour, in an inline style that the browser may keep as written
   * (hex) or serialize as rgb(): both are matched. The colours are checked hex values. */
  private highlight(theirs: Collaborator[]): void {
    const colors = [...new Set(theirs.map((p) => p.color.toLowerCase()).filter((c) => rgbOf(c) !== null))];
    const key = colors.join();
    if (key === this.styleKey) return;
    this.styleKey = key;
    this.style.textContent = colors.map((c) => {
      const caret = [c, rgbOf(c)].map((form) => `.cm-ySelectionCaret[style*="${form}" i]`);
      const info = caret.map((s) => `${s} > .cm-ySelectionInfo`).join(', ');
      return `
${caret.join(', ')} { border-left-width: 3px; border-right-width: 0; }
${info} { opacity: 1; font: 600 12px/1.3 system-ui, sans-serif; padding: 1px 6px; border-radius: 3px 3px 3px 0; top: -1.5em; }
${caret.map((s) => `${s} > .cm-ySelectionInfo::after`).join(', ')} { content: ' · presenting'; font-weight: 400; }
.hd-peer-chip[style*="background:${c}" i] { min-width: 26px; height: 22px; font-size: 12px; box-shadow: 0 0 0 2px var(--hd-bg), 0 0 0 4px ${c}; }`;
    }).join('\n');
  }

  destroy(): void {
    this.page?.classList.remove('hd-presentation', 'hd-following-presenter');
    this.style.remove();
  }
}

