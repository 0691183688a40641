/**
 * Where a cell command lands, on a notebook of `count` cells: the index arithmetic behind
 * inserting, moving, going up and down, and advancing after a run (Jupyter's rules).
 */

/** `index` kept within the cells (0 in an empty notebook). */
export function clampIndex(index: number, count: number): number {
  return Math.max(0, Math.min(index, count - 1));
}

/** Where a new cell goes: above (`offset` 0) or below (1) the active cell, none active
 * counting as the first; at 0 in an empty notebook. */
export function insertIndex(active: number, count: number, offset: 0 | 1): number {
  return Math.max(0, active) + (count ? offset : 0);
}

/** Where the cell at `index` goes when moved up (-1) or down (1), or null when it cannot
 * (no cell, or already at that end). */
export function moveTarget(index: number, direction: -1 | 1, count: number): number | null {
  const to = index + direction;
  return index < 0 || to < 0 || to >= count ? null : to;
}

/** After running the cell at `index` and advancing: a new cell below it (Alt+Enter, or
 * past the last cell), for those who may edit; otherwise the next cell. */
export function advanceAfterRun(index: number, count: number, insert: boolean, canEdit: boolean): 'insert' | 'next' {
  return (insert || index + 1 >= count) && canEdit ? 'insert' : 'next';
}
