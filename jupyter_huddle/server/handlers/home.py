"""``/huddle``: the landing page until the Huddle web app is served here."""

from __future__ import annotations

import html
import importlib.util

from jupyter_server.base.handlers import JupyterHandler
from tornado import web


class HomeHandler(JupyterHandler):
    @web.authenticated
    def get(self) -> None:
        has_lab = importlib.util.find_spec("jupyterlab") is not None
        lab_link = (
            f'<p><a href="{html.escape(self.base_url)}lab">Open JupyterLab</a> '
            "(real-time collaboration served by Huddle).</p>"
            if has_lab
            else "<p>Install <code>jupyter-huddle[lab]</code> to co-edit in JupyterLab.</p>"
        )
        self.finish(
            "<!doctype html><html><head><meta charset='utf-8'><title>Huddle</title></head>"
            "<body><h1>Huddle is running</h1>"
            f"<p>Serving <code>{html.escape(str(self.contents_manager.root_dir))}</code>.</p>"
            f"{lab_link}</body></html>"
        )
