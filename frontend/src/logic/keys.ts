/** Jupyter's command-mode keys: a key press in, the command it means out. */

export type Command =
  | 'edit'
  | 'run'
  | 'runAdvance'
  | 'runInsert'
  | 'insertAbove'
  | 'insertBelow'
  | 'delete'
  | 'toCode'
  | 'toMarkdown'
  | 'toRaw'
  | 'up'
  | 'down'
  | 'first'
  | 'last'
  | 'copy'
  | 'cut'
  | 'paste'
  | 'undoDelete'
  | 'interrupt';

export interface KeyPress {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

/** Ctrl+Alt+M (by the key's place, so on every layout): comment the selected cell in
 * command mode (the editors bind it for a selection, views/comments/highlights.ts). */
export function isCommentKey(press: { ctrlKey: boolean; altKey: boolean; code: string }): boolean {
  return press.ctrlKey && press.altKey && press.code === 'KeyM';
}

/** Two presses of D within this many milliseconds delete the cell. */
export const DOUBLE_PRESS_MS = 800;

export class CommandKeys {
  private lastKey = '';
  private lastAt = -Infinity;

  /** The command for `press` at time `now` (ms), or null for a key that means nothing. */
  handle(press: KeyPress, now: number): Command | null {
    const mod = press.ctrlKey || press.metaKey;
    const previous = this.lastKey;
    const double = now - this.lastAt <= DOUBLE_PRESS_MS;
    this.lastKey = '';
    if (press.key === 'Enter') {
      if (press.shiftKey) return 'runAdvance';
      if (mod) return 'run';
      if (press.altKey) return 'runInsert';
      return 'edit';
    }
    // Ctrl+Home / Ctrl+End (Cmd on a Mac), as in JupyterLab: the first / last cell too.
    if (mod && !press.altKey && press.key === 'Home') return 'first';
    if (mod && !press.altKey && press.key === 'End') return 'last';
    if (mod || press.altKey) return null;
    switch (press.key) {
      case 'ArrowUp':
      case 'k':
        return 'up';
      case 'ArrowDown':
      case 'j':
        return 'down';
      case 'Home':
        return 'first';
      case 'End':
        return 'last';
    }
    switch (press.key.toLowerCase()) {
      case 'a': return 'insertAbove';
      case 'b': return 'insertBelow';
      case 'm': return 'toMarkdown';
      case 'y': return 'toCode';
      case 'r': return 'toRaw';
      case 'c': return 'copy';
      case 'x': return 'cut';
      case 'v': return 'paste';
      case 'z': return 'undoDelete';
      case 'd':
        if (previous === 'd' && double) return 'delete';
        this.lastKey = 'd';
        this.lastAt = now;
        return null;
      case 'i':
        if (previous === 'i' && double) return 'interrupt';
        this.lastKey = 'i';
        this.lastAt = now;
        return null;
    }
    return null;
  }
}
