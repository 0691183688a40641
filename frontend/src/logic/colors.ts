/** Collaborator colours: the identity's own when it is a usable CSS hex colour, otherwise
 * one picked from a fixed palette by a hash of the user name (stable across sessions), and
 * moved to a free one when someone else in the room already shows that colour. */

/** Twelve hues for people whose identity has no colour. Each takes white initials at 4.5:1
 * or better (WCAG AA text) and stands out 3:1 or better (WCAG non-text) against both the
 * light background and the dark theme's background and panels (checked in the tests). */
export const PALETTE = [
  '#d1242f', // red
  '#0969da', // blue
  '#1a7f37', // green
  '#8250df', // purple
  '#c24e00', // orange
  '#0f7b7b', // teal
  '#bf3989', // magenta
  '#9a6700', // amber
  '#4d5ed6', // indigo
  '#5a7d0f', // olive
  '#a4562f', // sienna
  '#626d79', // slate
] as const;

export function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export function isHexColor(color: string | null | undefined): color is string {
  return !!color && HEX.test(color);
}

export function userColor(username: string, preferred?: string | null): string {
  if (isHexColor(preferred)) return preferred;
  return PALETTE[hashString(username) % PALETTE.length] as string;
}

/** One person's colour as published in presence, and how strong their claim to it is. */
export interface ColorClaim {
  username: string;
  clientId: number;
  color: string;
  /** From the Jupyter identity: never changed by the app. */
  explicit: boolean;
  /** When that connection joined (ms); earlier comers keep their colour. */
  since: number;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function outranks(other: ColorClaim, me: ColorClaim): boolean {
  if (other.explicit) return true;
  if (other.since !== me.since) return other.since < me.since;
  return other.clientId < me.clientId;
}

/**
 * The colour I should show, given everyone else's: my identity's colour if it has one;
 * the colour of an earlier tab of mine (one person, one colour); otherwise the one I show,
 * unless someone else who outranks me (an identity colour, or there first) shows it too,
 * then the first free palette colour after my hashed one. Every peer settles the same way,
 * so two people who joined at once end up apart; those already there never change.
 */
export function settleColor(me: ColorClaim, others: ColorClaim[]): string {
  if (me.explicit) return me.color;
  const myTabs = others.filter((o) => o.username === me.username && outranks(o, me));
  if (myTabs.length) return myTabs.reduce((a, b) => (outranks(a, b) ? a : b)).color;
  const strangers = others.filter((o) => o.username !== me.username);
  if (!strangers.some((o) => same(o.color, me.color) && outranks(o, me))) return me.color;
  const taken = (color: string): boolean => strangers.some((o) => same(o.color, color));
  const start = hashString(me.username) % PALETTE.length;
  for (let i = 0; i < PALETTE.length; i++) {
    const color = PALETTE[(start + i) % PALETTE.length] as string;
    if (!taken(color)) return color;
  }
  return me.color; // more people than colours: share
}

/** One person in the room as presence shows them: what settling colours reads. */
export interface ColorPerson {
  username: string;
  clientId: number;
  color: string;
  colorExplicit: boolean;
  since: number;
  isMe: boolean;
}

function claimOf(p: ColorPerson): ColorClaim {
  return { username: p.username, clientId: p.clientId, color: p.color, explicit: p.colorExplicit, since: p.since };
}

/** The colour I should show among `people` (me among them, `isMe`), by `settleColor`; null
 * while I am not among them yet. */
export function myColorIn(people: readonly ColorPerson[]): string | null {
  const me = people.find((p) => p.isMe);
  if (!me) return null;
  return settleColor(claimOf(me), people.filter((p) => !p.isMe).map(claimOf));
}

function expand(color: string): string {
  return color.length === 4 ? '#' + [...color.slice(1)].map((c) => c + c).join('') : color;
}

/** WCAG relative luminance of a hex colour (0 black … 1 white). */
export function luminance(color: string): number {
  const hex = expand(color).slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two hex colours (1 … 21). */
export function contrast(a: string, b: string): number {
  const [dark, light] = [luminance(a), luminance(b)].sort((x, y) => x - y) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** Text colour for initials on a person's colour: white, unless the colour is so light
 * (an identity's pastel, JupyterLab's collaborator colours) that near-black reads better. */
export function textOn(color: string): string {
  if (!isHexColor(color)) return '#ffffff';
  return contrast(color, '#ffffff') >= contrast(color, '#1f2328') ? '#ffffff' : '#1f2328';
}

/** The colour with an alpha suffix, for selection backgrounds. */
export function lightColor(color: string): string {
  return expand(color) + '33';
}

export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words[words.length - 1]![0]] : [name.trim()[0]];
  return letters.join('').toUpperCase() || '?';
}
