"""``/huddle/static/…``: the web app's bundle (built from ``frontend/`` into
``jupyter_huddle/static/``), for logged-in users only, like every Jupyter page."""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

# The page asks for the bundle with ``?v=<version>``; such a URL never changes meaning,
# so browsers may keep it for a long time (the 7 days Jupyter uses for its own files).
VERSIONED_CACHE_S = 7 * 24 * 3600


class BundleHandler(JupyterHandler, web.StaticFileHandler):
    """Tornado's static file handler behind Jupyter's authentication (``initialize`` is
    ``StaticFileHandler``'s: it takes the folder as ``path``)."""

    auth_resource = "contents"

    @web.authenticated
    async def get(self, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body)

    @web.authenticated
    async def head(self, path: str) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body=False)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return VERSIONED_CACHE_S if "v" in self.request.arguments else 0

    def set_extra_headers(self, path: str) -> None:
        if "v" not in self.request.arguments:
            self.set_header("Cache-Control", "no-cache")
