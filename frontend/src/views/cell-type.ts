/**
 * The toolbar's cell-type list (Code / Markdown / Raw), as JupyterLab's: it shows the
 * selected cell's type and changes it through the same commands as the Y / M / R keys
 * (so a locked cell or a missing right is refused the same way). Disabled for people who
 * may not edit, and when no cell is selected.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { Command } from '../logic/keys';
import type { CellList } from './cells';
import { h } from './dom';

const TYPES: [string, string, Command][] = [
  ['code', 'Code', 'toCode'],
  ['markdown', 'Markdown', 'toMarkdown'],
  ['raw', 'Raw', 'toRaw'],
];

export interface CellTypeDeps {
  notebook: YNotebook;
  list: CellList;
  exec(command: Command): void;
  canEdit(): boolean;
  /** Give the keyboard back to the notebook (command mode). */
  after(): void;
}

export class CellTypePicker {
  readonly element: HTMLSelectElement;
  private readonly onChange = (): void => this.show();

  constructor(private readonly deps: CellTypeDeps) {
    this.element = h('select', {
      className: 'hd-cell-type',
      'aria-label': 'Cell type (Y, M, R)',
      title: 'Cell type of the selected cell (Y code, M Markdown, R raw)',
      onchange: () => this.choose(),
    }, ...TYPES.map(([value, label]) => h('option', { value }, label)));
    // A cell's type changes by replacing it (same id): the notebook's cells change.
    deps.notebook.changed.connect(this.onChange);
    this.show();
  }

  /** Show the selected cell's type (the active cell changed, or the cells, or rights). */
  show(): void {
    const type = this.deps.list.activeView?.model.cell_type;
    this.element.value = type ?? '';
    this.element.disabled = !type || !this.deps.canEdit();
  }

  private choose(): void {
    const command = TYPES.find(([value]) => value === this.element.value)?.[2];
    if (command) this.deps.exec(command);
    this.show(); // refused (a locked cell): back to what the cell is
    this.deps.after();
  }

  destroy(): void {
    this.deps.notebook.changed.disconnect(this.onChange);
  }
}
