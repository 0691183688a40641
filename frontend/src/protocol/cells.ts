/**
 * Inserting cells into the shared notebook without the warnings that @jupyter/ydoc's
 * `insertCells` causes. That builds each cell's model around Y types that are not in a
 * document yet and reads them (yjs: "Invalid access: Add Yjs type to a document before
 * reading data"), and, with per-cell undo (`disableDocumentWideUndoRedo`, which the room
 * uses), gives each an UndoManager on the notebook's document while the cell's map is in
 * none ("[yjs#509] Not same Y.Doc"). Here the cell's map is filled by writes only (which
 * preliminary types take) and inserted into the notebook's `cells` array; the YNotebook's
 * own observer then makes each cell's model from the integrated map, as it does for cells
 * that others insert. The maps have the shape `createCell` gives them (and JupyterLab and
 * the server's jupyter_ydoc read).
 */
import type { YCellType, YNotebook } from '@jupyter/ydoc';
import { UUID } from '@lumino/coreutils';
import * as Y from 'yjs';

export type CellType = 'code' | 'markdown' | 'raw';

/** What the app inserts: a cell's type, text and metadata (and id, to keep one). */
export interface NewCell {
  cell_type: CellType;
  source: string;
  metadata?: Record<string, unknown>;
  id?: string;
}

function cellMap(cell: NewCell): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  map.set('source', new Y.Text(cell.source));
  const metadata = new Y.Map<unknown>();
  for (const [key, value] of Object.entries(cell.metadata ?? {})) metadata.set(key, value);
  map.set('metadata', metadata);
  map.set('cell_type', cell.cell_type);
  // UUIDs as @jupyter/ydoc makes them (crypto.randomUUID needs a secure context).
  map.set('id', cell.id ?? UUID.uuid4());
  if (cell.cell_type === 'code') {
    map.set('outputs', new Y.Array());
    map.set('execution_count', null);
  }
  return map;
}

/** Insert `cells` at `index` in one transaction; returns their models (none when called
 * inside another transaction: the models are made when it ends). */
export function insertCells(notebook: YNotebook, index: number, cells: readonly NewCell[]): YCellType[] {
  const maps = cells.map(cellMap);
  notebook.transact(() => notebook.ydoc.getArray<Y.Map<unknown>>('cells').insert(index, maps));
  return notebook.cells.slice(index, index + cells.length);
}
