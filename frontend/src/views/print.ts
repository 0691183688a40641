/**
 * Printing (and "Save as PDF") the whole notebook: cells far from the viewport have no
 * editor, no rendered Markdown and no outputs (views/cell.ts), so just before the page is
 * printed, or whenever it is laid out for print (`matchMedia('print')`: also a browser
 * that emulates print media), every such cell is rendered as it would be when mounted.
 * While printing, no cell is unmounted (the longer print layout moves cells out of the
 * mounting margin). The print stylesheet (style.css) hides the header, toolbar, banners
 * and panels.
 */
import type { CellView } from './cell';

export class PrintWholeNotebook {
  private printing = false;
  private readonly media = window.matchMedia('print');
  private readonly before = (): void => this.start();
  private readonly after = (): void => {
    if (!this.media.matches) this.printing = false;
  };
  private readonly onMedia = (event: MediaQueryListEvent): void => {
    if (event.matches) this.start();
    else this.printing = false;
  };

  constructor(private readonly cells: () => readonly CellView[]) {
    window.addEventListener('beforeprint', this.before);
    window.addEventListener('afterprint', this.after);
    this.media.addEventListener('change', this.onMedia);
  }

  /** Whether the page is being printed (cells stay as printed). */
  get active(): boolean {
    return this.printing;
  }

  private start(): void {
    this.printing = true;
    for (const cell of this.cells()) cell.renderForPrint();
  }

  destroy(): void {
    window.removeEventListener('beforeprint', this.before);
    window.removeEventListener('afterprint', this.after);
    this.media.removeEventListener('change', this.onMedia);
  }
}
