/**
 * One widget output on the page: the placeholder the app rendered (holding the text
 * fallback), and the live or saved view shown in it, with its look (disabled, dead,
 * saved) and short notices. DOM only; what to show is runtime.ts's decision.
 */
import type { DOMWidgetView, WidgetModel } from '@jupyter-widgets/base';
import { Widget } from '@lumino/widgets';

import type { WidgetLook, WidgetSource } from './states';

const NOTICE_MS = 4000;
/** How many animation frames a new output may take to be put on the page. */
const CONNECT_FRAMES = 60;

export interface Shown {
  source: WidgetSource;
  model: WidgetModel;
  view: DOMWidgetView;
}

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

export class WidgetBox {
  readonly fallback: Node[];
  shown: Shown | null = null;
  /** Bumped by every render: an older, slower one gives way. */
  generation = 0;
  readonly createdMs = Date.now();
  private area: HTMLElement | null = null;
  private label: HTMLElement | null = null;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly host: HTMLElement,
    readonly modelId: string,
  ) {
    this.fallback = [...host.childNodes];
  }

  /** Says on the placeholder that the server has widgets off (its text is all there is). */
  static markOff(host: HTMLElement): void {
    host.dataset['hdWidgets'] = 'off';
  }

  /** Lumino attaches only to an element in the document: the app inserts outputs just
   * after rendering them. */
  async connected(): Promise<boolean> {
    for (let i = 0; i < CONNECT_FRAMES && !this.host.isConnected; i++) await nextFrame();
    return this.host.isConnected;
  }

  show(shown: Shown): void {
    this.detach();
    const area = document.createElement('div');
    area.className = 'hd-widget-area';
    const label = document.createElement('div');
    label.className = 'hd-widget-state';
    this.host.replaceChildren(area, label);
    this.host.classList.add('hd-widget-live');
    Widget.attach(shown.view.luminoWidget, area);
    this.area = area;
    this.label = label;
    this.shown = shown;
  }

  /** Back to the text fallback (no model to show, or widgets unavailable). */
  showFallback(): void {
    this.detach();
    this.host.classList.remove('hd-widget-live', 'hd-widget-disabled', 'hd-widget-saved', 'hd-widget-dead');
    this.host.removeAttribute('title');
    this.host.replaceChildren(...this.fallback);
  }

  private detach(): void {
    const shown = this.shown;
    this.shown = null;
    this.area = null;
    this.label = null;
    if (!shown) return;
    if (shown.view.luminoWidget.isAttached) Widget.detach(shown.view.luminoWidget);
    shown.view.remove();
  }

  look(look: WidgetLook, source: WidgetSource): void {
    if (!this.area || !this.label) return;
    this.host.classList.toggle('hd-widget-disabled', look.disabled);
    this.host.classList.toggle('hd-widget-saved', source === 'saved');
    this.host.classList.toggle('hd-widget-dead', look.label !== null && source === 'live');
    // inert: no focus, no keys, no clicks inside (sandboxed frames included).
    this.area.inert = look.disabled;
    if (look.title) this.host.title = look.title;
    else this.host.removeAttribute('title');
    this.label.textContent = look.label ?? '';
    this.label.hidden = look.label === null;
  }

  /** A short line under the widget, gone after a few seconds. */
  notice(text: string): void {
    let note = this.host.querySelector<HTMLElement>(':scope > .hd-widget-notice');
    if (!note) {
      note = document.createElement('div');
      note.className = 'hd-widget-notice';
      note.setAttribute('role', 'status');
      this.host.append(note);
    }
    note.textContent = text;
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => note?.remove(), NOTICE_MS);
  }

  dispose(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.detach();
  }
}
