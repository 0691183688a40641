/**
 * Going to a place in the notebook: a queued run's cell, a review thread's text or output,
 * and a person's cell (from the people list: put mid-view and flashed in their colour, or
 * followed).
 */
import { centreScroll } from '../../logic/follow';
import type { NotebookRoom } from '../../protocol/room';
import type { CellList } from '../cells';
import type { FollowMode } from '../follow';
import type { Modes } from './keyboard';

/** How long a person's cell flashes in their colour after a jump to it. */
const FLASH_MS = 1200;

export class Places {
  constructor(
    private readonly room: NotebookRoom,
    private readonly list: CellList,
    private readonly modes: Modes,
    private readonly follow: FollowMode,
  ) {}

  /** A cell, active and in view, in command mode (from the run queue). */
  goToCell(cellId: string): void {
    if (this.list.indexOf(cellId) < 0) return;
    this.list.setActive(cellId);
    this.list.scrollToActive();
    this.modes.command();
  }

  /** A review thread's place: its cell, active and in view, with its text selected. */
  showThreadPlace(cellId: string, range: { start: number; end: number } | null, output: number | null): void {
    const view = this.list.cells.find((c) => c.id === cellId);
    if (!view) return;
    this.list.setActive(cellId);
    this.list.scrollToActive();
    if (range) view.selectText(range.start, range.end);
    if (output !== null) view.showOutput(output);
    this.list.recordAnchor();
  }

  /** The cell a person is on, in the middle of the view, flashed in their colour. */
  jumpTo(clientId: number): void {
    // Going to someone else is leaving the one you followed.
    if (this.follow.following !== null && this.follow.following !== clientId) this.follow.stop(null);
    const person = this.room.collaborators().find((p) => p.clientId === clientId);
    const view = person?.activeCellId ? this.list.cells.find((c) => c.id === person.activeCellId) : null;
    if (!view) return;
    const rect = view.element.getBoundingClientRect();
    window.scrollBy({ top: centreScroll(rect, this.list.viewport()), behavior: 'instant' });
    this.list.recordAnchor();
    view.element.style.setProperty('--hd-flash-color', person!.color);
    view.element.classList.add('hd-flash');
    setTimeout(() => view.element.classList.remove('hd-flash'), FLASH_MS);
  }

  toggleFollow(clientId: number): void {
    const person = this.room.collaborators().find((p) => p.clientId === clientId);
    if (person) this.follow.toggle(person);
  }
}
