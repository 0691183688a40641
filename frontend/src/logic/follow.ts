/**
 * Follow mode: your view follows another person's active cell, scrolling only when that
 * cell leaves your viewport, and stops when you scroll or type. The decisions are here
 * (pure); the page measures and scrolls. Also where a jump to someone's cell puts it.
 */

/** A vertical extent in viewport pixels. */
export interface Span {
  top: number;
  bottom: number;
}

/** How far from the viewport's edges a followed cell must be to count as "in view". */
export const FOLLOW_MARGIN_PX = 8;

/** Whether `cell` can be seen in `view`: wholly, or, for a cell taller than the view, by
 * covering a good part of it. */
export function inView(cell: Span, view: Span, margin = FOLLOW_MARGIN_PX): boolean {
  const height = cell.bottom - cell.top;
  const room = view.bottom - view.top - 2 * margin;
  if (height <= room) return cell.top >= view.top - margin && cell.bottom <= view.bottom + margin;
  const overlap = Math.min(cell.bottom, view.bottom) - Math.max(cell.top, view.top);
  return overlap >= Math.min(room, 120);
}

/**
 * How far to scroll (pixels, positive = down) to bring the followed cell into view, 0 when
 * it is in view already. A cell that fits is put a third of the way down the view (so the
 * next few cells they move to are in view too and need no scroll); a taller one is shown
 * from its top.
 */
export function followScroll(cell: Span, view: Span, margin = FOLLOW_MARGIN_PX): number {
  if (inView(cell, view, margin)) return 0;
  const height = cell.bottom - cell.top;
  const room = view.bottom - view.top;
  if (height >= room - 2 * margin) return Math.round(cell.top - (view.top + margin));
  const slack = room - height;
  return Math.round(cell.top - (view.top + Math.min(slack / 3, slack - margin)));
}

/** What the person being followed is doing, as far as following them goes. */
/** How far to scroll (pixels, positive = down) to put a cell in the middle of the view
 * (jumping to a person's cell). */
export function centreScroll(cell: { top: number; height: number }, view: Span): number {
  return cell.top - (view.top + view.bottom - cell.height) / 2;
}

export interface Followed {
  clientId: number;
  present: boolean;
  activeCellId: string | null;
}

export type FollowStep =
  | { kind: 'stop'; reason: 'left' }
  | { kind: 'check'; cellId: string } // scroll to the cell if it is out of view
  | { kind: 'idle' }; // nothing to do (no active cell known yet)

/** One presence update while following. */
export function followStep(followed: Followed): FollowStep {
  if (!followed.present) return { kind: 'stop', reason: 'left' };
  if (!followed.activeCellId) return { kind: 'idle' };
  return { kind: 'check', cellId: followed.activeCellId };
}

/** What you did, as far as following goes. */
export interface UserAction {
  type: string; // a DOM event type
  key?: string;
  /** The event happened on the follow controls themselves (the people list, the badge). */
  onFollowControls?: boolean;
  /** A pointer press on the page's scroll bar. */
  onScrollbar?: boolean;
}

/** Why following stopped, as told to the person who was following. */
export type StopReason = 'scrolled' | 'typed' | 'left';

const MODIFIERS = new Set(['Shift', 'Control', 'Alt', 'Meta', 'CapsLock', 'Tab', 'Escape']);
const SCROLL_KEYS = new Set(['PageUp', 'PageDown', 'Home', 'End', 'ArrowUp', 'ArrowDown', ' ']);

/** Whether an action of yours ends following, and why: scrolling (wheel, touch, the scroll
 * bar, scrolling keys) or typing. Moving the focus with Tab, Escape, modifier keys alone
 * and using the follow controls do not; neither do scrolls the page makes itself (they
 * are not user input). */
export function followStopReason(action: UserAction): StopReason | null {
  if (action.onFollowControls) return null;
  switch (action.type) {
    case 'wheel':
    case 'touchmove':
      return 'scrolled';
    case 'keydown': {
      const key = action.key ?? '';
      if (MODIFIERS.has(key)) return null;
      return SCROLL_KEYS.has(key) ? 'scrolled' : 'typed';
    }
    case 'pointerdown':
    case 'mousedown':
      return action.onScrollbar === true ? 'scrolled' : null;
    default:
      return null;
  }
}

/** What to tell the person who was following. */
export function stopMessage(name: string, reason: StopReason): string {
  switch (reason) {
    case 'scrolled': return `Stopped following ${name}: you scrolled`;
    case 'typed': return `Stopped following ${name}: you typed`;
    case 'left': return `Stopped following ${name}: they left`;
  }
}
