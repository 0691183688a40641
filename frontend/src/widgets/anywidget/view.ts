/**
 * anywidget's model and view classes ("anywidget": AnyModel, AnyView). The view does not
 * run the widget's ESM here: that code comes from whoever ran the cell, and in the app's
 * origin it could act as the person looking at it. It runs in a sandboxed frame
 * (frame.ts); this view relays the model to it and checks what comes back (messages.ts).
 */
import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';

import { frameDocument } from './frame';
import { frameState, MARKER, parseFrameMessage, type FrameMessage } from './messages';

/** Whether the page may change this model now (manager.ts answers). */
export interface ChangeGate {
  mayChange(model: DOMWidgetModel): boolean;
  refusedHere(model: DOMWidgetModel): void;
}

export class AnyModel extends DOMWidgetModel {
  override defaults(): Backbone.ObjectHash {
    return { ...super.defaults(), _model_name: 'AnyModel', _model_module: 'anywidget', _view_name: 'AnyView', _view_module: 'anywidget', _esm: '', _css: '' };
  }
}

export class AnyView extends DOMWidgetView {
  private frame: HTMLIFrameElement | null = null;
  private readonly onMessage = (event: MessageEvent): void => this.received(event);

  override render(): void {
    this.el.classList.add('hd-anywidget');
    const frame = document.createElement('iframe');
    frame.className = 'hd-aw-frame';
    frame.setAttribute('sandbox', 'allow-scripts');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.title = 'Widget (sandboxed)';
    frame.srcdoc = frameDocument();
    this.frame = frame;
    this.el.replaceChildren(frame);
    window.addEventListener('message', this.onMessage);
    this.listenTo(this.model, 'change', () => this.post({ type: 'change', state: this.changedState() }));
    this.listenTo(this.model, 'msg:custom', (content: unknown, buffers?: DataView[]) =>
      this.post({ type: 'custom', content, buffers: buffers ?? [] }));
  }

  private serialized(state: Record<string, unknown>): Record<string, unknown> {
    // The attributes as they are (not `serialize`d: its JSON copy would empty binary
    // values); model references and other non-plain values are left out.
    return frameState(state);
  }

  private changedState(): Record<string, unknown> {
    return this.serialized(this.model.changedAttributes() || {});
  }

  private post(message: Record<string, unknown>): void {
    // The frame's origin is opaque: '*' is the only target that reaches it; what is sent
    // is the model's state, which everyone in the notebook may read anyway.
    this.frame?.contentWindow?.postMessage({ [MARKER]: 1, ...message }, '*');
  }

  private received(event: MessageEvent): void {
    if (!this.frame || event.source !== this.frame.contentWindow || event.origin !== 'null') return;
    const message = parseFrameMessage(event.data);
    if (message) this.handle(message);
  }

  private gate(): ChangeGate {
    return this.model.widget_manager as unknown as ChangeGate;
  }

  private handle(message: FrameMessage): void {
    switch (message.type) {
      case 'ready':
        this.post({
          type: 'init',
          esm: String(this.model.get('_esm') ?? ''),
          css: String(this.model.get('_css') ?? ''),
          state: this.serialized(this.model.get_state(false) as Record<string, unknown>),
        });
        return;
      case 'height':
        if (this.frame) this.frame.style.height = `${message.px}px`;
        return;
      case 'error':
        this.el.append(Object.assign(document.createElement('pre'), { className: 'hd-text hd-error', textContent: `Widget failed: ${message.message}` }));
        return;
      default:
        this.change(message);
    }
  }

  /** set/save/send from the widget's code: only while this page may change the model. */
  private change(message: Extract<FrameMessage, { type: 'set' | 'save' | 'send' }>): void {
    if (!this.gate().mayChange(this.model)) {
      this.gate().refusedHere(this.model);
      // Put the frame's copy back to what the model holds.
      this.post({ type: 'change', state: this.serialized(this.model.get_state(false) as Record<string, unknown>) });
      return;
    }
    if (message.type === 'set') this.model.set(message.key, message.value);
    else if (message.type === 'save') this.model.save_changes();
    else this.model.send(message.content as never, this.model.callbacks(this), message.buffers);
  }

  override remove(): this {
    window.removeEventListener('message', this.onMessage);
    this.frame = null;
    return super.remove();
  }
}
