/**
 * Where the widget bundle and the widget socket are (docs/WIDGETS.md): widgets.js and
 * widgets.css next to app.js, and `/api/huddle/widgets/{document_id}` on the server's base
 * URL, authenticated by the page's cookie like the room socket. The wire format itself is
 * src/widgets/ (in the widget bundle).
 */
import type { DocumentId } from '../logic/ids';
import { apiUrl } from './http';

/** widgets.js or widgets.css next to the app's own bundle (same query: the version). */
export function bundleUrl(appUrl: string, name: 'widgets.js' | 'widgets.css'): string {
  const app = new URL(appUrl);
  const url = new URL(name, app);
  url.search = app.search;
  return url.href;
}

/** ws(s)://host<base>api/huddle/widgets/<id>, and its http(s) twin (a plain GET there
 * answers 404 when the server has widgets off). */
export function widgetSocketUrls(location: { protocol: string; host: string }, baseUrl: string, documentId: DocumentId): { ws: string; http: string } {
  const path = apiUrl(baseUrl, 'api/huddle/widgets', documentId);
  const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return { ws: `${ws}//${location.host}${path}`, http: `${location.protocol}//${location.host}${path}` };
}
