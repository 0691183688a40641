"""REST routes of version history (all logic is in ``collab.history``).

- ``GET  /api/huddle/history/{document_id}?before=&limit=``: versions, newest first, a
  page at a time (``more``: older ones remain).
- ``POST /api/huddle/history/{document_id}``: ``{name}`` records the live notebook as a
  named version (201).
- ``GET  .../versions/{version_id}``: the version's notebook, to preview read-only.
- ``PATCH .../versions/{version_id}``: ``{name}`` names it (``null`` removes the name).
- ``POST .../versions/{version_id}/restore``: ``{cell_id?}`` restores the notebook, or
  one cell, as an edit; answers the ``restore_id`` to undo it with.
- ``POST .../restores/{restore_id}/undo``: takes back a restore you made.
- ``GET  .../diff?from=&to=``: version ids, or ``live``.
- ``GET  .../blame?cell_id=&version=``: each line's last author and time.
- ``GET  .../changes``: cells changed since you last looked; ``POST .../seen``: you looked.

Browsing, diffs, blame and your own marks need ``read`` on the notebook; naming, restoring
and undoing need ``edit`` (server/access.py decides, for guests by their link's role).
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.roles import Capability
from ...collab.history import HistoryService
from ...collab.history.service import LIVE
from ...collab.ids import DocumentRoomId
from ..access import ServerAccess
from .base import CoreErrors, PersonRequest
from .ids import parse_document_id

_VERSION = r"[0-9a-f]{18}"
_VERSION_OR_LIVE = re.compile(rf"^(?:{_VERSION}|{LIVE})$")
_RESTORE = r"[0-9a-f]{16}"
# Versions listed per page at most (a day of versions every 5 minutes is 288).
_MAX_PAGE = 1000
# Cell ids are nbformat's: 1-64 of letters, digits, - and _.
_CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def routes(history: HistoryService, access: ServerAccess
           ) -> list[tuple[str, type[APIHandler], dict[str, Any]]]:
    """The history routes, each with its handler and ``initialize`` arguments."""
    base = r"/api/huddle/history/([^/]+)"
    args = {"history": history, "access": access}
    return [
        (base, VersionsHandler, args),
        (rf"{base}/versions/({_VERSION})", VersionHandler, args),
        (rf"{base}/versions/({_VERSION})/restore", RestoreHandler, args),
        (rf"{base}/restores/({_RESTORE})/undo", UndoHandler, args),
        (rf"{base}/(diff|blame|changes|seen)", HistoryViewHandler, args),
    ]


class HistoryHandler(CoreErrors, PersonRequest, APIHandler):
    """The history routes' shared set-up: the notebook, who acts, and their rights."""

    auth_resource = "contents"

    def initialize(self, history: HistoryService, access: ServerAccess) -> None:
        self.history = history
        self.access = access

    def notebook(self, document_id: str, capability: Capability) -> DocumentRoomId:
        """The notebook named in the URL, once the user is known to have ``capability``.

        Raises:
            web.HTTPError: 400 for an id that is not a notebook's, 403 without the right.
        """
        room_id = parse_document_id(document_id)
        self.access.require(self, capability, room_id.file_id)
        return room_id


class VersionsHandler(HistoryHandler):
    """``GET|POST /api/huddle/history/{document_id}``: list versions, or name the live one."""

    @web.authenticated
    async def get(self, document_id: str) -> None:
        room_id = self.notebook(document_id, Capability.READ)
        before = self.get_query_argument("before", None)
        if before is not None and not re.match(rf"^{_VERSION}$", before):
            raise web.HTTPError(400, "before must be a version id")
        try:
            limit = int(self.get_query_argument("limit", "200"))
        except ValueError:
            raise web.HTTPError(400, "limit must be a number") from None
        if not 1 <= limit <= _MAX_PAGE:
            raise web.HTTPError(400, f"limit must be between 1 and {_MAX_PAGE}")
        self.finish(await self.history.listing(room_id, before, limit))

    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = self.notebook(document_id, Capability.EDIT)
        version = await self.history.name(room_id, self.user_info, self.body().get("name"))
        self.set_status(201)
        self.finish(version)


class VersionHandler(HistoryHandler):
    """``GET|PATCH .../versions/{version_id}``: preview a version, or (un)name it."""

    @web.authenticated
    async def get(self, document_id: str, version_id: str) -> None:
        room_id = self.notebook(document_id, Capability.READ)
        self.finish(await self.history.preview(room_id, version_id))

    @web.authenticated
    async def patch(self, document_id: str, version_id: str) -> None:
        room_id = self.notebook(document_id, Capability.EDIT)
        body = self.body()
        if "name" not in body:
            raise web.HTTPError(400, "the body must say the version's name (or null)")
        self.finish(await self.history.name(room_id, self.user_info, body["name"],
                                            version_id))


class RestoreHandler(HistoryHandler):
    """``POST .../versions/{version_id}/restore``: ``{cell_id?}``."""

    @web.authenticated
    async def post(self, document_id: str, version_id: str) -> None:
        room_id = self.notebook(document_id, Capability.EDIT)
        cell_id = self.body().get("cell_id")
        if cell_id is not None and (not isinstance(cell_id, str)
                                    or not _CELL_ID.match(cell_id)):
            raise web.HTTPError(400, "cell_id must be a cell id")
        self.finish(await self.history.restore(room_id, self.user_info, version_id, cell_id))


class UndoHandler(HistoryHandler):
    """``POST .../restores/{restore_id}/undo``: take back your restore."""

    @web.authenticated
    async def post(self, document_id: str, restore_id: str) -> None:
        room_id = self.notebook(document_id, Capability.EDIT)
        self.finish(await self.history.undo(room_id, self.user_info, restore_id))


class HistoryViewHandler(HistoryHandler):
    """``GET .../diff|blame|changes`` and ``POST .../seen``."""

    @web.authenticated
    async def get(self, document_id: str, view: str) -> None:
        room_id = self.notebook(document_id, Capability.READ)
        if view == "diff":
            self.finish(await self.history.diff(room_id, self._version("from", None),
                                                self._version("to", LIVE)))
        elif view == "blame":
            cell_id = self.get_query_argument("cell_id", None)
            if cell_id is not None and not _CELL_ID.match(cell_id):
                raise web.HTTPError(400, "cell_id must be a cell id")
            self.finish(await self.history.blame(room_id, cell_id,
                                                 self._version("version", LIVE)))
        elif view == "changes":
            self.finish(await self.history.changes(room_id, self.user_info))
        else:
            raise web.HTTPError(405, "POST to mark the notebook seen")

    def _version(self, argument: str, default: str | None) -> str:
        value = self.get_query_argument(argument, default)
        if value is None or not _VERSION_OR_LIVE.match(value):
            raise web.HTTPError(400, f"{argument} must be a version id or {LIVE}")
        return value

    @web.authenticated
    async def post(self, document_id: str, view: str) -> None:
        if view != "seen":
            raise web.HTTPError(405, f"{view} is read with GET")
        room_id = self.notebook(document_id, Capability.READ)
        self.finish(await self.history.seen(room_id, self.user_info))
