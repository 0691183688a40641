/**
 * Cell outputs. Text and errors through ansi_up (which escapes HTML), images as <img>
 * (SVG too, so its scripts never run), Markdown and LaTeX sanitized, and HTML/JavaScript
 * only inside iframes sandboxed *without* allow-same-origin: an opaque origin that cannot
 * read the app's cookies, storage or DOM. The frame reports its height by postMessage, and
 * is styled as JupyterLab styles rendered HTML (views/frame-style.ts), in the app's theme.
 */
import { AnsiUp } from 'ansi_up';

import { base64Payload, isLong, joinText, pickMime, widgetFallback, widgetModelId } from '../logic/mime';
import { h } from './dom';
import { frameStyle } from './frame-style';
import { renderLatex, renderMarkdown } from './markdown';
import { currentTheme, onThemeChange } from './theme';

type Output = Record<string, unknown>;

/** Where live widgets come from (views/widgets.ts): given a placeholder that shows the
 * widget's text, it mounts the live (or saved) view there once the widget bundle has
 * loaded; the text stays if it cannot. */
export interface WidgetMounts {
  mount(placeholder: HTMLElement, modelId: string): void;
}

const ansi = new AnsiUp();
ansi.use_classes = true;

const FRAME_MIN_PX = 24;
const FRAME_MAX_PX = 4000; // a runaway page cannot make the notebook endless

// The frame reports its height, and takes the app's theme when the app says it changed
// (only from its parent: nothing else may restyle it).
const FRAME_SCRIPT = `<script>(function(){var last=0;function report(){var b=document.body;var h=b?Math.ceil(Math.max(b.scrollHeight,b.getBoundingClientRect().bottom)):0;if(h!==last){last=h;parent.postMessage({huddleFrameHeight:h},'*');}}new ResizeObserver(report).observe(document.body);addEventListener('load',report);addEventListener('message',function(e){var t=e.data&&e.data.huddleTheme;if(e.source===parent&&(t==='light'||t==='dark'))document.documentElement.setAttribute('data-theme',t);});report();})();<\/script>`;

let listening = false;
function listenForFrameHeights(): void {
  if (listening) return;
  listening = true;
  // Every frame follows the app's theme (a frame made later starts in the current one).
  onThemeChange((theme) => {
    for (const frame of document.querySelectorAll<HTMLIFrameElement>('iframe.hd-frame')) {
      frame.contentWindow?.postMessage({ huddleTheme: theme }, '*');
    }
  });
  window.addEventListener('message', (event: MessageEvent) => {
    const height = (event.data as { huddleFrameHeight?: unknown } | null)?.huddleFrameHeight;
    if (typeof height !== 'number' || !Number.isFinite(height)) return;
    for (const frame of document.querySelectorAll<HTMLIFrameElement>('iframe.hd-frame')) {
      if (frame.contentWindow === event.source) {
        frame.style.height = `${Math.min(FRAME_MAX_PX, Math.max(FRAME_MIN_PX, height))}px`;
      }
    }
  });
}

function sandboxedFrame(body: string): HTMLIFrameElement {
  listenForFrameHeights();
  const frame = h('iframe', {
    className: 'hd-frame',
    sandbox: 'allow-scripts',
    referrerpolicy: 'no-referrer',
    title: 'HTML output (sandboxed)',
  });
  frame.srcdoc =
    `<!doctype html><html data-theme="${currentTheme()}"><head><meta charset="utf-8"><base target="_blank">` +
    frameStyle() + '</head><body>' + body + FRAME_SCRIPT + '</body></html>';
  return frame;
}

function collapsible(el: HTMLElement, text: string): HTMLElement {
  if (!isLong(text)) return el;
  el.classList.add('hd-collapsed');
  const more = h('button', { className: 'hd-show-more', type: 'button' }, 'Show more');
  more.addEventListener('click', () => {
    const collapsed = el.classList.toggle('hd-collapsed');
    more.textContent = collapsed ? 'Show more' : 'Show less';
  });
  return h('div', {}, el, more);
}

function textBlock(text: string, className: string): HTMLElement {
  const pre = h('pre', { className });
  pre.innerHTML = ansi.ansi_to_html(text);
  return collapsible(pre, text);
}

function html(className: string, content: string): HTMLElement {
  const div = h('div', { className });
  div.innerHTML = content;
  return div;
}

/** A widget view: its text, labelled as such, stands in until the live view is mounted
 * over it (and stays when widgets are off, the bundle fails to load, or no state of the
 * model is known; a version preview has no `widgets`). */
function widgetOutput(text: string, modelId: string | null, widgets: WidgetMounts | null): HTMLElement {
  const placeholder = h('div', { className: 'hd-widget', role: 'note' },
    h('span', { className: 'hd-widget-label' }, 'Interactive widget (shown as text here; open it in JupyterLab to use it)'),
    h('pre', { className: 'hd-text' }, text));
  if (widgets && modelId) widgets.mount(placeholder, modelId);
  return placeholder;
}

function richOutput(data: Record<string, unknown>, widgets: WidgetMounts | null): HTMLElement | null {
  const widget = widgetFallback(data);
  if (widget !== null) return widgetOutput(widget, widgetModelId(data), widgets);
  const mime = pickMime(data);
  if (!mime) return null;
  const value = data[mime];
  switch (mime) {
    case 'application/javascript':
      return sandboxedFrame(`<script>${joinText(value).replace(/<\/script/gi, '<\\/script')}<\/script>`);
    case 'text/html':
      return sandboxedFrame(joinText(value));
    case 'text/markdown':
      return html('hd-markdown', renderMarkdown(joinText(value)));
    case 'text/latex':
      return html('hd-markdown', renderLatex(joinText(value)));
    case 'image/svg+xml':
      return h('img', {
        className: 'hd-image',
        alt: 'SVG output',
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(joinText(value))}`,
      });
    case 'image/png':
    case 'image/jpeg':
    case 'image/gif':
      return h('img', { className: 'hd-image', alt: 'image output', src: `data:${mime};base64,${base64Payload(value)}` });
    case 'application/json':
      return textBlock(JSON.stringify(value, null, 2), 'hd-text hd-json');
    case 'text/plain':
      return textBlock(joinText(value), 'hd-text');
  }
}

export function renderOutput(output: Output, widgets: WidgetMounts | null = null): HTMLElement | null {
  switch (output['output_type']) {
    case 'stream': {
      const name = output['name'] === 'stderr' ? 'stderr' : 'stdout';
      return textBlock(joinText(output['text']), `hd-text hd-${name}`);
    }
    case 'error': {
      const traceback = Array.isArray(output['traceback']) ? joinText((output['traceback'] as unknown[]).map((l) => `${String(l)}\n`)) : '';
      const text = traceback || `${String(output['ename'])}: ${String(output['evalue'])}`;
      return textBlock(text, 'hd-text hd-error');
    }
    case 'execute_result':
    case 'display_data':
      return richOutput((output['data'] ?? {}) as Record<string, unknown>, widgets);
    default:
      return null;
  }
}

const rendered = new WeakMap<HTMLElement, { key: string; el: HTMLElement }[]>();

/** Renders `outputs` into `container`, keeping the nodes of outputs that did not change (a
 * streaming cell must not reload the iframes of its earlier outputs). */
export function renderOutputs(container: HTMLElement, outputs: Output[], widgets: WidgetMounts | null = null): void {
  const before = rendered.get(container) ?? [];
  const after: { key: string; el: HTMLElement }[] = [];
  outputs.forEach((output, i) => {
    const key = JSON.stringify(output);
    const previous = before[i];
    if (previous && previous.key === key) {
      after.push(previous);
      return;
    }
    const el = renderOutput(output, widgets);
    // The output's index in the cell's list (some outputs render nothing): review threads
    // anchor to it (views/comments/).
    if (el) after.push({ key, el: h('div', { className: 'hd-output', 'data-output-index': String(i) }, el) });
  });
  rendered.set(container, after);
  const nodes = after.map((a) => a.el);
  if (nodes.length === container.children.length && nodes.every((n, i) => container.children[i] === n)) return;
  container.replaceChildren(...nodes);
}
