/**
 * The table of contents: a side panel (at the left, under the sticky header and toolbar,
 * as JupyterLab's) listing the notebook's Markdown headings, indented by level; clicking
 * one goes to its cell. Opened and closed by the toolbar's labelled "Contents" button;
 * Escape closes it, and keys typed in it never reach the notebook's command keys.
 */
import type { Heading } from '../../logic/outline';
import { h } from '../dom';

export class ContentsPanel {
  readonly toggle: HTMLButtonElement;
  readonly element: HTMLElement;
  private readonly list = h('ol', { className: 'hd-toc-list' });
  private readonly topObserver = new ResizeObserver(() => this.place());

  constructor(private readonly goTo: (cellId: string) => void, opened: () => void) {
    this.toggle = h('button', {
      type: 'button',
      className: 'hd-toc-toggle',
      'aria-pressed': 'false',
      'aria-controls': 'hd-toc-panel',
      title: 'Table of contents: the notebook\'s headings',
      onclick: () => {
        this.show(!this.isOpen, true);
        if (this.isOpen) opened();
      },
    }, '☰ Contents');
    this.element = h('aside', { className: 'hd-toc-panel', id: 'hd-toc-panel', 'aria-label': 'Table of contents', hidden: true },
      h('div', { className: 'hd-toc-head' },
        h('h2', {}, 'Contents'),
        h('button', { type: 'button', className: 'hd-link-button', 'aria-label': 'Close the table of contents', onclick: () => this.show(false, true) }, '✕')),
      h('nav', { 'aria-label': 'Headings' }, this.list));
    this.element.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Escape') this.show(false, true);
    });
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  show(open: boolean, returnFocus = false): void {
    this.element.hidden = !open;
    this.toggle.setAttribute('aria-pressed', String(open));
    this.element.parentElement?.classList.toggle('hd-toc-open', open);
    const top = document.querySelector('.hd-top');
    if (open && top) this.topObserver.observe(top);
    else this.topObserver.disconnect();
    if (open) this.place();
    else if (returnFocus) this.toggle.focus();
  }

  /** The headings, the one whose section holds the active cell marked. */
  render(headings: readonly Heading[], current: Heading | null): void {
    if (!headings.length) {
      this.list.replaceChildren(h('li', { className: 'hd-toc-empty' }, 'No headings yet: a Markdown cell\'s "# Title" lines show here.'));
      return;
    }
    this.list.replaceChildren(...headings.map((heading) => h('li', { className: 'hd-toc-item' },
      h('button', {
        type: 'button',
        className: 'hd-toc-entry',
        style: `--hd-toc-level:${heading.level}`,
        'data-level': heading.level,
        'aria-current': heading === current ? 'location' : undefined,
        onclick: () => this.goTo(heading.cellId),
      }, heading.text || '(untitled)'))));
  }

  private place(): void {
    const top = document.querySelector('.hd-top')?.getBoundingClientRect().bottom ?? 0;
    this.element.style.top = `${Math.max(0, top)}px`;
  }

  destroy(): void {
    this.topObserver.disconnect();
  }
}
