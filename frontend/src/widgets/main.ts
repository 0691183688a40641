/**
 * widgets.js: the widget libraries and Huddle's widget manager, loaded by the app (with
 * a dynamic import) only when a notebook has a widget output. See docs/WIDGETS.md.
 */
import '@jupyter-widgets/base/css/index.css';
import '@jupyter-widgets/controls/css/widgets.css';
import './widgets.css';

import type { StartWidgets } from './api';
import { Runtime } from './runtime';

export const startWidgets: StartWidgets = (options) => new Runtime(options);
