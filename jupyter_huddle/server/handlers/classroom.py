"""Classroom routes: presenting, and students' personal copies.

- ``POST /api/huddle/present/{document_id}``: ``{on: bool}`` (owners). While on, the room's
  server presence names the presenter (``huddle.presenter``); the web app makes everyone
  else follow the presenter's active cell, and each student can step out and back in.
- ``POST /api/huddle/copies/{document_id}``: a personal copy of the live notebook (outputs
  included, review threads not) in the caller's own folder under ``HuddleApp.copies_dir``,
  which the caller may edit and run. Its kernel counts against
  ``HuddleApp.max_copy_kernels``; a person keeps at most ``HuddleApp.max_copies_per_person``
  copies; guests make none unless ``HuddleApp.guest_copies``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.copies import PersonalCopies
from ...collab.access.roles import Capability
from ...collab.rooms.manager import RoomManager
from ..access import ServerAccess, user_info
from .base import CoreErrors
from .bodies import json_object
from .ids import parse_document_id


class ClassroomHandler(CoreErrors, APIHandler):
    """The classroom routes' shared set-up."""

    def initialize(self, access: ServerAccess, manager: RoomManager,
                   copies: PersonalCopies) -> None:
        self.access = access
        self.manager = manager
        self.copies = copies


class PresentHandler(ClassroomHandler):
    """``POST /api/huddle/present/{document_id}``: start or stop presenting."""

    @web.authenticated
    def post(self, document_id: str) -> None:
        room_id = parse_document_id(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        on = json_object(self).get("on")
        if not isinstance(on, bool):
            raise web.HTTPError(400, "on must be true or false")
        rooms = self.manager.rooms_for_file(room_id.file_id)
        if not rooms:
            raise web.HTTPError(409, "open the notebook before presenting it")
        user = self.current_user
        presenter = {"username": str(user.username),
                     "name": str(getattr(user, "display_name", "") or user.username),
                     "since": time.time()} if on else None
        for room in rooms:
            room.set_server_state(presenter=presenter)
        self.finish({"presenter": presenter})


class CopyHandler(ClassroomHandler):
    """``POST /api/huddle/copies/{document_id}``: make a personal copy."""

    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = parse_document_id(document_id)
        self.access.require(self, Capability.READ, room_id.file_id)
        if not self.access.may_copy(self.current_user):
            raise web.HTTPError(403, "people who came through a share link cannot make copies "
                                "on this server (its owner can allow it: guest_copies)")
        copy = await self.copies.make(room_id, user_info(self.current_user))
        self.set_status(201)
        self.finish({"path": copy.path, "document_id": copy.document_id,
                     "url": f"{self.base_url}huddle/notebooks/{quote(copy.path)}"})


def routes(access: ServerAccess, manager: RoomManager, copies: PersonalCopies
           ) -> list[tuple[str, type, dict[str, Any]]]:
    """The classroom routes, relative to the server's base URL."""
    args = {"access": access, "manager": manager, "copies": copies}
    return [
        (r"/api/huddle/present/([^/]+)", PresentHandler, args),
        (r"/api/huddle/copies/([^/]+)", CopyHandler, args),
    ]
