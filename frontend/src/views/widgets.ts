/**
 * Live widgets, from the app's side: a widget output's placeholder (outputs.ts) asks for
 * its view, and the first one loads the widget bundle (widgets.js and widgets.css, built
 * next to app.js) with a dynamic import, so that notebooks without widgets never load the
 * widget libraries. The text fallback stays if the bundle fails to load or the server has
 * widgets off. The notebook's saved widget state (`metadata.widgets`) is handed on as it
 * changes.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { DocumentId } from '../logic/ids';
import { bundleUrl, widgetSocketUrls } from '../protocol/widgets';
import type { StartWidgets, WidgetRuntime } from '../widgets/api';
import { toast } from './dom';
import { sanitize } from './markdown';
import { renderOutputs, type WidgetMounts } from './outputs';

function addStylesheet(href: string): void {
  if (document.querySelector(`link[data-hd-widgets]`)) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  link.dataset['hdWidgets'] = '';
  document.head.append(link);
}

export interface WidgetSlotsDeps {
  notebook: YNotebook;
  documentId: DocumentId;
  baseUrl: string;
}

export class WidgetSlots implements WidgetMounts {
  private runtime: Promise<WidgetRuntime | null> | null = null;
  private destroyed = false;
  private readonly onMetadata = (): void => {
    void this.runtime?.then((runtime) => runtime?.setSavedState(this.deps.notebook.getMetadata('widgets')));
  };

  constructor(private readonly deps: WidgetSlotsDeps) {
    deps.notebook.metadataChanged.connect(this.onMetadata);
  }

  mount(placeholder: HTMLElement, modelId: string): void {
    void this.load().then((runtime) => runtime?.mount(placeholder, modelId));
  }

  private load(): Promise<WidgetRuntime | null> {
    this.runtime ??= this.start().catch((err: unknown) => {
      console.warn('widgets: the widget bundle did not load; widgets show as text', err);
      return null;
    });
    return this.runtime;
  }

  private async start(): Promise<WidgetRuntime | null> {
    addStylesheet(bundleUrl(import.meta.url, 'widgets.css'));
    const module = (await import(bundleUrl(import.meta.url, 'widgets.js'))) as { startWidgets: StartWidgets };
    if (this.destroyed) return null;
    return module.startWidgets({
      socketUrls: widgetSocketUrls(location, this.deps.baseUrl, this.deps.documentId),
      savedState: this.deps.notebook.getMetadata('widgets'),
      renderOutputs: (container, outputs) => renderOutputs(container, outputs, this),
      sanitizeHtml: sanitize,
      notice: (text) => toast(text),
    });
  }

  destroy(): void {
    this.destroyed = true;
    this.deps.notebook.metadataChanged.disconnect(this.onMetadata);
    void this.runtime?.then((runtime) => runtime?.destroy());
  }
}
