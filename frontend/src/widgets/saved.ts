/** The notebook's saved widget state (`metadata.widgets`), as ipywidgets' manager takes
 * it, or null when there is none usable. Pure. */

export const WIDGET_STATE_MIME = 'application/vnd.jupyter.widget-state+json';

export interface SavedState {
  version_major: number;
  version_minor: number;
  state: Record<string, { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> }>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `metadata.widgets` → its widget state (a copy: the manager writes buffers into it);
 * models that are not well-formed are left out. */
export function savedStateOf(widgetsMetadata: unknown): SavedState | null {
  if (!isObject(widgetsMetadata)) return null;
  const raw = widgetsMetadata[WIDGET_STATE_MIME];
  if (!isObject(raw) || !isObject(raw['state'])) return null;
  const major = raw['version_major'];
  if (typeof major !== 'number' || major < 1 || major > 2) return null;
  const state: SavedState['state'] = {};
  for (const [id, model] of Object.entries(raw['state'])) {
    if (!isObject(model) || !isObject(model['state'])) continue;
    if (typeof model['model_name'] !== 'string' || typeof model['model_module'] !== 'string') continue;
    state[id] = JSON.parse(JSON.stringify({
      ...model,
      model_module_version: typeof model['model_module_version'] === 'string' ? model['model_module_version'] : '',
    })) as SavedState['state'][string];
  }
  return { version_major: major, version_minor: typeof raw['version_minor'] === 'number' ? raw['version_minor'] : 0, state };
}

export function hasModel(saved: SavedState | null, modelId: string): boolean {
  return saved !== null && Object.prototype.hasOwnProperty.call(saved.state, modelId);
}
