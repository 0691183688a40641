"""``GET /api/huddle/export/{document_id}?format=ipynb|html|markdown|python``: download
the live notebook, converted by nbconvert from the shared document (what everyone sees now,
unsaved edits and outputs of running cells included), not from a possibly stale file.

The HTML is nbconvert's ``lab`` template without the scripts it loads from CDNs (require.js,
MathJax, the widget manager, Mermaid): the file opens offline and fetches nothing. Math then
shows as its LaTeX source, widgets as their saved text, Mermaid as its source."""

from __future__ import annotations

import asyncio
import posixpath
from typing import Any
from urllib.parse import quote

import nbformat
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.roles import Capability
from ...collab.rooms.manager import RoomManager
from ..access import ServerAccess
from .base import CoreErrors
from .ids import parse_document_id

# format -> (nbconvert exporter name or None for the notebook itself, MIME type, extension)
FORMATS: dict[str, tuple[str | None, str, str]] = {
    "ipynb": (None, "application/x-ipynb+json", ".ipynb"),
    "html": ("html", "text/html", ".html"),
    "markdown": ("markdown", "text/markdown", ".md"),
    "python": ("python", "text/x-python", ".py"),
}


# nbconvert's lab page minus every block that loads a script from a CDN; everything else
# (its CSS, inlined) is kept.
OFFLINE_HTML_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _exporter(name: str) -> Any:
    from jinja2 import DictLoader
    from nbconvert.exporters import get_exporter

    if name != "html":
        return get_exporter(name)()  # type: ignore[no-untyped-call]
    return get_exporter(name)(  # type: ignore[no-untyped-call]
        extra_loaders=[DictLoader({"huddle_offline.html.j2": OFFLINE_HTML_TEMPLATE})],
        template_file="huddle_offline.html.j2")


def convert(content: dict[str, Any], fmt: str) -> str:
    """The notebook as text in ``fmt`` (CPU-bound: run it in a thread)."""
    notebook = nbformat.from_dict(content)  # type: ignore[no-untyped-call]
    exporter_name = FORMATS[fmt][0]
    if exporter_name is None:
        return str(nbformat.writes(notebook))  # type: ignore[no-untyped-call]
    exporter = _exporter(exporter_name)
    body, _resources = exporter.from_notebook_node(notebook)
    return str(body)


class ExportHandler(CoreErrors, APIHandler):
    """``GET /api/huddle/export/{document_id}?format=...``: the live notebook, converted."""

    auth_resource = "contents"

    def initialize(self, manager: RoomManager, access: ServerAccess) -> None:
        self.manager = manager
        self.access = access

    @web.authenticated
    async def get(self, document_id: str) -> None:
        room_id = parse_document_id(document_id)
        self.access.require(self, Capability.READ, room_id.file_id)
        fmt = self.get_query_argument("format", "ipynb")
        if fmt not in FORMATS:
            raise web.HTTPError(400, f"format must be one of {', '.join(FORMATS)}")
        content = await self.manager.export(room_id)
        path = await self.manager.backend.path_for(room_id.file_id) or "notebook.ipynb"
        try:
            body = await asyncio.to_thread(convert, content, fmt)
        except Exception as err:  # nbconvert raises many kinds; report, never a bare 500
            self.log.exception("exporting %s as %s failed", path, fmt)
            raise web.HTTPError(500, f"could not convert the notebook to {fmt}: {err}") from err
        _, mime, ext = FORMATS[fmt]
        stem = posixpath.splitext(posixpath.basename(path))[0] or "notebook"
        self.set_header("Content-Disposition",
                        f"attachment; filename*=UTF-8''{quote(stem + ext)}")
        self.finish(body, set_content_type=f"{mime}; charset=UTF-8")
