/** Collaborator colours: the identity's own when it is a usable CSS hex colour, otherwise
 * one picked from a fixed palette by a hash of the user name (stable across sessions). */

const PALETTE = [
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4',
  '#008080', '#f032e6', '#9a6324', '#800000', '#000075',
];

export function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export function userColor(username: string, preferred?: string | null): string {
  if (preferred && HEX.test(preferred)) return preferred;
  return PALETTE[hashString(username) % PALETTE.length] as string;
}

/** The colour with an alpha suffix, for selection backgrounds. */
export function lightColor(color: string): string {
  const full = color.length === 4 ? '#' + [...color.slice(1)].map((c) => c + c).join('') : color;
  return full + '33';
}

export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words[words.length - 1]![0]] : [name.trim()[0]];
  return letters.join('').toUpperCase() || '?';
}
