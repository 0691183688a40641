/** Entry point: reads the page config, routes between the file list and a notebook. */
import './style.css';
import 'katex/dist/katex.min.css';

import { parseRoute, routeUrl, type Route } from './logic/routes';
import { AccessApi, type Access } from './protocol/access';
import { ContentsApi } from './protocol/contents';
import { HttpClient } from './protocol/http';
import { KernelsApi, type Identity } from './protocol/kernels';
import { NotebookRoom, roomServerUrl } from './protocol/room';
import { h, toast } from './views/dom';
import { FilesPage, notebookLinks } from './views/files';
import { NotebookPage } from './views/notebook/page';

interface PageConfig {
  baseUrl: string;
  xsrf: string;
  /** Someone who came through a share link: their name and the shared notebook. */
  guest: { name: string; path: string } | null;
  /** May this person change files (upload, move…)? The server's rule, which it enforces. */
  filesWritable: boolean;
  /** JupyterLab on this server (`<base>lab/`), or null when it is not loaded. */
  labUrl: string | null;
}

function readConfig(): PageConfig {
  const raw = document.getElementById('huddle-config')?.textContent ?? '{}';
  const parsed = JSON.parse(raw) as Partial<PageConfig>;
  const guest = parsed.guest && typeof parsed.guest.path === 'string'
    ? { name: String(parsed.guest.name ?? ''), path: parsed.guest.path } : null;
  return {
    baseUrl: parsed.baseUrl ?? '/', xsrf: parsed.xsrf ?? '', guest,
    filesWritable: parsed.filesWritable === true,
    labUrl: typeof parsed.labUrl === 'string' ? parsed.labUrl : null,
  };
}

interface Page {
  element: HTMLElement;
  destroy?(): void;
}

class App {
  private readonly http: HttpClient;
  private readonly contents: ContentsApi;
  private readonly kernels: KernelsApi;
  private readonly access: AccessApi;
  private me: Promise<Identity>;
  private page: Page | null = null;
  private generation = 0;

  constructor(private readonly root: HTMLElement, private readonly config: PageConfig) {
    this.http = new HttpClient(config.baseUrl, config.xsrf);
    this.contents = new ContentsApi(this.http);
    this.kernels = new KernelsApi(this.http);
    this.kernels.sessions = config.guest === null; // guests have no sessions API
    this.access = new AccessApi(this.http);
    this.me = this.kernels.me();
    window.addEventListener('popstate', () => void this.show(this.current()));
  }

  current(): Route {
    return parseRoute(this.config.baseUrl, location.pathname);
  }

  navigate(route: Route): void {
    history.pushState(null, '', routeUrl(this.config.baseUrl, route));
    void this.show(route);
  }

  link(route: Route, text: string, className = ''): HTMLAnchorElement {
    return h('a', {
      href: routeUrl(this.config.baseUrl, route),
      className,
      onclick: (event: MouseEvent) => this.follow(event, route),
    }, text);
  }

  private follow(event: MouseEvent, route: Route): void {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    this.navigate(route);
  }

  async show(route: Route): Promise<void> {
    const { guest } = this.config;
    if (guest && route.view === 'files') {
      // A share link opens only its notebook: no file list.
      route = { view: 'notebook', path: guest.path };
      history.replaceState(null, '', routeUrl(this.config.baseUrl, route));
    }
    const generation = ++this.generation;
    this.page?.destroy?.();
    this.page = null;
    this.root.replaceChildren(h('p', { className: 'hd-loading' }, 'Loading…'));
    try {
      const page = route.view === 'files' ? this.filesPage(route.dir) : await this.notebookPage(route.path);
      if (generation !== this.generation) return page.destroy?.();
      this.page = page;
      this.root.replaceChildren(page.element);
      document.title = route.view === 'files' ? `Huddle – ${route.dir || 'files'}` : `${route.path.split('/').pop()} – Huddle`;
    } catch (err) {
      if (generation !== this.generation) return;
      const message = err instanceof Error ? err.message : String(err);
      this.root.replaceChildren(h('div', { className: 'hd-error-page', role: 'alert' },
        h('h1', {}, 'Could not open this page'), h('p', {}, message),
        guest ? null : this.link({ view: 'files', dir: '' }, 'Back to files')));
      toast(message, 'error');
    }
  }

  private filesPage(dir: string): Page {
    const page = new FilesPage({
      contents: this.contents,
      dir,
      writable: this.config.filesWritable,
      link: (route, text, className) => this.link(route, text, className),
      navigate: (route) => this.navigate(route),
      fileUrl: (path) => `${this.config.baseUrl}files/${path.split('/').map(encodeURIComponent).join('/')}`,
    });
    return page;
  }

  private async notebookPage(path: string): Promise<Page> {
    const [me, room] = await Promise.all([
      this.me,
      NotebookRoom.open(this.http, path, roomServerUrl(location, this.config.baseUrl)),
    ]);
    let access: Access;
    try {
      access = await this.access.access(room.documentId);
    } catch (err) {
      room.destroy();
      throw err;
    }
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const files: Route = { view: 'files', dir };
    const { guest } = this.config;
    const page = new NotebookPage({
      room,
      kernels: this.kernels,
      me: guest?.name ? { ...me, display_name: guest.name } : me,
      filesUrl: guest ? null : routeUrl(this.config.baseUrl, files),
      accessApi: this.access,
      access,
      navigateFiles: (event) => this.follow(event, files),
      http: this.http,
    });
    // The notebook's folder and JupyterLab, beside the title. Added here, not by the page's
    // header (being reworked): move it into the header's items when that lands.
    if (!guest) {
      page.element.querySelector('.hd-title')?.after(notebookLinks(path, {
        link: (route, text, className) => this.link(route, text, className),
        labUrl: this.config.labUrl,
      }));
    }
    return page;
  }
}

function start(): void {
  const root = document.getElementById('app');
  if (!root) return;
  const config = readConfig();
  // The token was needed once, to log in; the login cookie does the rest. Keep it out of
  // the address bar, so that a shared URL does not hand it on.
  const url = new URL(location.href);
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  const app = new App(root, config);
  void app.show(app.current());
}

start();
