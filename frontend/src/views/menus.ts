/**
 * Header menus as `<details>` elements (keyboard-reachable without any script: Tab to the
 * summary, Enter or Space opens it, Tab through its links and buttons), closed on a click
 * elsewhere and on Escape; and the Download menu.
 */
import type { ExportFormat } from '../protocol/kernels';
import { h } from './dom';

const FORMATS: [ExportFormat, string][] = [
  ['ipynb', 'Notebook (.ipynb)'],
  ['html', 'HTML (.html)'],
  ['markdown', 'Markdown (.md)'],
  ['python', 'Python script (.py)'],
];

/** Links that download the live notebook (unsaved edits and running outputs included). */
export function exportMenu(urlFor: (format: ExportFormat) => string): HTMLDetailsElement {
  const menu: HTMLDetailsElement = h('details', { className: 'hd-menu hd-export' },
    h('summary', { 'aria-label': 'Download the notebook as', title: 'Download the live notebook, unsaved edits included' }, '⤓ Download'),
    h('div', { className: 'hd-menu-body', 'aria-label': 'Download formats' }, ...FORMATS.map(([format, label]) =>
      h('a', {
        href: urlFor(format),
        download: '',
        'data-format': format,
        onclick: () => (menu.open = false),
      }, label))));
  return menu;
}

/** Closes the open menus under `root` on a click outside them and on Escape. */
export class MenuCloser {
  private readonly onClick = (event: MouseEvent): void => {
    for (const menu of this.open()) if (!menu.contains(event.target as Node)) menu.open = false;
  };

  private readonly onKey = (event: KeyboardEvent): void => {
    if (event.key !== 'Escape') return;
    for (const menu of this.open()) {
      menu.open = false;
      menu.querySelector('summary')?.focus();
    }
  };

  constructor(private readonly root: HTMLElement) {
    document.addEventListener('click', this.onClick);
    document.addEventListener('keydown', this.onKey);
  }

  private open(): HTMLDetailsElement[] {
    return [...this.root.querySelectorAll<HTMLDetailsElement>('details.hd-menu[open]')];
  }

  destroy(): void {
    document.removeEventListener('click', this.onClick);
    document.removeEventListener('keydown', this.onKey);
  }
}
