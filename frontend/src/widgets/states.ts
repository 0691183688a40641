/**
 * How a widget looks and whether it may send, from what the page knows: where its state
 * comes from (the live kernel, or the notebook's saved state), whether this person may
 * run cells (the snapshot's `can_send`), whether the kernel died. Pure: the views apply it.
 */

export type WidgetSource = 'live' | 'saved';

export interface WidgetConditions {
  source: WidgetSource;
  /** The snapshot's `can_send` (false until a snapshot says otherwise). */
  canSend: boolean;
  /** The kernel restarted or died since this model was live. */
  dead: boolean;
}

export interface WidgetLook {
  /** Dimmed, no pointer or keyboard input. */
  disabled: boolean;
  /** The tooltip saying why, or null. */
  title: string | null;
  /** A short line under the widget, or null. */
  label: string | null;
}

export const READ_ONLY_TITLE = 'Only people who may run cells can use widgets';
export const DEAD_LABEL = 'the kernel restarted — run the cell again';
export const DEAD_TITLE = 'This widget is no longer connected to a kernel';
export const SAVED_LABEL = 'saved state';
export const SAVED_TITLE = 'The state saved in the notebook: not connected to a kernel';

export function widgetLook(c: WidgetConditions): WidgetLook {
  if (c.source === 'saved') return { disabled: true, title: SAVED_TITLE, label: SAVED_LABEL };
  if (c.dead) return { disabled: true, title: DEAD_TITLE, label: DEAD_LABEL };
  if (!c.canSend) return { disabled: true, title: READ_ONLY_TITLE, label: null };
  return { disabled: false, title: null, label: null };
}

/** Why a message from this page must not go out (refused here, not sent), or null. */
export function sendRefusal(c: { canSend: boolean; dead: boolean; open: boolean }): string | null {
  if (c.dead) return 'The kernel restarted: run the cell again';
  if (!c.canSend) return READ_ONLY_TITLE;
  if (!c.open) return 'Not connected to the server: try again in a moment';
  return null;
}
