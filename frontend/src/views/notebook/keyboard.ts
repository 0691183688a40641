/**
 * The keyboard model, as Jupyter's: command mode and edit mode and the active cell
 * (`Modes`), the keys a cell's editor hands back to the page (Escape, Shift+Enter, leaving
 * at the first or last line), and the command-mode keys read from the document
 * (`CommandKeyListener`; which key means which command is logic/keys.ts).
 */
import { clampIndex } from '../../logic/cells';
import { CommandKeys, type Command } from '../../logic/keys';
import type { CellView } from '../cell';
import type { CellList } from '../cells';
import type { EditorKeys } from '../editor';

export type Mode = 'command' | 'edit';

/** Runs a command on a cell (the active one when none is given): `CellCommands.exec`. */
export type Exec = (command: Command, cell?: CellView | null) => void;

/** Where command-mode keys are not the notebook's: typing into an editor or a form, or
 * pressing keys on a button, a link, a menu or a dialog. */
const NOT_COMMAND_MODE = '.cm-editor, input, textarea, select, button, a, summary, details, [contenteditable], dialog';

export class Modes {
  private current: Mode = 'command';

  constructor(
    private readonly list: CellList,
    /** What holds the keyboard in command mode (the cells' `<main>`). */
    private readonly commandFocus: () => HTMLElement | null,
  ) {}

  get mode(): Mode {
    return this.current;
  }

  /** The cell was clicked or its editor focused. */
  select(cell: CellView, mode: Mode): void {
    this.list.setActive(cell.id);
    this.current = mode;
  }

  edit(cell: CellView, at: 'start' | 'end' | 'keep' = 'keep'): void {
    this.list.setActive(cell.id);
    this.current = 'edit';
    cell.setEditing(true);
    cell.focusEditor(at);
  }

  command(): void {
    this.current = 'command';
    this.list.activeView?.blurEditor();
    this.refocus();
  }

  /** In command mode, give the keyboard back to the notebook (after a toolbar button). */
  refocus(): void {
    if (this.current === 'command') this.commandFocus()?.focus({ preventScroll: true });
  }

  /** Tab in command mode: the keyboard to the active cell's first control (its run
   * button, comment, lock…), not the first cell's. False when it has none shown. */
  focusActiveControls(target: EventTarget | null): boolean {
    if (this.current !== 'command' || target !== this.commandFocus()) return false;
    const controls = this.list.activeView?.element.querySelectorAll<HTMLElement>('.hd-gutter button') ?? [];
    const first = [...controls].find((el) => el.offsetParent !== null);
    first?.focus();
    return first !== undefined;
  }

  /** Make the cell at `index` (kept within the cells) active, in view, in `mode`; a
   * Markdown cell stays rendered. */
  activate(index: number, mode: Mode): void {
    const view = this.list.cells[clampIndex(index, this.list.cells.length)];
    if (!view) return;
    this.list.setActive(view.id);
    this.list.revealActive();
    if (mode === 'edit' && view.model.cell_type !== 'markdown') this.edit(view, 'start');
    else this.command();
  }
}

/** The keys a cell's editor hands to the page. */
export function editorKeys(cell: CellView, list: CellList, modes: Modes, exec: Exec): EditorKeys {
  return {
    escape: () => modes.command(),
    run: () => exec('run', cell),
    runAdvance: () => exec('runAdvance', cell),
    runInsert: () => exec('runInsert', cell),
    leave: (direction) => {
      const next = list.cells[list.step(list.indexOf(cell.id), direction)];
      if (!next) return false;
      list.setActive(next.id);
      list.scrollToActive();
      modes.edit(next, direction < 0 ? 'end' : 'start');
      return true;
    },
  };
}

/** Command-mode keys on the document, while `page` is shown and in command mode. */
export class CommandKeyListener {
  private readonly keys = new CommandKeys();
  private readonly onKey = (event: KeyboardEvent): void => this.commandKey(event);

  constructor(private readonly page: HTMLElement, private readonly modes: Modes, private readonly exec: Exec) {
    document.addEventListener('keydown', this.onKey);
  }

  private commandKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    const plainTab = event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (plainTab && this.modes.focusActiveControls(target)) {
      event.preventDefault();
      return;
    }
    if (this.modes.mode !== 'command' || target?.closest(NOT_COMMAND_MODE)) return;
    if (!this.page.isConnected) return;
    const command = this.keys.handle(event, performance.now());
    if (!command) return;
    event.preventDefault();
    this.exec(command);
  }

  destroy(): void {
    document.removeEventListener('keydown', this.onKey);
  }
}
