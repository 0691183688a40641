/**
 * The page's rights on its notebook, applied: the role badge; controls that need a
 * capability (`data-needs` on them) hidden without it; read-only and locked cells (through
 * views/locks.ts); commands refused with a reason; the owner's Share, Present and Hand over;
 * "Make my copy" for people who cannot edit, when the server allows them a copy (the access
 * API's `copy`); refused edits told in a short notice; and
 * capabilities asked again when the server says they changed (close 4001).
 */
import './sharing.css';

import type { YCellType } from '@jupyter/ydoc';

import { Emitter } from '../logic/emitter';
import type { Command } from '../logic/keys';
import { capabilityRefusal, commandRefusal, isLocked, lockOf, lockRefusal, roleUi, type Capability, type RoleUi } from '../logic/roles';
import type { Access, AccessApi } from '../protocol/access';
import type { Collaborator } from '../protocol/presence';
import type { RawNotice } from '../protocol/raw';
import type { NotebookRoom } from '../protocol/room';
import { h, toast } from './dom';
import type { FollowMode } from './follow';
import { HandOver } from './handover';
import type { CellAccess } from './locks';
import { PresentMode } from './present';
import { ShareDialog } from './share';

/** The same refusal is told at most once in this many milliseconds. */
const NOTICE_QUIET_MS = 4000;

const REFUSED_TEXT: Record<string, string> = {
  read_only: 'You can read this notebook but not change it: your edit was not applied.',
  locked: 'That cell is locked by the notebook\'s owner: your change was undone.',
  protected: 'That part of the notebook is kept by the server: your change was undone.',
};

export interface RoleDeps {
  room: NotebookRoom;
  api: AccessApi;
  /** The capabilities fetched before the page opened. */
  access: Access;
  myUsername: string;
}

export class RoleControls implements CellAccess {
  readonly changed = new Emitter<void>();
  /** "Viewing", "Running", "Editing"…, next to the notebook's name. */
  readonly badge = h('span', { className: 'hd-role', role: 'status' });
  /** Share, Present, Make my copy: in the header. */
  readonly actions = h('span', { className: 'hd-role-actions' });
  ui: RoleUi;
  private caps: Set<Capability>;
  private page: HTMLElement | null = null;
  private readonly share: ShareDialog;
  private readonly handover: HandOver;
  readonly present: PresentMode;
  private readonly copyButton: HTMLButtonElement;
  private lastNotice = { text: '', at: 0 };
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: RoleDeps) {
    const { room, api } = deps;
    this.caps = deps.access.capabilities;
    this.ui = roleUi(this.caps, deps.access.copy);
    const name = room.path.slice(room.path.lastIndexOf('/') + 1);
    this.share = new ShareDialog(api, room.documentId, name);
    this.handover = new HandOver(api, room.documentId, () => this.changed.emit());
    this.present = new PresentMode(room, api, deps.myUsername);
    this.copyButton = h('button', {
      type: 'button',
      className: 'hd-copy-button',
      'aria-label': 'Make my copy',
      // Its kernel runs as the server's user, as every kernel here does.
      title: 'Make a copy of this notebook of your own, which you can edit and run (as the server\'s user)',
      onclick: () => void this.makeCopy(),
    }, 'Make my copy');
    this.unsubscribe = room.rightsChanged.on(() => void this.reload());
    this.show();
    if (this.ui.canShare) void this.handover.refresh();
  }

  /** The page is built: apply the rights to its controls; presenting drives `follow`. */
  mount(page: HTMLElement, follow: FollowMode): void {
    this.page = page;
    this.present.mount(page, follow);
    this.show();
  }

  /** Ask the server again (after close 4001: a hand-over started or ended). */
  async reload(): Promise<void> {
    const before = this.ui.badge;
    try {
      const access = await this.deps.api.access(this.deps.room.documentId);
      this.caps = access.capabilities;
      this.ui = roleUi(this.caps, access.copy);
    } catch (err) {
      console.warn('asking for the capabilities failed', err);
      return;
    }
    this.show();
    if (this.ui.canShare) void this.handover.refresh();
    this.changed.emit();
    if (this.ui.badge !== before) toast(`Your rights changed: ${this.ui.explanation.replace(/^You/, 'you')}`);
  }

  private show(): void {
    const { ui } = this;
    this.badge.textContent = ui.badge;
    this.badge.title = ui.explanation;
    this.badge.dataset['role'] = ui.badge.toLowerCase();
    this.actions.replaceChildren(
      ...(ui.canShare ? [this.share.button, this.present.toggle] : []),
      ...(ui.canCopy ? [this.copyButton] : []),
    );
    if (!this.page) return;
    this.page.classList.toggle('hd-cannot-edit', !ui.canEdit);
    // Cells come and go: their run buttons follow a class on the page, not data-needs.
    this.page.classList.toggle('hd-cannot-run', !ui.canRun);
    for (const el of this.page.querySelectorAll<HTMLElement>('[data-needs]')) {
      el.hidden = !this.caps.has(el.dataset['needs'] as Capability);
    }
  }

  has(capability: Capability): boolean {
    return this.caps.has(capability);
  }

  /** Whether `command` may run on `cell`; if not, say why (a toast) and return false. */
  allows(command: Command | 'move', cell: YCellType | null = null): boolean {
    const needs = command === 'move' ? (this.caps.has('edit') ? null : capabilityRefusal('edit')) : commandRefusal(command, this.caps);
    const reason = needs ?? (cell ? lockRefusal(command, lockOf(cell.getMetadata()), this.ui.canShare) : null);
    if (reason) this.tell(reason);
    return reason === null;
  }

  /** The server refused or undid an edit (RAW `error`). */
  refused(notice: RawNotice): void {
    if (notice.type !== 'refused') return;
    this.tell(REFUSED_TEXT[notice.reason] ?? notice.message);
  }

  private tell(text: string): void {
    const now = performance.now();
    if (text === this.lastNotice.text && now - this.lastNotice.at < NOTICE_QUIET_MS) return;
    this.lastNotice = { text, at: now };
    toast(text);
  }

  /** Lock or unlock a cell (owners): both nbformat flags, in one change. */
  toggleLock(model: YCellType): void {
    if (!this.ui.canShare) return this.tell('Only an owner can lock or unlock cells');
    const locked = isLocked(lockOf(model.getMetadata()));
    model.transact(() => {
      if (locked) {
        model.deleteMetadata('editable');
        model.deleteMetadata('deletable');
      } else {
        model.setMetadata('editable', false);
        model.setMetadata('deletable', false);
      }
    });
  }

  // --- the people list -------------------------------------------------------------------------

  /** A presence update: presenting decides whom this page follows. */
  presence(people: Collaborator[]): void {
    this.present.update(people);
  }

  /** Changes whenever what `personExtra` shows changes. */
  peopleKey(): string {
    return `${this.present.current?.username ?? ''}|${this.ui.canShare ? this.handover.key() : '-'}`;
  }

  /** Next to a person: "presenting", and the owner's Hand over. */
  personExtra(person: Collaborator): Node | null {
    const presenting = this.present.current?.username === person.username;
    const tag = presenting ? h('span', { className: 'hd-presenting-tag' }, 'presenting') : null;
    const handover = this.ui.canShare && !person.isMe ? this.handover.control(person) : null;
    if (!tag && !handover) return null;
    const extra = document.createDocumentFragment();
    for (const node of [tag, handover]) if (node) extra.append(node);
    return extra;
  }

  // --- copies ------------------------------------------------------------------------------------

  private async makeCopy(): Promise<void> {
    this.copyButton.disabled = true;
    try {
      const copy = await this.deps.api.copy(this.deps.room.documentId);
      toast(`Made your copy: ${copy.path}`);
      location.assign(copy.url);
    } catch (err) {
      toast(`Could not make your copy: ${err instanceof Error ? err.message : String(err)}`, 'error');
      this.copyButton.disabled = false;
    }
  }

  destroy(): void {
    this.unsubscribe();
    this.changed.clear();
    this.share.destroy();
    this.handover.destroy();
    this.present.destroy();
  }
}
