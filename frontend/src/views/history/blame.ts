/**
 * "Who wrote this?": a toggle in each cell's gutter that shows, in a gutter beside the
 * cell's editor, each line's last author (their name, in their colour when presence knows
 * it; "unknown" when the server does not know) and how long ago, from `GET .../blame`.
 * While it is on, the gutter follows the text at once (markers move with the edits) and is
 * asked again shortly after the notebook changes, and its times are redrawn every minute.
 */
import { Compartment, RangeSet, RangeSetBuilder, StateEffect, StateField, type Extension, type Text } from '@codemirror/state';
import { gutter, GutterMarker, type EditorView } from '@codemirror/view';

import { alignBlame, blameLabel, type BlameLabel } from '../../logic/history';
import type { BlameLine, HistoryApi } from '../../protocol/history';
import type { CellHistory, CellView } from '../cell';
import { h, toast } from '../dom';

/** After the notebook changes, blame is asked again this much later (edits come in bursts). */
const REFRESH_MS = 1000;
/** "5 min ago" is redrawn this often. */
const RETIME_MS = 60_000;

class BlameMarker extends GutterMarker {
  constructor(readonly label: BlameLabel) {
    super();
  }

  override eq(other: GutterMarker): boolean {
    return other instanceof BlameMarker && JSON.stringify(other.label) === JSON.stringify(this.label);
  }

  override toDOM(): Node {
    const { name, color, when, title } = this.label;
    return h('span', {
      className: color ? 'hd-blame hd-blame-known' : 'hd-blame',
      title,
      style: color ? `--hd-blame-color:${color}` : null,
    }, h('span', { className: 'hd-blame-name' }, name), when ? h('span', { className: 'hd-blame-when' }, when) : null);
  }
}

/** New labels, one per line of the document as it is when they are set. */
const setLabels = StateEffect.define<readonly (BlameLabel | null)[]>();

function markers(doc: Text, labels: readonly (BlameLabel | null)[]): RangeSet<GutterMarker> {
  const builder = new RangeSetBuilder<GutterMarker>();
  for (let n = 1; n <= doc.lines && n <= labels.length; n++) {
    const label = labels[n - 1];
    if (label) builder.add(doc.line(n).from, doc.line(n).from, new BlameMarker(label));
  }
  return builder.finish();
}

const blameField = StateField.define<RangeSet<GutterMarker>>({
  create: () => RangeSet.empty,
  update(value, tr) {
    const effect = tr.effects.find((e) => e.is(setLabels));
    return effect ? markers(tr.state.doc, effect.value as readonly (BlameLabel | null)[]) : value.map(tr.changes);
  },
});

const blameGutter = gutter({ class: 'hd-blame-gutter', markers: (view) => view.state.field(blameField) });

const OFF: Extension = [];

interface CellBlame {
  on: boolean;
  lines: BlameLine[] | null;
  compartment: Compartment;
}

export interface BlameHost {
  api: HistoryApi;
  /** Colours of the people here, by username. */
  colors(): Map<string, string>;
  /** Open a rendered Markdown cell's editor (blame shows beside it). */
  requestEdit(cell: CellView): void;
  /** Listen to every change of the notebook; returns the unsubscribe. */
  onNotebookChange(listener: () => void): () => void;
}

export class BlameGutters implements CellHistory {
  private readonly cells = new Map<string, CellBlame>();
  private readonly views = new Map<string, CellView>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly retimer: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;

  constructor(private readonly host: BlameHost) {
    this.unsubscribe = host.onNotebookChange(() => this.scheduleRefresh());
    this.retimer = setInterval(() => this.redrawAll(), RETIME_MS);
  }

  private state(cellId: string): CellBlame {
    let state = this.cells.get(cellId);
    if (!state) this.cells.set(cellId, state = { on: false, lines: null, compartment: new Compartment() });
    return state;
  }

  // --- CellHistory ------------------------------------------------------------------------

  attach(cell: CellView): void {
    this.views.set(cell.id, cell);
    this.renderToggle(cell);
  }

  detach(cell: CellView): void {
    if (this.views.get(cell.id) === cell) this.views.delete(cell.id);
  }

  editorExtensions(cell: CellView): Extension {
    const state = this.state(cell.id);
    return state.compartment.of(state.on ? this.extension(state) : OFF);
  }

  // --- the toggle -------------------------------------------------------------------------

  private renderToggle(cell: CellView): void {
    const on = this.state(cell.id).on;
    cell.element.classList.toggle('hd-blame-on', on);
    cell.tools.replaceChildren(h('button', {
      type: 'button',
      className: 'hd-blame-toggle',
      'aria-pressed': String(on),
      'aria-label': 'Who wrote this?',
      title: on ? 'Hide who wrote each line' : 'Who wrote this? Show who last wrote each line, and when',
      onclick: (event: MouseEvent) => {
        event.stopPropagation();
        void this.toggle(cell);
      },
    }, personIcon()));
  }

  async toggle(cell: CellView): Promise<void> {
    const state = this.state(cell.id);
    state.on = !state.on;
    this.renderToggle(cell);
    if (!state.on) {
      state.lines = null;
      const view = cell.editorView;
      if (view) view.dispatch({ effects: state.compartment.reconfigure(OFF) });
      return;
    }
    if (!cell.editorView) this.host.requestEdit(cell);
    await this.fetch([cell.id]);
  }

  // --- data ---------------------------------------------------------------------------------

  private async fetch(ids: string[]): Promise<void> {
    let blame: Map<string, BlameLine[]>;
    try {
      blame = ids.length === 1 ? await this.host.api.blame(ids[0]) : await this.host.api.blame();
    } catch (err) {
      toast(`Could not ask who wrote this: ${err instanceof Error ? err.message : String(err)}`, 'error');
      return;
    }
    for (const id of ids) {
      const state = this.cells.get(id);
      if (!state?.on) continue;
      state.lines = blame.get(id) ?? [];
      this.show(id);
    }
  }

  private labels(view: EditorView, lines: readonly BlameLine[]): (BlameLabel | null)[] {
    const colors = this.host.colors();
    const now = Date.now() / 1000;
    return alignBlame(view.state.doc.toString().split('\n'), lines).map((line) => (line ? blameLabel(line, colors, now) : null));
  }

  private extension(state: CellBlame): Extension {
    const lines = state.lines;
    const colors = this.host.colors();
    const now = Date.now() / 1000;
    const field = blameField.init((editorState) => {
      if (!lines) return RangeSet.empty;
      const aligned = alignBlame(editorState.doc.toString().split('\n'), lines);
      return markers(editorState.doc, aligned.map((line) => (line ? blameLabel(line, colors, now) : null)));
    });
    return [field, blameGutter];
  }

  /** Show a cell's blame in its editor, if it has one (else its next editor shows it). */
  private show(cellId: string): void {
    const state = this.cells.get(cellId);
    const cell = this.views.get(cellId);
    const view = cell?.editorView;
    if (!state?.on || !state.lines || !cell || !view) return;
    if (state.compartment.get(view.state) === OFF) {
      view.dispatch({ effects: state.compartment.reconfigure(this.extension(state)) });
    } else {
      view.dispatch({ effects: setLabels.of(this.labels(view, state.lines)) });
    }
  }

  private redrawAll(): void {
    for (const id of this.cells.keys()) this.show(id);
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer || ![...this.cells.values()].some((s) => s.on)) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const ids = [...this.cells].filter(([, s]) => s.on).map(([id]) => id);
      if (ids.length) void this.fetch(ids);
    }, REFRESH_MS);
  }

  destroy(): void {
    this.unsubscribe();
    clearInterval(this.retimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
  }
}

/** A person's head and shoulders, drawn in the text colour. */
function personIcon(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'hd-blame-icon');
  svg.setAttribute('aria-hidden', 'true');
  const head = document.createElementNS(ns, 'circle');
  head.setAttribute('cx', '8');
  head.setAttribute('cy', '5.5');
  head.setAttribute('r', '2.75');
  const body = document.createElementNS(ns, 'path');
  body.setAttribute('d', 'M2.5 14.5c.6-3 2.8-4.5 5.5-4.5s4.9 1.5 5.5 4.5');
  svg.append(head, body);
  return svg;
}
