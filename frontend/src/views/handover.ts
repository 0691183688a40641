/**
 * "Hand over" in the people list (owners): give someone who is here the right to run cells
 * or to edit for some minutes (`POST /api/huddle/grants/{document_id}`), and take it back.
 * Their page reconnects with the new rights at once (close 4001), and again when the time
 * is up.
 */
import type { DocumentId } from '../logic/ids';
import { describeGrant, grantSeconds, type Grant } from '../logic/roles';
import type { AccessApi } from '../protocol/access';
import type { Collaborator } from '../protocol/presence';
import { h, toast } from './dom';

/** How often the minutes left are redrawn (and ended grants dropped). */
const REDRAW_MS = 30_000;
const DEFAULT_MINUTES = '10';

export class HandOver {
  private grants = new Map<string, Grant>();
  private dialog: HTMLDialogElement | null = null;
  private timer = 0;

  constructor(
    private readonly api: AccessApi,
    private readonly documentId: DocumentId,
    /** The grants changed (or their minutes left): redraw the people list. */
    private readonly changed: () => void,
  ) {}

  /** Load the running grants (owners only may). */
  async refresh(): Promise<void> {
    try {
      this.grants = (await this.api.links(this.documentId)).grants;
    } catch (err) {
      console.warn('listing grants failed', err);
    }
    clearInterval(this.timer);
    if (this.grants.size) this.timer = window.setInterval(() => this.changed(), REDRAW_MS);
    this.changed();
  }

  /** Changes whenever what the controls show changes (minute resolution). */
  key(): string {
    const now = Date.now() / 1000;
    return [...this.grants].map(([user, g]) => `${user}:${describeGrant(g, now)}`).join();
  }

  /** The control next to someone in the people list. */
  control(person: Collaborator): HTMLElement {
    const state = describeGrant(this.grants.get(person.username), Date.now() / 1000);
    return h('button', {
      type: 'button',
      className: state ? 'hd-handover hd-handover-on' : 'hd-handover',
      'aria-haspopup': 'dialog',
      'aria-label': `Hand over to ${person.displayName}`,
      // The button's one word needs its explanation: what handing over gives, and for how long.
      title: state ? `${person.displayName} ${state}: change or take back`
        : `Hand over: let ${person.displayName} run cells (or edit too) for some minutes; you can take it back at any time`,
      'data-control': `handover-${person.clientId}`,
      onclick: () => this.open(person),
    }, state ? capitalize(state) : 'Hand over');
  }

  private open(person: Collaborator): void {
    this.dialog?.remove();
    const running = describeGrant(this.grants.get(person.username), Date.now() / 1000);
    const role = (value: string, text: string, checked: boolean): HTMLElement =>
      h('label', { className: 'hd-radio' }, h('input', { type: 'radio', name: 'handover-role', value, checked }), text);
    const minutes = h('input', { type: 'number', min: '1', max: '240', step: '1', value: DEFAULT_MINUTES, inputmode: 'numeric' });
    const form = h('form', { className: 'hd-handover-form' },
      h('fieldset', {}, h('legend', {}, 'Let them'),
        role('runner', 'Run cells', true), role('editor', 'Edit and run cells', false)),
      h('label', { className: 'hd-field' }, h('span', {}, 'For how many minutes'), minutes),
      h('div', { className: 'hd-dialog-buttons' },
        h('button', { type: 'submit', className: 'hd-primary' }, 'Hand over'),
        running ? h('button', { type: 'button', className: 'hd-danger', onclick: () => void this.give(person, null, 60) }, 'Take back') : null,
        h('button', { type: 'button', onclick: () => this.dialog?.close() }, 'Cancel')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const seconds = grantSeconds(minutes.value);
      const picked = form.querySelector<HTMLInputElement>('input[name="handover-role"]:checked')?.value ?? 'runner';
      if (seconds === null) return toast('Pick between 1 and 240 minutes', 'error');
      void this.give(person, picked, seconds);
    });
    const title = h('h2', { id: 'hd-handover-title' }, 'Hand over to ', h('span', { className: 'hd-handover-name' }, person.displayName));
    this.dialog = h('dialog', { className: 'hd-dialog hd-handover-dialog', 'aria-labelledby': 'hd-handover-title' },
      title, running ? h('p', { className: 'hd-muted' }, `${person.displayName} ${running}.`) : null, form);
    this.dialog.addEventListener('close', () => this.dialog?.remove());
    document.body.append(this.dialog);
    this.dialog.showModal();
  }

  private async give(person: Collaborator, role: string | null, seconds: number): Promise<void> {
    try {
      await this.api.grant(this.documentId, person.username, role, seconds);
      this.dialog?.close();
      toast(role === null ? `Took the rights back from ${person.displayName}`
        : `${person.displayName} can ${role === 'editor' ? 'edit' : 'run cells'} for ${Math.round(seconds / 60)} min`);
    } catch (err) {
      toast(`Could not hand over: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
    await this.refresh();
  }

  destroy(): void {
    clearInterval(this.timer);
    this.dialog?.remove();
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
