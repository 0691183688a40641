/**
 * Cell commands: what each command (a command-mode key, a toolbar button, an editor's
 * Shift+Enter) does to the notebook. Cells are inserted, deleted, pasted, moved and
 * retyped as @jupyter/ydoc does it; runs go through the shared kernel. Rights are asked of
 * the role controls first; where the commands land is logic/cells.ts.
 */
import type { YNotebook } from '@jupyter/ydoc';

import { advanceAfterRun, insertIndex, moveTarget } from '../../logic/cells';
import { insertCells, type CellType, type NewCell } from '../../protocol/cells';
import type { Command } from '../../logic/keys';
import type { CellView } from '../cell';
import type { CellList } from '../cells';
import { toast } from '../dom';
import type { KernelControls } from '../kernel';
import type { RoleControls } from '../roles';
import type { Modes } from './keyboard';

export type { CellType };
type CellJson = NewCell;

export interface CommandDeps {
  notebook: YNotebook;
  list: CellList;
  modes: Modes;
  roles: RoleControls;
  kernel: KernelControls;
}

export class CellCommands {
  private clipboard: CellJson[] = [];
  /** Deleted cells, last on top, for Z (undo delete). */
  private deleted: { index: number; cells: CellJson[] }[] = [];

  constructor(private readonly deps: CommandDeps) {}

  private get notebook(): YNotebook {
    return this.deps.notebook;
  }

  private get list(): CellList {
    return this.deps.list;
  }

  exec(command: Command, cell: CellView | null = this.list.activeView): void {
    const index = cell ? this.list.indexOf(cell.id) : -1;
    if (!cell || index < 0 || !this.deps.roles.allows(command, cell.model)) return;
    const modes = this.deps.modes;
    switch (command) {
      case 'edit': return modes.edit(cell);
      case 'run': return void this.run([cell], index, false, false);
      case 'runAdvance': return void this.run([cell], index, true, false);
      case 'runInsert': return void this.run([cell], index, true, true);
      case 'insertAbove': return this.insert(0, 'code');
      case 'insertBelow': return this.insert(1, 'code');
      case 'delete': return this.remove(index, 'delete');
      case 'cut': return this.remove(index, 'cut');
      case 'copy': this.clipboard = [this.cellJson(index)]; return toast('Cell copied');
      case 'paste': return this.paste(index + 1);
      case 'undoDelete': return this.undoDelete();
      case 'toCode': return this.changeType(index, 'code');
      case 'toMarkdown': return this.changeType(index, 'markdown');
      case 'toRaw': return this.changeType(index, 'raw');
      case 'up': return modes.activate(this.stepFrom(index, -1), 'command');
      case 'down': return modes.activate(this.stepFrom(index, 1), 'command');
      case 'first': return modes.activate(0, 'command');
      case 'last': return modes.activate(this.list.cells.length - 1, 'command');
      case 'interrupt': return void this.deps.kernel.confirmAndAct('interrupt');
    }
  }

  /** ↑ ↓: the next cell not under a collapsed heading, or this one at either end. */
  private stepFrom(index: number, direction: -1 | 1): number {
    const to = this.list.step(index, direction);
    return to >= 0 && to < this.list.cells.length ? to : index;
  }

  // --- editing the list of cells ---------------------------------------------------------------

  private cellJson(index: number): CellJson {
    const json = this.notebook.getCell(index).toJSON();
    return { cell_type: json.cell_type as CellType, source: String(json.source ?? ''), metadata: { ...json.metadata } };
  }

  insert(offset: 0 | 1, type: CellType, source = ''): void {
    const at = insertIndex(this.list.activeIndex, this.list.cells.length, offset);
    const [model] = insertCells(this.notebook, at, [{ cell_type: type, source }]);
    if (!model) return;
    this.list.setActive(model.id);
    this.list.scrollToActive();
    this.deps.modes.command();
  }

  private remove(index: number, why: 'delete' | 'cut'): void {
    const cells = [this.cellJson(index)];
    if (why === 'cut') this.clipboard = cells;
    this.deleted.push({ index, cells });
    this.notebook.deleteCell(index);
    this.deps.modes.activate(Math.min(index, this.list.cells.length - 1), 'command');
  }

  private undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) return;
    const at = Math.min(last.index, this.notebook.cells.length);
    insertCells(this.notebook, at, last.cells);
    this.deps.modes.activate(at, 'command');
  }

  private paste(at: number): void {
    if (!this.clipboard.length) return;
    insertCells(this.notebook, at, this.clipboard);
    this.deps.modes.activate(at, 'command');
  }

  /** Same id, source and metadata, new type: one transaction, as JupyterLab does it. */
  private changeType(index: number, type: CellType): void {
    const old = this.notebook.getCell(index);
    if (old.cell_type === type) return;
    const json = { ...this.cellJson(index), id: old.id, cell_type: type };
    this.notebook.transact(() => {
      this.notebook.deleteCell(index);
      insertCells(this.notebook, index, [json]);
    });
    this.deps.modes.activate(index, 'command');
  }

  move(direction: -1 | 1): void {
    const index = this.list.activeIndex;
    const to = moveTarget(index, direction, this.list.cells.length);
    if (to === null) return;
    if (!this.deps.roles.allows('move', this.list.activeView?.model ?? null)) return;
    this.notebook.moveCell(index, to);
    this.list.setActive(this.notebook.getCell(to).id);
    this.list.scrollToActive();
  }

  // --- running -------------------------------------------------------------------------------------

  private async run(cells: CellView[], index: number, advance: boolean, insert: boolean): Promise<void> {
    for (const cell of cells) if (cell.model.cell_type === 'markdown') cell.setEditing(false);
    const modes = this.deps.modes;
    const wasEditing = modes.mode === 'edit';
    if (advance) {
      if (advanceAfterRun(index, this.list.cells.length, insert, this.deps.roles.has('edit')) === 'insert') {
        this.list.setActive(cells[cells.length - 1]!.id);
        this.insert(1, 'code');
        if (wasEditing && this.list.activeView) modes.edit(this.list.activeView, 'start');
      } else {
        modes.activate(index + 1, wasEditing ? 'edit' : 'command');
      }
    }
    await this.deps.kernel.execute(cells);
  }

  async runAll(): Promise<void> {
    await this.runRange(0, this.list.cells.length);
  }

  /** Every cell above the selected one (not itself), as Jupyter's "Run All Above". */
  async runAbove(): Promise<void> {
    const index = this.list.activeIndex;
    if (index > 0) await this.runRange(0, index);
  }

  /** The selected cell and every cell below it. */
  async runBelow(): Promise<void> {
    const index = this.list.activeIndex;
    if (index >= 0) await this.runRange(index, this.list.cells.length);
  }

  private async runRange(from: number, to: number): Promise<void> {
    const cells = this.list.cells.slice(from, to);
    for (const cell of cells) if (cell.model.cell_type === 'markdown') cell.setEditing(false);
    await this.deps.kernel.execute(cells);
  }
}
