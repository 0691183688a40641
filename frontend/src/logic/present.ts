/**
 * Presenting: while an owner presents (the room's server presence names them), everyone
 * else follows the presenter's active cell with the existing follow mode, unless they
 * stepped out. Scrolling or typing ends following (follow mode's own rule), and that
 * counts as stepping out too; "Follow presenter" rejoins. The decisions are here (pure);
 * views/present.ts applies them.
 */

export interface Presenter {
  username: string;
  name: string;
  /** When the presentation started (seconds since the epoch, the server's clock). */
  since: number;
}

/** A connection in the room, as far as presenting goes. */
export interface PresentPeer {
  clientId: number;
  username: string;
  activeCellId: string | null;
  isMe: boolean;
}

export interface PresentState {
  /** Which presentation this state is about (presenter and start), null when none. */
  key: string | null;
  /** The presenter's connection this page started following, or null. */
  leading: number | null;
  /** The person stepped out of this presentation (or stopped following it). */
  steppedOut: boolean;
}

export const NO_PRESENTATION: PresentState = { key: null, leading: null, steppedOut: false };

export interface PresentFacts {
  presenter: Presenter | null;
  myUsername: string;
  people: PresentPeer[];
  /** Whom follow mode follows now (client id), or null. */
  following: number | null;
}

export type PresentAction =
  | { kind: 'none' }
  | { kind: 'follow'; clientId: number } // start following this connection
  | { kind: 'unfollow' }; // stop following (the presentation ended, or stepping out)

export interface PresentStep {
  state: PresentState;
  action: PresentAction;
}

const NONE: PresentAction = { kind: 'none' };

function presentationKey(p: Presenter): string {
  return `${p.username}@${p.since}`;
}

/** The presenter's connection to follow: one of theirs that is in a cell, the newest
 * (highest client id) among those; null when none of theirs is here. */
export function presenterClient(presenter: Presenter, people: PresentPeer[]): number | null {
  const theirs = people.filter((p) => p.username === presenter.username && !p.isMe);
  if (!theirs.length) return null;
  const inCell = theirs.filter((p) => p.activeCellId !== null);
  return Math.max(...(inCell.length ? inCell : theirs).map((p) => p.clientId));
}

/** One presence update: what to do so that this page follows the presenter, or not. */
export function presentStep(state: PresentState, facts: PresentFacts): PresentStep {
  const { presenter } = facts;
  if (!presenter) {
    // The presentation ended: stop following it (not someone followed by choice).
    const action: PresentAction = state.leading !== null && facts.following === state.leading ? { kind: 'unfollow' } : NONE;
    return { state: NO_PRESENTATION, action };
  }
  const key = presentationKey(presenter);
  // A new presentation (or another presenter): everyone is back in.
  let next: PresentState = state.key === key ? state : { key, leading: null, steppedOut: false };
  if (presenter.username === facts.myUsername) return { state: next, action: NONE }; // the presenter
  if (next.steppedOut) return { state: next, action: NONE };
  const present = new Set(facts.people.map((p) => p.clientId));
  if (next.leading !== null && facts.following !== next.leading && present.has(next.leading)) {
    // Following stopped while the presenter is still here: they scrolled, typed, pressed
    // Stop or followed someone else. That is stepping out.
    return { state: { ...next, leading: null, steppedOut: true }, action: NONE };
  }
  const target = presenterClient(presenter, facts.people);
  if (target === null) return { state: { ...next, leading: null }, action: NONE };
  next = { ...next, leading: target };
  return { state: next, action: facts.following === target ? NONE : { kind: 'follow', clientId: target } };
}

/** "Step out": stop following the presentation until "Follow presenter". */
export function stepOut(state: PresentState, following: number | null): PresentStep {
  const action: PresentAction = state.leading !== null && following === state.leading ? { kind: 'unfollow' } : NONE;
  return { state: { ...state, leading: null, steppedOut: true }, action };
}

/** "Follow presenter": back in; the next presence step follows them. */
export function rejoin(state: PresentState): PresentState {
  return { ...state, leading: null, steppedOut: false };
}

/** `rgb(r, g, b)` as browsers serialize a hex colour; null for anything but #rgb / #rrggbb. */
export function rgbOf(hex: string): string | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex);
  if (!m) return null;
  const digits = m[1]!.length === 3 ? [...m[1]!].map((d) => d + d).join('') : m[1]!;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}
