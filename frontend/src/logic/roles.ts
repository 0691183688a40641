/**
 * Roles as the page sees them: what the server's capabilities on a notebook mean for the
 * controls (`GET /api/huddle/access/{document_id}`), which command needs what, what a
 * locked cell (nbformat `editable` / `deletable` metadata) allows, and how share links and
 * hand-overs are described. Pure: the views apply it.
 */
import type { Command } from './keys';

export type Capability = 'read' | 'comment' | 'execute' | 'interrupt' | 'edit' | 'restart' | 'share';
export type Role = 'viewer' | 'commenter' | 'runner' | 'editor' | 'owner';

const CAPABILITIES: readonly Capability[] = ['read', 'comment', 'execute', 'interrupt', 'edit', 'restart', 'share'];

/** The known capabilities among what the server sent (anything else is ignored). */
export function parseCapabilities(raw: unknown): Set<Capability> {
  const list = Array.isArray(raw) ? raw : [];
  return new Set(CAPABILITIES.filter((c) => list.includes(c)));
}

export interface RoleUi {
  /** The header badge: Owner, Editing, Running, Commenting or Viewing. */
  badge: string;
  /** What the badge means, for its tooltip. */
  explanation: string;
  canEdit: boolean;
  canRun: boolean;
  canInterrupt: boolean;
  canRestart: boolean;
  /** Share links, presenting, handing over, locking cells (owners). */
  canShare: boolean;
  /** "Make my copy" is offered to people who cannot edit the notebook itself, when the
   * server lets them make one (the access API's `copy`). */
  canCopy: boolean;
}

/** `copyAllowed`: the access API's `copy` (guests get it only with `guest_copies`). */
export function roleUi(caps: ReadonlySet<Capability>, copyAllowed: boolean): RoleUi {
  const has = (c: Capability): boolean => caps.has(c);
  const [badge, explanation] = has('share')
    ? ['Owner', 'You own this notebook: you can edit, run, share and present it']
    : has('edit')
      ? ['Editing', 'You can edit and run this notebook']
      : has('execute')
        ? ['Running', 'You can run cells, but not change them']
        : has('comment')
          ? ['Commenting', 'You can read and comment on this notebook, but not change or run it']
          : ['Viewing', 'You can read this notebook, but not change or run it'];
  return {
    badge,
    explanation,
    canEdit: has('edit'),
    canRun: has('execute'),
    canInterrupt: has('interrupt'),
    canRestart: has('restart'),
    canShare: has('share'),
    canCopy: copyAllowed && has('read') && !has('edit'),
  };
}

/** The capability each notebook command needs (null: anyone who can read). */
const COMMAND_NEEDS: Record<Command, Capability | null> = {
  edit: null, up: null, down: null, first: null, last: null, copy: null,
  run: 'execute', runAdvance: 'execute', runInsert: 'execute',
  interrupt: 'interrupt',
  insertAbove: 'edit', insertBelow: 'edit', delete: 'edit', cut: 'edit', paste: 'edit',
  undoDelete: 'edit', toCode: 'edit', toMarkdown: 'edit', toRaw: 'edit',
};

const REFUSALS: Record<Capability, string> = {
  read: 'You cannot read this notebook',
  comment: 'You cannot comment on this notebook',
  execute: 'You cannot run cells in this notebook',
  interrupt: 'You cannot interrupt this notebook\'s kernel',
  edit: 'You cannot change this notebook',
  restart: 'You cannot restart this notebook\'s kernel',
  share: 'Only an owner can do that',
};

/** Why `command` is not for someone with `caps`, or null when it is. */
export function commandRefusal(command: Command, caps: ReadonlySet<Capability>): string | null {
  const needs = COMMAND_NEEDS[command];
  return needs === null || caps.has(needs) ? null : REFUSALS[needs];
}

export function capabilityRefusal(capability: Capability): string {
  return REFUSALS[capability];
}

// --- locked cells ------------------------------------------------------------------------

export interface LockState {
  editable: boolean;
  deletable: boolean;
}

/** nbformat's flags; missing (or anything but false) means allowed, as the server reads them. */
export function lockOf(metadata: unknown): LockState {
  const m = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  return { editable: m['editable'] !== false, deletable: m['deletable'] !== false };
}

export function isLocked(lock: LockState): boolean {
  return !lock.editable || !lock.deletable;
}

/** Whether a cell's editor is read-only for this person: no edit right, or a lock they do
 * not manage (owners edit locked cells; the server undoes anyone else's change). */
export function cellReadOnly(lock: LockState, ui: Pick<RoleUi, 'canEdit' | 'canShare'>): boolean {
  return !ui.canEdit || (!lock.editable && !ui.canShare);
}

/** Structural commands that would change or remove a cell (changing a type and moving
 * replace the cell). */
const REMOVES_CELL = new Set<Command | 'move'>(['delete', 'cut', 'toCode', 'toMarkdown', 'toRaw', 'move']);

/** Why a command on a locked cell is refused to someone who does not manage locks. */
export function lockRefusal(command: Command | 'move', lock: LockState, canManage: boolean): string | null {
  if (canManage || !isLocked(lock) || !REMOVES_CELL.has(command)) return null;
  return 'That cell is locked by the notebook\'s owner';
}

// --- share links -------------------------------------------------------------------------

/** Code runs as the server's own user: say so wherever a role that runs code is handed out. */
export const WHO_RUNS_CODE =
  'Editors and runners of this notebook run code as this server\'s user, with its files in reach. ' +
  'So does anyone who makes a personal copy, in their copy\'s kernel (people with a link only if the server allows their copies).';

export const LINK_ROLES: readonly { role: Exclude<Role, 'owner'>; label: string; description: string }[] = [
  { role: 'viewer', label: 'Can view', description: 'Read it and follow the presenter. They run no code here.' },
  { role: 'commenter', label: 'Can comment', description: 'Read it and comment. They run no code here.' },
  { role: 'runner', label: 'Can run cells', description: 'Run its cells as written: the code runs as the server\'s user, with its files in reach.' },
  { role: 'editor', label: 'Can edit', description: 'Change and run any code, as the server\'s user, with its files in reach.' },
];

export const EXPIRY_CHOICES: readonly { label: string; seconds: number | null }[] = [
  { label: 'Never', seconds: null },
  { label: 'In 1 hour', seconds: 3600 },
  { label: 'In 1 day', seconds: 86_400 },
  { label: 'In 7 days', seconds: 7 * 86_400 },
];

/** A link as the server lists it (never its token). Times are seconds since the epoch. */
export interface LinkInfo {
  id: string;
  role: string;
  label: string;
  uses: number;
  maxUses: number | null;
  created: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export type LinkStatus = 'active' | 'revoked' | 'expired' | 'used up';

export function linkStatus(link: LinkInfo, nowS: number): LinkStatus {
  if (link.revokedAt !== null) return 'revoked';
  if (link.expiresAt !== null && nowS >= link.expiresAt) return 'expired';
  if (link.maxUses !== null && link.uses >= link.maxUses) return 'used up';
  return 'active';
}

export function describeUses(link: LinkInfo): string {
  if (link.maxUses !== null) return `${link.uses} / ${link.maxUses} used`;
  return link.uses === 1 ? '1 person' : `${link.uses} people`;
}

/** "in 5 min", "in 3 h", "in 2 days": how long until `untilS`, rounded up. */
export function timeLeft(untilS: number, nowS: number): string {
  const s = Math.max(0, untilS - nowS);
  if (s < 3600) return `${Math.max(1, Math.ceil(s / 60))} min`;
  if (s < 2 * 86_400) return `${Math.ceil(s / 3600)} h`;
  return `${Math.ceil(s / 86_400)} days`;
}

export function describeExpiry(link: LinkInfo, nowS: number): string {
  if (link.expiresAt === null) return 'No expiry';
  if (nowS >= link.expiresAt) return 'Expired';
  return `Expires in ${timeLeft(link.expiresAt, nowS)}`;
}

export interface LinkForm {
  role: string;
  expiresInS: number | null;
  maxUses: string;
  label: string;
}

export type LinkRequest =
  | { ok: true; body: { role: string; expires_in_s?: number; max_uses?: number; label?: string } }
  | { ok: false; error: string };

/** The body of `POST /api/huddle/links/{document_id}` for the dialog's fields. */
export function linkRequest(form: LinkForm): LinkRequest {
  if (!LINK_ROLES.some((r) => r.role === form.role)) return { ok: false, error: 'Pick what people with the link may do' };
  const body: { role: string; expires_in_s?: number; max_uses?: number; label?: string } = { role: form.role };
  if (form.expiresInS !== null) body.expires_in_s = form.expiresInS;
  const uses = form.maxUses.trim();
  if (uses) {
    const n = Number(uses);
    if (!Number.isInteger(n) || n < 1) return { ok: false, error: 'The number of people must be a whole number of at least 1' };
    body.max_uses = n;
  }
  const label = form.label.trim();
  if (label) body.label = label;
  return { ok: true, body };
}

// --- handing over ------------------------------------------------------------------------

export interface Grant {
  role: string;
  /** Seconds since the epoch. */
  until: number;
}

/** "can edit · 9 min left", or null when no grant is running. */
export function describeGrant(grant: Grant | undefined, nowS: number): string | null {
  if (!grant || grant.until <= nowS) return null;
  const what = grant.role === 'editor' ? 'can edit' : grant.role === 'runner' ? 'can run' : `is ${grant.role}`;
  return `${what} · ${timeLeft(grant.until, nowS)} left`;
}

/** Minutes asked for in the hand-over dialog, as the server's seconds (1 min to 4 h). */
export function grantSeconds(minutes: string): number | null {
  const n = Number(minutes.trim());
  if (!Number.isFinite(n) || n <= 0 || n > 240) return null;
  return Math.round(n * 60);
}
