"""``/huddle/``: the Huddle web app.

Every page of the app (``/huddle/``, ``/huddle/tree/<folder>``, ``/huddle/notebooks/<path>``)
is the same ``index.html``; the app routes on the client. The bundle it loads is served
under ``/huddle/static/``. Both need a logged-in user (the token in the URL once, then
Jupyter's login cookie); the page also sets the XSRF cookie the app sends back on POSTs.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from ..access import GuestUser, ServerAccess
from ..contents_backend import ContentsFileBackend

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

MISSING_BUNDLE = """<!doctype html><html><head><meta charset="utf-8"><title>Huddle</title></head>
<body><h1>Huddle is running, but its web app was not built</h1>
<p>This install has no <code>jupyter_huddle/static/index.html</code>. Build it with
<code>npm ci --prefix frontend &amp;&amp; npm run build --prefix frontend</code>, or reinstall with
<code>pip install .</code> (which needs <code>npm</code>) without
<code>HUDDLE_SKIP_FRONTEND_BUILD=1</code>.</p>
<p>Serving <code>{root}</code>.</p></body></html>"""


def _bundle_version(static_dir: Path) -> str:
    """A short hash of the bundle, so a rebuilt bundle gets new URLs (cache busting)."""
    digest = hashlib.sha256()
    for name in ("app.js", "app.css"):
        try:
            stat = (static_dir / name).stat()
        except FileNotFoundError:
            continue
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def lab_url(serverapp: Any, base_url: str) -> str | None:
    """JupyterLab's URL on this server (``<base>lab/``) when its server extension is loaded
    (the ``[lab]`` extra installs it, and ``jupyter huddle`` loads other extensions), else
    None. The app offers "Open in JupyterLab" only then."""
    manager = getattr(serverapp, "extension_manager", None)
    if manager is None or not manager.linked_extensions.get("jupyterlab"):
        return None
    extension = manager.extensions.get("jupyterlab")
    if extension is None or not extension.enabled:
        return None
    apps = manager.extension_apps.get("jupyterlab") or set()
    app_url = next((str(app.app_url) for app in apps if getattr(app, "app_url", None)), "/lab")
    return f"{base_url}{app_url.strip('/')}/"


def _script_json(value: dict[str, Any]) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


class HomeHandler(JupyterHandler):
    """Every page of the web app: the same ``index.html``, with the page's config."""

    auth_resource = "contents"

    def initialize(self, access: ServerAccess, backend: ContentsFileBackend) -> None:
        self.access = access
        self.backend = backend

    @classmethod
    def web_app_routes(cls, access: ServerAccess, backend: ContentsFileBackend
                       ) -> list[tuple[Any, ...]]:
        """The app's pages, relative to the server's base URL (its bundle is served from
        ``STATIC_DIR`` by ``static.BundleHandler``)."""
        args = {"access": access, "backend": backend}
        return [
            (r"/huddle/?", cls, args),
            (r"/huddle/(?:tree|notebooks)(?:/.*)?", cls, args),
        ]

    async def guest_page(self, user: GuestUser) -> dict[str, Any]:
        """A guest sees only notebooks they have a role on (their link's, their copies);
        any other page of the app leads to their link's notebook."""
        found = self.access.access.guest(user.guest_id)
        shared = await self.backend.path_for(found[1].file_id) if found else None
        if shared is None:
            raise web.HTTPError(403, "this share link no longer opens anything")
        prefix = f"{self.base_url}huddle/notebooks/"
        requested = unquote(self.request.path[len(prefix):]) if self.request.path.startswith(
            prefix) else None
        file_id = self.backend.known_file_id(requested) if requested else None
        if file_id is None or self.access.role(user, file_id) is None:
            self.redirect(prefix + quote(shared))
        return {"name": user.display_name, "path": shared}

    @web.authenticated
    async def get(self) -> None:
        guest = None
        if isinstance(self.current_user, GuestUser):
            guest = await self.guest_page(self.current_user)
            if self._finished:
                return
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            root = html.escape(str(getattr(self.contents_manager, "root_dir", "")))
            self.finish(MISSING_BUNDLE.format(root=root))
            return
        member = guest is None
        config = {"baseUrl": self.base_url, "xsrf": self.xsrf_token.decode("ascii"),
                  "guest": guest,
                  # What the app offers, following the server's rules (which still decide):
                  # changing files (upload, move, ...) needs Jupyter's "write" on contents
                  # (owners; members who are not owners only read); JupyterLab is not on
                  # a guest's allowlist.
                  "filesWritable": member and bool(self.authorizer.is_authorized(
                      self, self.current_user, "write", "contents")),
                  "labUrl": lab_url(self.serverapp, self.base_url) if member else None}
        page = (index.read_text(encoding="utf-8")
                .replace("{{static_url}}", html.escape(f"{self.base_url}huddle/static/"))
                .replace("{{version}}", _bundle_version(STATIC_DIR))
                .replace("{{config}}", _script_json(config)))
        self.set_header("Cache-Control", "no-cache")
        self.finish(page)
