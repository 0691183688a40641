/** A cell's CodeMirror 6 editor, bound to the cell's shared text with y-codemirror.next
 * (remote cursors and selections with name flags come from the awareness `user`). */
import { defaultKeymap, indentWithTab } from '@codemirror/commands';
import { markdownLanguage } from '@codemirror/lang-markdown';
import { python, pythonLanguage } from '@codemirror/lang-python';
import { HighlightStyle, LanguageSupport, bracketMatching, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { highlightCode, tags as t } from '@lezer/highlight';
import { EditorState, Prec, type Extension } from '@codemirror/state';
import { EditorView, drawSelection, keymap, type KeyBinding } from '@codemirror/view';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import type { Awareness } from 'y-protocols/awareness';
import { StyleModule } from 'style-mod';
import * as Y from 'yjs';

export interface EditorKeys {
  escape(): void;
  run(): void;
  runAdvance(): void;
  runInsert(): void;
  /** Leave the cell upwards/downwards; false if there is no cell there. */
  leave(direction: -1 | 1): boolean;
}

/** Syntax colours from CSS variables, so that they follow the light or dark theme
 * (style.css sets both). */
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.operatorKeyword, t.modifier, t.controlKeyword], color: 'var(--hd-tok-keyword)' },
  { tag: [t.string, t.special(t.string), t.regexp], color: 'var(--hd-tok-string)' },
  { tag: [t.number, t.bool, t.null, t.atom], color: 'var(--hd-tok-number)' },
  { tag: [t.comment, t.meta], color: 'var(--hd-tok-comment)', fontStyle: 'italic' },
  { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: 'var(--hd-tok-function)' },
  { tag: [t.className, t.typeName, t.definition(t.className)], color: 'var(--hd-tok-type)' },
  { tag: [t.standard(t.variableName), t.self], color: 'var(--hd-tok-builtin)' },
  { tag: [t.operator, t.punctuation], color: 'var(--hd-tok-operator)' },
  { tag: t.heading, color: 'var(--hd-tok-keyword)', fontWeight: 'bold' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strong, fontWeight: 'bold' },
  { tag: [t.link, t.url], color: 'var(--hd-tok-string)', textDecoration: 'underline' },
  { tag: t.invalid, color: 'var(--hd-danger)' },
]);

/** Python source as highlighted spans, in the editor's colours, without an editor (a cell
 * whose editor is not made yet, when the page is printed). */
export function highlightedPython(source: string): DocumentFragment {
  if (highlight.module) StyleModule.mount(document, highlight.module);
  const out = document.createDocumentFragment();
  highlightCode(source, pythonLanguage.parser.parse(source), highlight, (text, classes) => {
    if (!classes) return void out.append(text);
    const span = document.createElement('span');
    span.className = classes;
    span.textContent = text;
    out.append(span);
  }, () => out.append('\n'));
  return out;
}

function language(cellType: string): Extension {
  if (cellType === 'code') return python();
  // The bare Markdown language: `markdown()` would also bundle HTML, CSS and JavaScript
  // parsers (~120 KB) for embedded HTML, which notebook Markdown rarely needs.
  if (cellType === 'markdown') return new LanguageSupport(markdownLanguage);
  return [];
}

function notebookKeys(keys: EditorKeys): KeyBinding[] {
  const edge = (direction: -1 | 1) => (view: EditorView): boolean => {
    const { main } = view.state.selection;
    if (!main.empty) return false;
    const line = view.state.doc.lineAt(main.head);
    const atEdge = direction < 0 ? line.number === 1 : line.number === view.state.doc.lines;
    return atEdge && keys.leave(direction);
  };
  return [
    { key: 'Escape', run: () => (keys.escape(), true) },
    { key: 'Shift-Enter', run: () => (keys.runAdvance(), true) },
    { key: 'Mod-Enter', run: () => (keys.run(), true) },
    { key: 'Alt-Enter', run: () => (keys.runInsert(), true) },
    { key: 'ArrowUp', run: edge(-1) },
    { key: 'ArrowDown', run: edge(1) },
  ];
}

export interface CellEditor {
  view: EditorView;
  destroy(): void;
}

export function createEditor(
  parent: HTMLElement,
  text: Y.Text,
  awareness: Awareness,
  cellType: string,
  keys: EditorKeys,
  onFocus: () => void,
  extra: Extension = [],
): CellEditor {
  // Undo only this user's edits to this cell: the binding's own origin is tracked.
  const undoManager = new Y.UndoManager(text);
  const state = EditorState.create({
    doc: text.toString(),
    extensions: [
      Prec.highest(keymap.of(notebookKeys(keys))),
      keymap.of([...yUndoManagerKeymap, indentWithTab, ...defaultKeymap]),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      syntaxHighlighting(highlight),
      language(cellType),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': `${cellType} cell` }),
      EditorView.domEventHandlers({ focus: () => (onFocus(), false) }),
      yCollab(text, awareness, { undoManager }),
      extra,
    ],
  });
  const view = new EditorView({ state, parent });
  return {
    view,
    destroy: () => {
      view.destroy();
      undoManager.destroy();
    },
  };
}
