/**
 * Printing (and "Save as PDF") the whole notebook: cells far from the viewport have no
 * editor, no rendered Markdown and no outputs (views/cell.ts), so just before the page is
 * printed, or whenever it is laid out for print (`matchMedia('print')`: also a browser
 * that emulates print media), every such cell is rendered as it would be when mounted.
 * The print stylesheet (style.css) hides the header, toolbar, banners and panels.
 */
import type { CellView } from './cell';

export function printWholeNotebook(cells: () => readonly CellView[]): () => void {
  const prepare = (): void => {
    for (const cell of cells()) cell.renderForPrint();
  };
  const media = window.matchMedia('print');
  const onMedia = (event: MediaQueryListEvent): void => {
    if (event.matches) prepare();
  };
  window.addEventListener('beforeprint', prepare);
  media.addEventListener('change', onMedia);
  return () => {
    window.removeEventListener('beforeprint', prepare);
    media.removeEventListener('change', onMedia);
  };
}
