/**
 * A cell's rights on the page: its editor is read-only for people who may not edit the
 * notebook, and for everyone but owners when the cell is locked (nbformat `editable: false`
 * and `deletable: false`, which the server enforces and JupyterLab honours). Owners get a
 * lock toggle in the cell's gutter (shown on the selected cell and on locked cells);
 * everyone sees a lock on locked cells.
 */
import type { YCellType } from '@jupyter/ydoc';
import { Compartment, EditorState, StateEffect } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';

import type { Emitter } from '../logic/emitter';
import { cellReadOnly, isLocked, lockOf, type RoleUi } from '../logic/roles';
import { h, toast } from './dom';

/** What cells need to know about the page's rights (views/roles.ts provides it). */
export interface CellAccess {
  readonly ui: RoleUi;
  /** Emitted when the rights change (a hand-over, a role change). */
  readonly changed: Emitter<void>;
  toggleLock(model: YCellType): void;
}

/** One compartment for every editor (a compartment is only a key into each state). */
const editability = new Compartment();

/** Make an editor read-only or not: typing, pasting and commands change nothing while the
 * text can still be selected, copied and followed by others' cursors. */
export function setReadOnly(view: EditorView, readOnly: boolean): void {
  const extension = readOnly ? EditorState.readOnly.of(true) : [];
  if (editability.get(view.state) === undefined) {
    view.dispatch({ effects: StateEffect.appendConfig.of(editability.of(extension)) });
  } else {
    view.dispatch({ effects: editability.reconfigure(extension) });
  }
}

const SVG = 'http://www.w3.org/2000/svg';

/** A padlock, closed or open, drawn in the text colour (no emoji font needed). */
function padlock(closed: boolean): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'hd-padlock');
  svg.setAttribute('aria-hidden', 'true');
  const body = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ x: '3', y: '7', width: '10', height: '8', rx: '1.5' })) body.setAttribute(k, v);
  const shackle = document.createElementNS(SVG, 'path');
  shackle.setAttribute('d', closed ? 'M5 7V5a3 3 0 0 1 6 0v2' : 'M5 7V5a3 3 0 0 1 6 0');
  shackle.setAttribute('fill', 'none');
  shackle.setAttribute('stroke', 'currentColor');
  shackle.setAttribute('stroke-width', '1.6');
  svg.append(shackle, body);
  return svg;
}

/** How often at most a read-only editor says why typing does nothing. */
const NOTICE_EVERY_MS = 4000;
let lastNotice = 0;

/** Whether `event` would change the text of an editable editor (typing, deleting, a new
 * line), as opposed to moving, selecting or copying. */
function wouldEdit(event: KeyboardEvent): boolean {
  if (event.ctrlKey || event.metaKey || event.altKey) return false;
  return event.key.length === 1 || event.key === 'Backspace' || event.key === 'Delete' || event.key === 'Enter';
}

export class CellGuard {
  /** The lock toggle (owners) or lock icon (others), in the cell's gutter. */
  readonly element = h('span', { className: 'hd-lock-slot' });
  private cell: HTMLElement | null = null;
  private view: EditorView | null = null;
  private applied: boolean | null = null;
  private shown = '';
  private readonly unsubscribe: () => void;
  private readonly refresh = (): void => this.show();

  constructor(private readonly model: YCellType, private readonly access: CellAccess) {
    model.metadataChanged.connect(this.refresh);
    this.unsubscribe = access.changed.on(this.refresh);
  }

  /** The cell's root element, which gets `hd-locked` / `hd-readonly`. */
  bind(cell: HTMLElement): void {
    this.cell = cell;
    this.show();
  }

  /** A read-only editor tells whoever types in it why nothing happens (a short notice,
   * not a dialog: they may only be trying the keys). */
  private readonly onEditAttempt = (event: Event): void => {
    if (!this.readOnly || (event instanceof KeyboardEvent && !wouldEdit(event))) return;
    const now = Date.now();
    if (now - lastNotice < NOTICE_EVERY_MS) return;
    lastNotice = now;
    toast(this.access.ui.canEdit ? 'This cell is locked by the notebook\'s owner: it cannot be changed'
      : 'You can view this notebook but not edit it');
  };

  /** The cell's editor, when it has one (cells far from the viewport have none). */
  attach(view: EditorView | null): void {
    for (const type of ['keydown', 'paste', 'drop'] as const) {
      this.view?.contentDOM.removeEventListener(type, this.onEditAttempt);
      view?.contentDOM.addEventListener(type, this.onEditAttempt);
    }
    this.view = view;
    this.applied = null;
    this.show();
  }

  get readOnly(): boolean {
    return cellReadOnly(lockOf(this.model.getMetadata()), this.access.ui);
  }

  private show(): void {
    const lock = lockOf(this.model.getMetadata());
    const locked = isLocked(lock);
    const readOnly = cellReadOnly(lock, this.access.ui);
    if (this.view && this.applied !== readOnly) {
      setReadOnly(this.view, readOnly);
      this.applied = readOnly;
    }
    this.cell?.classList.toggle('hd-locked', locked);
    this.cell?.classList.toggle('hd-readonly', readOnly);
    const manage = this.access.ui.canShare;
    const key = `${locked}:${manage}`;
    if (key === this.shown) return;
    this.shown = key;
    this.element.replaceChildren(manage ? this.toggle(locked) : locked ? this.icon() : '');
  }

  private toggle(locked: boolean): HTMLButtonElement {
    return h('button', {
      type: 'button',
      className: 'hd-lock-toggle',
      'aria-pressed': String(locked),
      'aria-label': 'Lock this cell',
      title: locked ? 'Locked: only owners can change or delete it. Click to unlock.' : 'Lock: only owners can change or delete this cell',
      onclick: (event: MouseEvent) => {
        event.stopPropagation();
        this.access.toggleLock(this.model);
      },
    }, padlock(locked));
  }

  private icon(): HTMLElement {
    return h('span', {
      className: 'hd-lock-icon',
      role: 'img',
      'aria-label': 'Locked cell',
      title: 'Locked by the notebook\'s owner: it cannot be changed or deleted',
    }, padlock(true));
  }

  destroy(): void {
    this.model.metadataChanged.disconnect(this.refresh);
    this.unsubscribe();
    this.view = null;
  }
}
