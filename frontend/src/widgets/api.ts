/**
 * What the app (app.js) and the widget bundle (widgets.js) agree on. Types only: the app
 * imports nothing else from src/widgets/, so no widget library lands in app.js.
 */

/** Renders nbformat outputs into a container: the app's own renderer (views/outputs.ts). */
export type RenderOutputsFn = (container: HTMLElement, outputs: Record<string, unknown>[]) => void;

export interface WidgetRuntimeOptions {
  /** The widget socket, and its http(s) twin (for telling "widgets off" from "down"). */
  socketUrls: { ws: string; http: string };
  /** The notebook's `metadata.widgets` (saved widget state), or undefined. */
  savedState: unknown;
  renderOutputs: RenderOutputsFn;
  /** The app's HTML sanitizer (views/markdown.ts) for HTML the widgets put in the page. */
  sanitizeHtml(html: string): string;
  /** A short, non-blocking notice (a toast) when no widget is there to show it near. */
  notice(text: string): void;
}

export interface WidgetRuntime {
  /** Shows model `modelId`'s view in `host` (a placeholder holding the text fallback,
   * which stays until a live or saved model is there). */
  mount(host: HTMLElement, modelId: string): void;
  /** The notebook's `metadata.widgets` changed. */
  setSavedState(state: unknown): void;
  destroy(): void;
}

/** widgets.js's export. */
export type StartWidgets = (options: WidgetRuntimeOptions) => WidgetRuntime;
