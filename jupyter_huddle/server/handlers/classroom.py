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

import posixpath
import re
import time
from typing import Any
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from tornado import web

from ...collab.access import Capability, Role
from ...collab.documents.schema import split_comments
from ...collab.errors import CollabError
from ...collab.manager import RoomManager
from ..access import ServerAccess
from ..contents_backend import ContentsFileBackend
from .bodies import json_object
from .ids import parse_document_id


def folder_name(display_name: str, username: str) -> str:
    """A readable folder name that is still unique per user."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", display_name).strip("-")[:40] or "user"
    return f"{slug}-{re.sub(r'[^A-Za-z0-9]', '', username)[-8:] or 'x'}"


class ClassroomHandler(APIHandler):
    def initialize(self, access: ServerAccess, backend: ContentsFileBackend,
                   manager: RoomManager, copies_dir: str, max_copies_per_person: int) -> None:
        self.access = access
        self.backend = backend
        self.manager = manager
        self.copies_dir = copies_dir.strip("/")
        self.max_copies_per_person = max_copies_per_person


class PresentHandler(ClassroomHandler):
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
    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = parse_document_id(document_id)
        self.access.require(self, Capability.READ, room_id.file_id)
        if not self.access.may_copy(self.current_user):
            raise web.HTTPError(403, "people who came through a share link cannot make copies "
                                "on this server (its owner can allow it: guest_copies)")
        original = await self.backend.path_for(room_id.file_id)
        if original is None:
            raise web.HTTPError(404, f"no notebook {document_id}")
        try:
            content: dict[str, Any] = await self.manager.export(room_id)
        except CollabError as err:
            raise web.HTTPError(404, f"cannot open {document_id}: {err}") from err
        content["metadata"] = split_comments(content.get("metadata") or {})[0]
        user = self.current_user
        folder = posixpath.join(self.copies_dir, folder_name(
            str(getattr(user, "display_name", "") or user.username), str(user.username)))
        await self._check_quota(folder)
        path = await self._free_path(folder, posixpath.basename(original))
        await self._make_folders(folder)
        try:
            await self.backend.save(path, "notebook", content)
        except CollabError as err:
            raise web.HTTPError(500, f"could not write the copy: {err}") from err
        file_id, _ = self.backend.file_id(path)
        if not self.access.is_owner(user):
            await self.access.access.assign(file_id, str(user.username), Role.EDITOR)
        self.set_status(201)
        self.finish({"path": path, "document_id": f"json:notebook:{file_id}",
                     "url": f"{self.base_url}huddle/notebooks/{quote(path)}"})

    async def _check_quota(self, folder: str) -> None:
        """A person's folder holds at most ``max_copies_per_person`` notebooks."""
        contents = self.contents_manager
        if not await ensure_async(contents.dir_exists(folder)):  # type: ignore[no-untyped-call]
            return
        model = await ensure_async(contents.get(folder, content=True))  # type: ignore[no-untyped-call]
        held = sum(1 for entry in model.get("content") or [] if entry.get("type") == "notebook")
        if held >= self.max_copies_per_person:
            raise web.HTTPError(409, f"you already keep {held} personal copies, the most "
                                "one person may: delete one to make another")

    async def _free_path(self, folder: str, name: str) -> str:
        stem, ext = posixpath.splitext(name)
        for n in range(1, 1000):
            candidate = posixpath.join(folder, name if n == 1 else f"{stem} ({n}){ext}")
            if not await self.backend.exists(candidate):
                return candidate
        raise web.HTTPError(409, "too many copies of this notebook in your folder")

    async def _make_folders(self, folder: str) -> None:
        contents = self.contents_manager
        current = ""
        for part in folder.split("/"):
            current = posixpath.join(current, part) if current else part
            if not await ensure_async(contents.dir_exists(current)):  # type: ignore[no-untyped-call]
                await ensure_async(contents.save(  # type: ignore[no-untyped-call]
                    {"type": "directory"}, current))


def routes(access: ServerAccess, backend: ContentsFileBackend, manager: RoomManager,
           copies_dir: str, max_copies_per_person: int) -> list[tuple[str, type, dict[str, Any]]]:
    args = {"access": access, "backend": backend, "manager": manager,
            "copies_dir": copies_dir, "max_copies_per_person": max_copies_per_person}
    return [
        (r"/api/huddle/present/([^/]+)", PresentHandler, args),
        (r"/api/huddle/copies/([^/]+)", CopyHandler, args),
    ]
