/**
 * The widget bundle at work on one notebook page: the live models (from the server's
 * snapshot and opens, with their comms), the notebook's saved state for models that are
 * not live, and every widget output on the page (box.ts) shown from one or the other,
 * with the look that can_send, a dead kernel or saved state give it (states.ts).
 */
import type { DOMWidgetModel, DOMWidgetView, WidgetModel } from '@jupyter-widgets/base';

import type { WidgetRuntime, WidgetRuntimeOptions } from './api';
import { WidgetBox, type Shown } from './box';
import { WidgetChannel, type ChannelListener } from './channel';
import type { ModelFrame } from './frames';
import { HuddleWidgetManager, type ManagerHooks } from './manager';
import { hasModel, savedStateOf, type SavedState } from './saved';
import { WidgetSocket, type SocketState } from './socket';
import { READ_ONLY_TITLE, widgetLook, type WidgetSource } from './states';

/** A placeholder that never reached the page is dropped after this long. */
const UNPLACED_MS = 10_000;

export class Runtime implements WidgetRuntime, ChannelListener {
  private readonly hooks: ManagerHooks;
  private readonly live: HuddleWidgetManager;
  private saved: Promise<HuddleWidgetManager | null> | null = null;
  private savedState: SavedState | null;
  private savedJson: string;
  private readonly channel: WidgetChannel;
  private readonly socket: WidgetSocket;
  private readonly boxes = new Set<WidgetBox>();
  /** Models of the current snapshot and later opens. */
  private liveIds = new Set<string>();
  /** Live models whose kernel restarted or died: shown with their last state. */
  private readonly deadIds = new Set<string>();
  private canSend = false;
  private disabled = false;

  constructor(private readonly options: WidgetRuntimeOptions) {
    this.hooks = {
      renderOutputs: options.renderOutputs,
      sanitizeHtml: options.sanitizeHtml,
      mayChange: (model) => this.mayChange(model),
      refusedHere: (model) => this.refused(model.model_id, READ_ONLY_TITLE),
    };
    this.live = new HuddleWidgetManager(this.hooks);
    this.savedState = savedStateOf(options.savedState);
    this.savedJson = JSON.stringify(this.savedState);
    this.channel = new WidgetChannel(this);
    this.socket = new WidgetSocket(options.socketUrls, {
      frame: (frame) => this.channel.receive(frame),
      state: (state) => this.socketState(state),
    });
    this.channel.attach(this.socket);
    this.socket.start();
  }

  // --- boxes -----------------------------------------------------------------------------

  mount(host: HTMLElement, modelId: string): void {
    if (this.disabled) return WidgetBox.markOff(host);
    this.sweep();
    const box = new WidgetBox(host, modelId);
    this.boxes.add(box);
    void this.render(box);
  }

  /** Outputs replaced on the page take their views with them. */
  private sweep(): void {
    const now = Date.now();
    for (const box of this.boxes) {
      if (box.host.isConnected || (!box.shown && now - box.createdMs < UNPLACED_MS)) continue;
      box.dispose();
      this.boxes.delete(box);
    }
  }

  private async pick(modelId: string): Promise<{ source: WidgetSource; model: WidgetModel } | null> {
    if (this.live.has_model(modelId)) return { source: 'live', model: await this.live.get_model(modelId) };
    if (!hasModel(this.savedState, modelId)) return null;
    const saved = await this.savedManager();
    return saved?.has_model(modelId) ? { source: 'saved', model: await saved.get_model(modelId) } : null;
  }

  private async render(box: WidgetBox): Promise<void> {
    const generation = ++box.generation;
    try {
      const target = await this.pick(box.modelId);
      if (generation !== box.generation) return;
      if (!target) return box.shown ? box.showFallback() : undefined;
      if (box.shown?.model !== target.model) {
        const view = await target.model.widget_manager.create_view(target.model) as DOMWidgetView;
        if (generation !== box.generation || !(await box.connected()) || generation !== box.generation) {
          view.remove();
          return;
        }
        const shown: Shown = { source: target.source, model: target.model, view };
        box.show(shown);
        // The kernel closed the model (or its saved state was replaced): show what is left.
        view.once('remove', () => {
          if (box.shown === shown) {
            box.showFallback();
            void this.render(box);
          }
        });
      }
      this.applyLook(box);
    } catch (err) {
      console.warn(`widgets: could not show model ${box.modelId}`, err);
    }
  }

  private applyLook(box: WidgetBox): void {
    if (!box.shown) return;
    const { source } = box.shown;
    box.look(widgetLook({ source, canSend: this.canSend, dead: this.deadIds.has(box.modelId) }), source);
  }

  private renderAll(filter: (box: WidgetBox) => boolean = () => true): void {
    this.sweep();
    for (const box of this.boxes) if (filter(box)) void this.render(box);
  }

  // --- saved state -----------------------------------------------------------------------

  private savedManager(): Promise<HuddleWidgetManager | null> {
    if (!this.saved) {
      const state = this.savedState;
      this.saved = state === null ? Promise.resolve(null) : (async () => {
        const manager = new HuddleWidgetManager(this.hooks);
        try {
          await manager.set_state(state as never);
        } catch (err) {
          console.warn('widgets: the saved widget state could not be restored', err);
        }
        return manager;
      })();
    }
    return this.saved;
  }

  setSavedState(state: unknown): void {
    const next = savedStateOf(state);
    const json = JSON.stringify(next);
    if (json === this.savedJson) return;
    this.savedState = next;
    this.savedJson = json;
    const old = this.saved;
    this.saved = null;
    // Closing the old models removes their views; their boxes then render again (view's
    // 'remove' above), from the new state.
    void old?.then((manager) => manager?.clear_state());
  }

  // --- the channel's news ----------------------------------------------------------------

  snapshot(models: ModelFrame[], canSend: boolean): void {
    this.canSend = canSend;
    const ids = new Set(models.map((m) => m.commId));
    for (const id of this.liveIds) if (!ids.has(id)) this.markDead(id);
    // All registered before any is awaited: a box's children refer to each other.
    for (const model of models) this.place(model);
    this.liveIds = ids;
    this.renderAll();
  }

  /** A live model, new or again. */
  private place(model: ModelFrame): void {
    const id = model.commId;
    if (this.live.has_model(id) && !this.deadIds.has(id)) {
      void this.live.replaceState(model).catch((err: unknown) => console.warn(`widgets: model ${id} not updated`, err));
      return;
    }
    this.deadIds.delete(id);
    void this.live.addModel(model, this.channel.comm(id, model.targetName));
  }

  opened(model: ModelFrame): void {
    this.place(model);
    this.liveIds.add(model.commId);
    this.renderAll((box) => box.modelId === model.commId || !box.shown || box.shown.source === 'saved');
  }

  closed(commId: string): void {
    this.liveIds.delete(commId);
  }

  private markDead(id: string): void {
    this.deadIds.add(id);
    void this.live.get_model(id).then((model) => {
      model.comm_live = false;
    }, () => undefined);
  }

  dead(_reason: string): void {
    for (const id of this.liveIds) this.markDead(id);
    this.liveIds = new Set();
    for (const box of this.boxes) this.applyLook(box);
  }

  refused(commId: string | null, reason: string): void {
    const boxes = [...this.boxes].filter((box) => box.shown && commId !== null && this.shows(box, commId));
    if (boxes.length === 0) this.options.notice(reason);
    for (const box of boxes) box.notice(reason);
  }

  /** Whether a box shows model `commId`, itself or inside it (a slider in a box). */
  private shows(box: WidgetBox, commId: string): boolean {
    if (box.modelId === commId) return true;
    const el = box.host.querySelector(`[data-hd-model="${CSS.escape(commId)}"]`);
    return el !== null;
  }

  private mayChange(model: DOMWidgetModel): boolean {
    return model.widget_manager === this.live && this.liveIds.has(model.model_id)
      && this.channel.maySend && this.socket.state === 'open';
  }

  private socketState(state: SocketState): void {
    if (state === 'closed') this.channel.disconnected();
    if (state !== 'disabled') return;
    // No widget route on this server: the text fallback stays, for good.
    this.disabled = true;
    for (const box of this.boxes) {
      box.showFallback();
      WidgetBox.markOff(box.host);
    }
    this.boxes.clear();
  }

  destroy(): void {
    this.socket.destroy();
    this.channel.destroy();
    for (const box of this.boxes) box.dispose();
    this.boxes.clear();
  }
}
