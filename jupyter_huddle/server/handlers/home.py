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

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from .static import BundleHandler

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


def _script_json(value: dict[str, Any]) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


class HomeHandler(JupyterHandler):
    auth_resource = "contents"

    @classmethod
    def web_app_routes(cls) -> list[tuple[Any, ...]]:
        """The app's pages and its bundle, relative to the server's base URL."""
        return [
            (r"/huddle/?", cls),
            (r"/huddle/(?:tree|notebooks)(?:/.*)?", cls),
            (r"/huddle/static/(.*)", BundleHandler, {"path": str(STATIC_DIR)}),
        ]

    @web.authenticated
    def get(self) -> None:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            root = html.escape(str(getattr(self.contents_manager, "root_dir", "")))
            self.finish(MISSING_BUNDLE.format(root=root))
            return
        config = {"baseUrl": self.base_url, "xsrf": self.xsrf_token.decode("ascii")}
        page = (index.read_text(encoding="utf-8")
                .replace("{{static_url}}", html.escape(f"{self.base_url}huddle/static/"))
                .replace("{{version}}", _bundle_version(STATIC_DIR))
                .replace("{{config}}", _script_json(config)))
        self.set_header("Cache-Control", "no-cache")
        self.finish(page)
