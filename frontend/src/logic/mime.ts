/** Which representation of a rich output to show, and plain-text helpers for outputs. */

/** Most to least preferred, as Jupyter front ends do. */
export const MIME_ORDER = [
  'application/javascript',
  'text/html',
  'text/markdown',
  'text/latex',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'image/gif',
  'application/json',
  'text/plain',
] as const;

export type Mime = (typeof MIME_ORDER)[number];

export function pickMime(data: Record<string, unknown> | undefined | null): Mime | null {
  if (!data) return null;
  return MIME_ORDER.find((m) => data[m] !== undefined && data[m] !== null) ?? null;
}

/** An ipywidgets view: live only with the kernel's comms, which the app does not speak. */
export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';

/** What to show for a widget view: its plain-text representation (e.g. "IntSlider(value=3)"),
 * or a description naming its model; null when the output is not a widget view. */
export function widgetFallback(data: Record<string, unknown> | undefined | null): string | null {
  if (!data || data[WIDGET_MIME] === undefined || data[WIDGET_MIME] === null) return null;
  const text = joinText(data['text/plain']).trim();
  if (text) return text;
  const view = data[WIDGET_MIME] as { model_id?: unknown } | null;
  const model = typeof view?.model_id === 'string' ? ` (model ${view.model_id.slice(0, 8)})` : '';
  return `A Jupyter widget${model}`;
}

/** The model id a widget view output names, if it is a well-formed one. */
export function widgetModelId(data: Record<string, unknown> | undefined | null): string | null {
  const view = data?.[WIDGET_MIME] as { model_id?: unknown } | null | undefined;
  const id = view?.model_id;
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
}

/** nbformat's "multiline string": a string, or a list of strings to concatenate. */
export function joinText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : '')).join('');
  return '';
}

/** Whether a text output is long enough to be collapsed behind "show more". */
export function isLong(text: string, maxLines = 60, maxChars = 10_000): boolean {
  if (text.length > maxChars) return true;
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
    if (++lines > maxLines) return true;
  }
  return false;
}

/** A base64 image payload without the line breaks nbformat allows in it. */
export function base64Payload(value: unknown): string {
  return joinText(value).replace(/\s+/g, '');
}
