/**
 * The Output widget (`@jupyter-widgets/output`), and so `interact`'s printed results. The
 * server captures the kernel's outputs into the model's `outputs` state (it is the
 * frontend that sees iopub); this view only renders them, with the app's own output
 * renderer (HTML only in sandboxed frames), not JupyterLab's rendermime.
 */
import { DOMWidgetView } from '@jupyter-widgets/base';
import { OutputModel } from '@jupyter-widgets/output';

/** Renders nbformat outputs into a container (views/outputs.ts, handed in by the app). */
export type RenderOutputs = (container: HTMLElement, outputs: Record<string, unknown>[]) => void;

export interface OutputRenderer {
  renderOutputs: RenderOutputs;
}

export class HuddleOutputModel extends OutputModel {
  override defaults(): Backbone.ObjectHash {
    return { ...super.defaults(), outputs: [], msg_id: '' };
  }
}

function isOutput(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class HuddleOutputView extends DOMWidgetView {
  override render(): void {
    this.el.classList.add('hd-widget-output');
    this.listenTo(this.model, 'change:outputs', () => this.show());
    this.show();
  }

  private show(): void {
    const outputs = this.model.get('outputs') as unknown;
    const renderer = this.model.widget_manager as unknown as OutputRenderer;
    renderer.renderOutputs(this.el, Array.isArray(outputs) ? outputs.filter(isOutput) : []);
  }
}
