/**
 * The notebook's kernel by name ("Python 3 (ipykernel)", from the notebook's kernelspec
 * metadata or the server's kernelspecs), at the toolbar's right end as in JupyterLab, and
 * the kernel picker behind it: a menu of the installed kernels (Jupyter's kernelspecs
 * API). Choosing one asks first (the kernel is everyone's), then sets the notebook's
 * `metadata.kernelspec` and puts the notebook's session on the new kernel. Only who may
 * restart the kernel may change it: changing it throws away everyone's kernel state, as
 * a restart does.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { KernelSpecInfo, KernelSpecs, KernelsApi } from '../protocol/kernels';
import { h } from './dom';
import { kernelName, type KernelControls } from './kernel';

export interface KernelPickerDeps {
  notebook: YNotebook;
  kernels: KernelsApi;
  controls: KernelControls;
  /** May change the kernel (restart rights, and the sessions API). */
  canChange(): boolean;
  /** May write the notebook's metadata. */
  canEdit(): boolean;
}

export class KernelPicker {
  private readonly label = h('span', { className: 'hd-kernel-name' }, '');
  private readonly summary = h('summary', {}, this.label);
  private readonly body = h('div', { className: 'hd-menu-body', role: 'group', 'aria-label': 'Kernels' });
  readonly element: HTMLDetailsElement = h('details', { className: 'hd-menu hd-kernel-picker' }, this.summary, this.body);
  private specs: KernelSpecs | null = null;
  /** What is shown, so that a change elsewhere in the notebook (cells added) leaves the
   * menu, and the keyboard focus in it, alone. */
  private shownKey = '';
  private readonly onChange = (): void => this.show();

  constructor(private readonly deps: KernelPickerDeps) {
    deps.notebook.changed.connect(this.onChange);
    this.show();
    // Without a list (share-link guests have no kernelspecs API, or it failed) the name
    // stays and nothing can be chosen.
    if (deps.kernels.sessions) void this.load();
  }

  /** Ask the server which kernels there are (to name the notebook's, and for the menu). */
  async load(): Promise<void> {
    try {
      this.specs = await this.deps.kernels.kernelSpecs();
    } catch (err) {
      console.warn('listing the kernels failed', err);
    }
    this.show();
  }

  show(): void {
    const name = kernelName(this.deps.notebook);
    const shown = this.displayName(name);
    this.label.textContent = shown;
    const may = this.deps.canChange();
    const key = JSON.stringify([name, shown, may, this.specs]);
    if (key === this.shownKey) return;
    this.shownKey = key;
    const title = may ? `Kernel: ${shown}. Change the kernel` : `Kernel: ${shown}`;
    this.summary.title = title;
    this.summary.setAttribute('aria-label', title);
    this.element.classList.toggle('hd-kernel-fixed', !may);
    this.body.replaceChildren(...this.items(name, may));
  }

  private items(current: string, may: boolean): HTMLElement[] {
    const note = (text: string): HTMLElement => h('p', { className: 'hd-kernel-note' }, text);
    if (!this.deps.kernels.sessions) return [note('The kernel is chosen by the notebook\'s owners')];
    if (!this.specs) return [note('Looking for kernels…')];
    if (!this.specs.specs.length) return [note('The server lists no kernels')];
    return [
      ...(may ? [] : [note('Only people who may restart the kernel can change it')]),
      ...this.specs.specs.map((spec) => h('button', {
        type: 'button',
        className: 'hd-kernel-choice',
        'aria-pressed': String(spec.name === current),
        'data-kernel': spec.name,
        disabled: !may,
        onclick: () => void this.choose(spec),
      }, spec.displayName)),
    ];
  }

  private async choose(spec: KernelSpecInfo): Promise<void> {
    this.element.open = false;
    this.summary.focus();
    await this.deps.controls.confirmAndChange(spec.name, spec.displayName, () => {
      if (!this.deps.canEdit()) return;
      this.deps.notebook.setMetadata('kernelspec', { name: spec.name, display_name: spec.displayName, language: spec.language });
    });
  }

  /** The metadata's display name, else the server's for that kernel, else its name. */
  private displayName(name: string): string {
    const meta = this.deps.notebook.getMetadata('kernelspec') as { name?: unknown; display_name?: unknown } | undefined;
    if (meta?.name === name && typeof meta.display_name === 'string' && meta.display_name) return meta.display_name;
    return this.specs?.specs.find((s) => s.name === name)?.displayName ?? name;
  }

  destroy(): void {
    this.deps.notebook.changed.disconnect(this.onChange);
  }
}
