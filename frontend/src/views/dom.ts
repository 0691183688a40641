/** A tiny hyperscript: elements with attributes, event handlers and children. */

type Child = Node | string | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | ((event: never) => void);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, '').toLowerCase(), value as EventListener);
    } else if (name === 'className') {
      el.className = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

function toastHost(): HTMLElement {
  let host = document.querySelector<HTMLElement>('.hd-toasts');
  if (!host) {
    host = h('div', { className: 'hd-toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(host);
  }
  return host;
}

/** A short message at the bottom of the page that goes away by itself. */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const item = h('div', { className: `hd-toast hd-toast-${kind}` }, message);
  toastHost().appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** A message with one action ("Restored cell 2 from 14:05 — Undo"), kept for `ms` (the
 * action needs time to be reached) or until the action or its ✕ is pressed. */
export function actionToast(message: string, label: string, action: () => void, ms = 20_000): HTMLElement {
  const close = (): void => item.remove();
  const item = h('div', { className: 'hd-toast hd-toast-action' },
    h('span', {}, message), ' — ',
    h('button', { type: 'button', className: 'hd-toast-button', onclick: () => { close(); action(); } }, label),
    h('button', { type: 'button', className: 'hd-toast-close', 'aria-label': 'Dismiss', onclick: close }, '✕'));
  toastHost().appendChild(item);
  setTimeout(close, ms);
  return item;
}
