/**
 * The Share dialog (owners): create a link with a role, an expiry, an optional number of
 * people and a label; its URL is shown once, with Copy; the notebook's links are listed
 * (role, label, uses, expiry, revoked) with Revoke, which cuts their guests off at once.
 * A modal <dialog>: the focus stays in it, Escape closes it.
 */
import {
  describeExpiry,
  describeUses,
  EXPIRY_CHOICES,
  LINK_ROLES,
  linkRequest,
  linkStatus,
  WHO_RUNS_CODE,
  type LinkInfo,
} from '../logic/roles';
import type { DocumentId } from '../logic/ids';
import type { AccessApi } from '../protocol/access';
import { h } from './dom';

const ROLE_LABEL = new Map<string, string>(LINK_ROLES.map((r) => [r.role, r.label]));
const DEFAULT_EXPIRY = 2; // "In 1 day": a forgotten link does not stay open for ever

export class ShareDialog {
  readonly button: HTMLButtonElement;
  private dialog: HTMLDialogElement | null = null;
  private readonly list = h('div', { className: 'hd-share-links', 'aria-live': 'polite' });
  private readonly created = h('div', { className: 'hd-share-created', hidden: true });
  private readonly error = h('p', { className: 'hd-share-error', role: 'alert', hidden: true });
  /** Feedback inside the dialog (a toast would be under its backdrop). */
  private readonly status = h('p', { className: 'hd-share-status', role: 'status', 'aria-live': 'polite' });

  constructor(
    private readonly api: AccessApi,
    private readonly documentId: DocumentId,
    private readonly name: string,
  ) {
    this.button = h('button', {
      type: 'button',
      className: 'hd-share-button',
      'aria-haspopup': 'dialog',
      'aria-label': 'Share this notebook',
      title: 'Share this notebook with a link',
      onclick: () => this.open(),
    }, 'Share');
  }

  open(): void {
    this.dialog ??= this.build();
    if (!this.dialog.isConnected) document.body.append(this.dialog);
    this.created.hidden = true;
    this.error.hidden = true;
    this.status.textContent = '';
    this.dialog.showModal();
    void this.refresh();
  }

  private build(): HTMLDialogElement {
    const role = h('select', { name: 'role' }, ...LINK_ROLES.map((r) => h('option', { value: r.role }, r.label)));
    // What the chosen role may do, and whether that means running code as the server.
    const roleHint = h('small', { className: 'hd-role-hint' });
    const describeRole = (): void => {
      roleHint.textContent = LINK_ROLES.find((r) => r.role === role.value)?.description ?? '';
    };
    role.addEventListener('change', describeRole);
    describeRole();
    const expiry = h('select', { name: 'expiry' }, ...EXPIRY_CHOICES.map((c, i) =>
      h('option', { value: String(i), selected: i === DEFAULT_EXPIRY }, c.label)));
    const uses = h('input', { name: 'max_uses', type: 'number', min: '1', step: '1', inputmode: 'numeric', placeholder: 'No limit' });
    const label = h('input', { name: 'label', type: 'text', maxlength: '200', placeholder: 'e.g. Monday class', autocomplete: 'off' });
    const field = (text: string, control: HTMLElement, hint?: string): HTMLElement =>
      h('label', { className: 'hd-field' }, h('span', {}, text), control, hint ? h('small', {}, hint) : null);
    const form = h('form', { className: 'hd-share-form' },
      h('label', { className: 'hd-field' }, h('span', {}, 'People with the link'), role, roleHint),
      field('Link expires', expiry),
      h('p', { className: 'hd-share-trust', role: 'note' }, WHO_RUNS_CODE),
      field('How many people may join with it', uses, 'Leave empty for no limit'),
      field('Label', label, 'Only owners see it'),
      h('button', { type: 'submit', className: 'hd-primary' }, 'Create link'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const choice = EXPIRY_CHOICES[Number(expiry.value)] ?? EXPIRY_CHOICES[0]!;
      void this.create({ role: role.value, expiresInS: choice.seconds, maxUses: uses.value, label: label.value });
    });
    const title = h('h2', { id: 'hd-share-title' }, 'Share ', h('span', { className: 'hd-share-name' }, this.name));
    return h('dialog', { className: 'hd-dialog hd-share', 'aria-labelledby': 'hd-share-title' },
      h('div', { className: 'hd-dialog-head' }, title,
        h('button', { type: 'button', className: 'hd-dialog-close', 'aria-label': 'Close', onclick: () => this.dialog?.close() }, '✕')),
      h('p', { className: 'hd-muted' }, 'A link opens only this notebook. People who use it pick a name; they need no account.'),
      form, this.error, this.created, this.status,
      h('h3', {}, 'Links'), this.list);
  }

  private async create(form: Parameters<typeof linkRequest>[0]): Promise<void> {
    const request = linkRequest(form);
    if (!request.ok) return this.showError(request.error);
    this.error.hidden = true;
    try {
      const { link, url } = await this.api.createLink(this.documentId, request.body);
      this.showCreated(link, url);
      await this.refresh();
    } catch (err) {
      this.showError(`Could not create the link: ${message(err)}`);
    }
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }

  /** The URL, once: the server keeps only a hash of its token. */
  private showCreated(link: LinkInfo, url: string): void {
    const field = h('input', { type: 'text', readonly: true, value: url, 'aria-label': 'The new share link', className: 'hd-share-url' });
    const copy = h('button', { type: 'button', 'aria-label': 'Copy the link', onclick: () => void copyText(field).then((text) => (this.status.textContent = text)) }, 'Copy');
    this.created.replaceChildren(
      h('p', {}, `New link: ${ROLE_LABEL.get(link.role)?.toLowerCase() ?? link.role}. It is shown only now, so copy it.`),
      h('div', { className: 'hd-share-url-row' }, field, copy));
    this.created.hidden = false;
    field.select();
    copy.focus();
  }

  private async refresh(): Promise<void> {
    try {
      const { links } = await this.api.links(this.documentId);
      this.showLinks(links);
    } catch (err) {
      this.list.replaceChildren(h('p', { className: 'hd-share-error' }, `Could not list the links: ${message(err)}`));
    }
  }

  private showLinks(links: LinkInfo[]): void {
    if (!links.length) {
      this.list.replaceChildren(h('p', { className: 'hd-muted' }, 'No links yet.'));
      return;
    }
    const now = Date.now() / 1000;
    const rows = links.map((link) => {
      const status = linkStatus(link, now);
      const revoke = status === 'active' || status === 'used up'
        ? h('button', {
          type: 'button',
          className: 'hd-danger',
          'aria-label': `Revoke the link ${link.label || ROLE_LABEL.get(link.role) || link.role}`,
          onclick: (event: MouseEvent) => void this.revoke(link, event.currentTarget as HTMLButtonElement),
        }, 'Revoke')
        : null;
      return h('tr', { 'data-link-id': link.id, 'data-status': status },
        h('td', {}, ROLE_LABEL.get(link.role) ?? link.role),
        h('td', { className: 'hd-share-label' }, link.label || '—'),
        h('td', {}, describeUses(link)),
        h('td', {}, describeExpiry(link, now)),
        h('td', { className: `hd-link-status hd-link-${status.replace(' ', '-')}` }, status === 'active' ? 'Active' : capitalize(status)),
        h('td', {}, revoke));
    });
    this.list.replaceChildren(h('table', { className: 'hd-share-table' },
      h('thead', {}, h('tr', {}, ...['Access', 'Label', 'Joined', 'Expiry', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows)));
  }

  private async revoke(link: LinkInfo, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await this.api.revokeLink(this.documentId, link.id);
      this.status.textContent = 'Link revoked: the people who joined with it lost access.';
    } catch (err) {
      this.status.textContent = `Could not revoke the link: ${message(err)}`;
    }
    await this.refresh();
  }

  destroy(): void {
    this.dialog?.close();
    this.dialog?.remove();
  }
}

/** Copies the field's text; what happened, to tell. */
async function copyText(field: HTMLInputElement): Promise<string> {
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    return 'Link copied.';
  } catch {
    // No clipboard permission (an insecure origin, a browser policy): the text is
    // selected, so the keyboard's copy works.
    return document.execCommand('copy') ? 'Link copied.' : 'Press Ctrl+C (⌘C) to copy the selected link.';
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
