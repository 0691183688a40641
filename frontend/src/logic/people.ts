/**
 * Telling people apart in one room. Jupyter names anonymous users after moons, so two
 * people can arrive as "Anonymous Carme", and initials ("AC") collide even more often. Every
 * page computes the same answer from the same people (ordered by username, never by who
 * this page is), so a person is "Anonymous Carme 2" and "Ca" for everyone.
 */

export interface Nameable {
  username: string;
  displayName: string;
  initials: string;
}

/** Shown names and initials by username: a repeated display name gets " 2", " 3"… (the
 * first username keeps it), and initials shared by several people are replaced by two
 * letters of their own name, a number when nothing else is free. */
export function distinctNames(people: readonly Nameable[]): Map<string, { displayName: string; initials: string }> {
  const byUser = new Map<string, Nameable>();
  for (const p of people) if (!byUser.has(p.username)) byUser.set(p.username, p);
  const users = [...byUser.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  const names = new Map<string, string>();
  const count = new Map<string, number>();
  for (const p of users) {
    const n = (count.get(p.displayName) ?? 0) + 1;
    count.set(p.displayName, n);
    names.set(p.username, n === 1 ? p.displayName : `${p.displayName} ${n}`);
  }
  const initialsCount = new Map<string, number>();
  for (const p of users) initialsCount.set(p.initials, (initialsCount.get(p.initials) ?? 0) + 1);
  const taken = new Set(users.filter((p) => initialsCount.get(p.initials) === 1).map((p) => p.initials));
  const result = new Map<string, { displayName: string; initials: string }>();
  for (const p of users) {
    let initials = p.initials;
    if (initialsCount.get(p.initials)! > 1) {
      initials = initialCandidates(names.get(p.username)!, p.initials).find((c) => !taken.has(c)) ?? p.initials;
      taken.add(initials);
    }
    result.set(p.username, { displayName: names.get(p.username)!, initials });
  }
  return result;
}

/** Two-letter initials from a name: the original first, then the last word's first letter
 * with each later letter ("Carme": Ca, Cr, Cm, Ce), then numbered ones. */
export function initialCandidates(name: string, initials: string): string[] {
  const words = name.split(/\s+/).filter(Boolean);
  // A number we appended ("Anonymous Carme 2") is no word of the name.
  const last = words.filter((w) => !/^\d+$/.test(w)).pop() ?? '';
  const letters = [...last];
  const out = [initials];
  if (letters.length) {
    const head = letters[0]!.toUpperCase();
    for (const ch of letters.slice(1)) if (/\p{L}|\p{N}/u.test(ch)) out.push(head + ch.toLowerCase());
  }
  const base = (initials || letters[0] || '?').slice(0, 1).toUpperCase();
  for (let i = 2; i < 100; i++) out.push(`${base}${i}`);
  return [...new Set(out)];
}

/** What a cell's run line says about its last run, or null for nothing. `failedCell` is
 * the 1-based number of the cell whose failure stopped this one's batch, when known. */
export function lastRunText(run: { state: string; by: string; reason: string; mine: boolean; alone: boolean },
  failedCell: number | null): { text: string; kind: 'ok' | 'failed' | 'cancelled' | 'skipped' } | null {
  const { state, by } = run;
  switch (state) {
    case 'error': return { text: `Run failed · by ${by}`, kind: 'failed' };
    case 'cancelled': return { text: `Run cancelled · asked by ${by}`, kind: 'cancelled' };
    case 'aborted': {
      if (/earlier cell/.test(run.reason)) {
        return { text: failedCell ? `Not run: cell ${failedCell} failed` : 'Not run: an earlier cell failed', kind: 'skipped' };
      }
      if (/restart/.test(run.reason)) return { text: 'Not run: the kernel restarted', kind: 'skipped' };
      if (/interrupt/.test(run.reason)) return { text: 'Not run: the kernel was interrupted', kind: 'skipped' };
      return { text: `Run aborted · by ${by}`, kind: 'failed' };
    }
    default:
      // Alone in the room, "by you" says nothing.
      return run.mine && run.alone ? null : { text: `Ran · by ${by}`, kind: 'ok' };
  }
}
