/**
 * Huddle's widget manager: ipywidgets' `ManagerBase` with the classes this app bundles
 * (`@jupyter-widgets/base`, `controls`, `output`, and `anywidget`'s sandboxed host), and
 * models made from the server's state (browsers never open comms). One manager holds the
 * live models (with comms over the widget socket); another, comm-less, the notebook's
 * saved state.
 */
import * as base from '@jupyter-widgets/base';
import type { DOMWidgetModel, IClassicComm, WidgetModel, WidgetView } from '@jupyter-widgets/base';
import { ManagerBase } from '@jupyter-widgets/base-manager';
import * as controls from '@jupyter-widgets/controls';

import { AnyModel, AnyView, type ChangeGate } from './anywidget/view';
import type { ModelFrame } from './frames';
import { SafeHTMLMathView, SafeHTMLView, type HtmlSanitizer } from './html';
import { HuddleOutputModel, HuddleOutputView, type OutputRenderer, type RenderOutputs } from './output';

type WidgetClass = typeof WidgetModel | typeof WidgetView;

const MODULES: Record<string, Record<string, unknown>> = {
  '@jupyter-widgets/base': base as unknown as Record<string, unknown>,
  '@jupyter-widgets/controls': { ...(controls as unknown as Record<string, unknown>), HTMLView: SafeHTMLView, HTMLMathView: SafeHTMLMathView },
  '@jupyter-widgets/output': { OutputModel: HuddleOutputModel, OutputView: HuddleOutputView },
  anywidget: { AnyModel, AnyView },
};

export interface ManagerHooks {
  renderOutputs: RenderOutputs;
  sanitizeHtml(html: string): string;
  /** Whether this page may change a model now (live, not dead, may run cells). */
  mayChange(model: DOMWidgetModel): boolean;
  /** A change from an anywidget frame was refused here. */
  refusedHere(model: DOMWidgetModel): void;
}

export class HuddleWidgetManager extends ManagerBase implements OutputRenderer, ChangeGate, HtmlSanitizer {
  constructor(private readonly hooks: ManagerHooks) {
    super();
  }

  protected override async loadClass(className: string, moduleName: string, moduleVersion: string): Promise<WidgetClass> {
    const module = Object.prototype.hasOwnProperty.call(MODULES, moduleName) ? MODULES[moduleName] : undefined;
    const found = module && Object.prototype.hasOwnProperty.call(module, className) ? module[className] : undefined;
    if (typeof found !== 'function') {
      throw new Error(`The widget class ${className} from ${moduleName}@${moduleVersion} is not available in Huddle's web app`);
    }
    return found as WidgetClass;
  }

  /** Every view (children of boxes too) says which model it shows, so that a refusal's
   * notice finds the output it belongs to. */
  override create_view(model: WidgetModel, options: object = {}): Promise<any> {
    const view = super.create_view(model, options) as Promise<WidgetView>;
    return view.then((v) => {
      v.el.dataset['hdModel'] = model.model_id;
      return v;
    });
  }

  /** Comms are the kernel's to open: the page only gets them from the server. */
  protected override _create_comm(): Promise<IClassicComm> {
    return Promise.reject(new Error('widgets cannot open comms from the page'));
  }

  protected override _get_comm_info(): Promise<{}> {
    return Promise.resolve({});
  }

  /** A model from the server's description, its comm attached. Registered before the
   * first await, so that models referring to it (a box's children) find it. */
  addModel(model: ModelFrame, comm: IClassicComm): Promise<WidgetModel> {
    return this.new_model({
      model_id: model.commId,
      model_name: model.modelName,
      model_module: model.modelModule,
      model_module_version: model.modelModuleVersion,
      comm,
    }, model.state);
  }

  /** Replaces an existing model's state with the server's (a new snapshot). */
  async replaceState(model: ModelFrame): Promise<void> {
    const existing = await this.get_model(model.commId);
    const Model = existing.constructor as typeof WidgetModel;
    existing.set_state(await Model._deserialize_state(model.state as never, this));
  }

  renderOutputs(container: HTMLElement, outputs: Record<string, unknown>[]): void {
    this.hooks.renderOutputs(container, outputs);
  }

  sanitizeHtml(html: string): string {
    return this.hooks.sanitizeHtml(html);
  }

  mayChange(model: DOMWidgetModel): boolean {
    return this.hooks.mayChange(model);
  }

  refusedHere(model: DOMWidgetModel): void {
    this.hooks.refusedHere(model);
  }
}
