/**
 * The notebook page's layout: one sticky block (the header, then the toolbar, so that the
 * toolbar stays under the header however it wraps), the banners, the cells, the side
 * panels (comments, history) and what history shows over the cells. Builds the elements;
 * the parts they hold are made by the page.
 */
import type { Capability } from '../../logic/roles';
import type { ExportFormat } from '../../protocol/kernels';
import { h } from '../dom';
import type { KernelControls } from '../kernel';
import { exportMenu } from '../menus';
import type { CellCommands } from './commands';

export interface HeaderParts {
  /** The notebook's path (its title shows the file name). */
  path: string;
  /** The file list, or null for guests (the logo is then no link). */
  filesUrl: string | null;
  navigateFiles(event: MouseEvent): void;
  /** In header order, after the title. */
  items: HTMLElement[];
}

export interface PageParts {
  header: HeaderParts;
  toolbar: HTMLElement;
  banners: HTMLElement;
  cells: HTMLElement;
  panels: HTMLElement[];
}

export function pageLayout(parts: PageParts): HTMLElement {
  const { path, filesUrl, navigateFiles, items } = parts.header;
  const name = path.slice(path.lastIndexOf('/') + 1);
  return h('div', { className: 'hd-notebook-page' },
    h('div', { className: 'hd-top' },
      h('header', { className: 'hd-header' },
        filesUrl === null ? h('span', { className: 'hd-logo' }, 'Huddle')
          : h('a', { className: 'hd-logo', href: filesUrl, onclick: navigateFiles, title: 'All files' }, 'Huddle'),
        h('h1', { className: 'hd-title', title: path }, name), ...items),
      parts.toolbar),
    parts.banners,
    h('main', { className: 'hd-notebook', tabindex: '-1', 'aria-label': `Notebook ${name}` }, parts.cells),
    ...parts.panels);
}

/** The toolbar's parts made elsewhere: the contents toggle (views/outline/), the cell-type
 * list (views/cell-type.ts) and the kernel's name and picker (views/kernel-picker.ts). */
export interface ToolbarParts {
  contents: HTMLElement;
  cellType: HTMLElement;
  kernelPicker: HTMLElement;
}

/** The toolbar; every button gives the keyboard back to the notebook (`after`). The
 * kernel's name is at its right end, as in JupyterLab. */
export function toolbar(commands: CellCommands, kernel: KernelControls,
  exportUrl: (format: ExportFormat) => string, after: () => void, parts: ToolbarParts): HTMLElement {
  // `needs`: the capability without which the control is hidden (views/roles.ts).
  const button = (label: string, text: string, action: () => void, needs?: Capability): HTMLButtonElement =>
    h('button', { type: 'button', 'aria-label': label, title: label, 'data-needs': needs, onclick: () => { action(); after(); } }, text);
  return h('nav', { className: 'hd-toolbar', 'aria-label': 'Notebook actions' },
    parts.contents,
    h('span', { className: 'hd-sep' }),
    button('Run cell and advance (Shift+Enter)', '▶ Run', () => commands.exec('runAdvance'), 'execute'),
    button('Run all cells', '▶▶ Run all', () => void commands.runAll(), 'execute'),
    button('Run the cells above the selected cell', '▲ Run above', () => void commands.runAbove(), 'execute'),
    button('Run the selected cell and the cells below it', '▼ Run below', () => void commands.runBelow(), 'execute'),
    button('Interrupt the kernel (I, I)', '■ Interrupt', () => void kernel.confirmAndAct('interrupt'), 'interrupt'),
    button('Restart the kernel', '↻ Restart', () => void kernel.confirmAndAct('restart'), 'restart'),
    h('span', { className: 'hd-sep', 'data-needs': 'execute' }),
    button('Insert a code cell below (B)', '+ Code', () => commands.insert(1, 'code'), 'edit'),
    button('Insert a Markdown cell below', '+ Markdown', () => commands.insert(1, 'markdown'), 'edit'),
    button('Move the cell up', '↑', () => commands.move(-1), 'edit'),
    button('Move the cell down', '↓', () => commands.move(1), 'edit'),
    button('Delete the cell (D, D)', '✕ Delete', () => commands.exec('delete'), 'edit'),
    parts.cellType,
    h('span', { className: 'hd-sep' }),
    exportMenu(exportUrl),
    parts.kernelPicker);
}
