/**
 * A version drawn read-only, and a diff: the version's cells rendered as the live notebook
 * renders them (Markdown through the app's sanitizer, outputs through its output renderer:
 * HTML only in sandboxed frames), with no editors and nothing to run; a diff's cells in
 * order with their status, changed lines as -/+ lines with the changed characters marked,
 * and outputs and metadata changes in words. What the rows are is logic/history.ts.
 */
import {
  canRestoreCell,
  cellNotes,
  cellPlace,
  diffRows,
  foldLines,
  metadataText,
  spanSegments,
  STATUS_LABELS,
  unchangedCellsText,
  type LineRow,
} from '../../logic/history';
import type { Diff, DiffCell, DiffLine, VersionNotebook } from '../../protocol/history';
import { h } from '../dom';
import { renderMarkdown } from '../markdown';
import { renderOutputs } from '../outputs';

type Json = Record<string, unknown>;

const text = (source: unknown): string => (Array.isArray(source) ? source.map(String).join('') : typeof source === 'string' ? source : '');

/** One cell of a version, read-only. */
function versionCell(cell: Json, index: number): HTMLElement {
  const type = typeof cell['cell_type'] === 'string' ? cell['cell_type'] : 'code';
  const source = text(cell['source']);
  const count = cell['execution_count'];
  const prompt = type === 'code' ? `[${typeof count === 'number' ? count : ' '}]:` : '';
  let input: HTMLElement;
  if (type === 'markdown') {
    input = h('div', { className: 'hd-markdown hd-rendered' });
    input.innerHTML = source.trim() ? renderMarkdown(source) : '<p class="hd-placeholder">Empty Markdown cell</p>';
  } else {
    input = h('pre', { className: 'hd-preview' }, source || ' ');
  }
  const outputs = h('div', { className: 'hd-outputs' });
  if (type === 'code' && Array.isArray(cell['outputs'])) {
    renderOutputs(outputs, cell['outputs'].filter((o): o is Json => typeof o === 'object' && o !== null));
  }
  return h('div', {
    className: `hd-vcell hd-vcell-${type}`,
    'data-cell-id': typeof cell['id'] === 'string' ? cell['id'] : null,
    role: 'listitem',
    'aria-label': `Cell ${index + 1}`,
  }, h('div', { className: 'hd-vcell-gutter' }, h('span', { className: 'hd-prompt' }, prompt)),
  h('div', { className: 'hd-vcell-body' }, h('div', { className: 'hd-input' }, input), outputs));
}

/** A version's notebook, read-only, as the live one looks. */
export function renderVersionNotebook(notebook: VersionNotebook): HTMLElement {
  const cells = notebook.cells.map(versionCell);
  return h('div', { className: 'hd-version-cells', role: 'list', 'aria-label': 'Cells of this version' },
    ...(cells.length ? cells : [h('p', { className: 'hd-empty' }, 'This version has no cells.')]));
}

// --- diffs --------------------------------------------------------------------------------------

function lineElement(line: DiffLine): HTMLElement {
  const kind = line.op === '+' ? 'add' : line.op === '-' ? 'del' : 'same';
  const body = h('span', { className: 'hd-diff-text' });
  for (const segment of spanSegments(line.text, line.spans)) {
    body.append(segment.changed ? h('mark', { className: 'hd-diff-span' }, segment.text) : segment.text);
  }
  if (!line.text) body.append(' ');
  return h('div', { className: `hd-diff-line hd-diff-${kind}` },
    h('span', { className: 'hd-diff-sign', 'aria-label': line.op === '+' ? 'added line' : line.op === '-' ? 'removed line' : null }, line.op === ' ' ? ' ' : line.op),
    body);
}

function lineRow(row: LineRow): HTMLElement {
  if (row.kind === 'line') return lineElement(row.line);
  return h('div', { className: 'hd-diff-line hd-diff-fold' }, `… ${row.count} unchanged lines`);
}

export interface DiffActions {
  /** Editors only: "Restore this cell" (null hides it). */
  restoreCell: ((cell: DiffCell) => void) | null;
}

function diffCell(cell: DiffCell, toId: string, actions: DiffActions): HTMLElement {
  const restore = actions.restoreCell && canRestoreCell(cell, toId) ? actions.restoreCell : null;
  const head = h('div', { className: 'hd-diff-head' },
    h('span', { className: `hd-diff-badge hd-diff-badge-${cell.status}` }, STATUS_LABELS[cell.status]),
    h('span', { className: 'hd-diff-place' }, cellPlace(cell)),
    h('span', { className: 'hd-diff-type' }, cell.cellType),
    restore ? h('button', {
      type: 'button',
      className: 'hd-diff-restore',
      title: 'Make this cell in the live notebook what it was in the older version (undoable)',
      onclick: () => restore(cell),
    }, 'Restore this cell') : null);
  const parts: HTMLElement[] = [head];
  if (cell.source?.length) {
    const rows = cell.status === 'changed' || cell.status === 'moved' ? foldLines(cell.source) : cell.source.map((line) => ({ kind: 'line', line }) as LineRow);
    parts.push(h('div', { className: 'hd-diff-source', role: 'group', 'aria-label': 'Source lines' }, ...rows.map(lineRow)));
  }
  for (const note of cellNotes(cell)) parts.push(h('p', { className: 'hd-diff-note' }, note));
  return h('div', { className: `hd-diff-cell hd-diff-${cell.status}`, 'data-cell-id': cell.id, 'data-status': cell.status, role: 'listitem' }, ...parts);
}

/** The diff's cells in order (unchanged ones folded), and the notebook's metadata change. */
export function renderDiff(diff: Diff, actions: DiffActions): HTMLElement {
  const rows = diffRows(diff.cells).map((row) => row.kind === 'cell'
    ? diffCell(row.cell, diff.to.id, actions)
    : h('div', { className: 'hd-diff-folded', role: 'listitem', 'data-count': String(row.count) }, unchangedCellsText(row.count)));
  return h('div', { className: 'hd-diff' },
    diff.metadata.changed ? h('p', { className: 'hd-diff-note hd-diff-notebook-meta' }, metadataText(diff.metadata, 'Notebook metadata')) : null,
    h('div', { className: 'hd-diff-cells', role: 'list', 'aria-label': 'Cells compared' },
      ...(rows.length ? rows : [h('p', { className: 'hd-empty' }, 'No cells on either side.')])));
}
