/** The app's URLs: `<base>huddle/` (the root folder), `<base>huddle/tree/<dir>` (a folder),
 * `<base>huddle/notebooks/<path>` (a notebook; shareable). */

export type Route =
  | { view: 'files'; dir: string }
  | { view: 'notebook'; path: string };

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function routeUrl(baseUrl: string, route: Route): string {
  const app = `${baseUrl}huddle/`;
  if (route.view === 'notebook') return `${app}notebooks/${encodePath(route.path)}`;
  return route.dir ? `${app}tree/${encodePath(route.dir)}` : app;
}

export function parseRoute(baseUrl: string, pathname: string): Route {
  const app = `${baseUrl}huddle`;
  let rest = pathname.startsWith(app) ? pathname.slice(app.length) : '';
  rest = rest.replace(/^\/+/, '');
  const decode = (s: string): string =>
    s.split('/').filter(Boolean).map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    }).join('/');
  if (rest.startsWith('notebooks/')) {
    const path = decode(rest.slice('notebooks/'.length));
    if (path) return { view: 'notebook', path };
  }
  if (rest.startsWith('tree/')) return { view: 'files', dir: decode(rest.slice('tree/'.length)) };
  return { view: 'files', dir: '' };
}
