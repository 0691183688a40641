"""``PUT /api/collaboration/session/{path}``: a file path to a stable file id.

Stock JupyterLab calls this before opening a document's room. 201 when the file id is new,
200 when the path already had one, 404 for a file that does not exist (nothing is indexed
for it).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.roles import Capability
from ...collab.ids import DocumentRoomId, document_kind
from ...collab.rooms.manager import RoomManager
from ..access import GuestUser, ServerAccess
from ..contents_backend import ContentsFileBackend


class CollaborationSessionHandler(APIHandler):
    """``PUT /api/collaboration/session/{path}``: the file's id and its session id."""

    auth_resource = "contents"

    def initialize(self, backend: ContentsFileBackend, manager: RoomManager,
                   access: ServerAccess) -> None:
        self.backend = backend
        self.manager = manager
        self.access = access

    @web.authenticated
    async def put(self, path: str) -> None:
        # Reading is enough: a read-only collaborator still joins the room (and is refused
        # edits there), which is what makes read-only collaboration possible at all.
        if self.access.is_owner(self.current_user):
            self.access.require(self, Capability.READ, None)  # before revealing anything
        fmt, doc_type = self._parse_body()
        kind = document_kind(fmt, doc_type)
        if kind is None:
            raise web.HTTPError(400, f"documents of kind {fmt}:{doc_type} are not served")
        if isinstance(self.current_user, GuestUser):
            # A guest may open only the file of their link: no file ids are made for
            # others, and whether another file exists is not revealed.
            known = self.backend.known_file_id(path)
            if known is None or not self.access.allowed(self, Capability.READ, known):
                raise web.HTTPError(403, "you may not read this file")
        if not await self.backend.exists(path):
            raise web.HTTPError(404, f"no such file: {path}")
        file_id, created = self.backend.file_id(path)
        self.access.require(self, Capability.READ, file_id)
        session_id = await self.manager.session_for(DocumentRoomId(fmt, kind, file_id), path)
        self.set_status(201 if created else 200)
        self.finish({"format": fmt, "type": doc_type, "fileId": file_id,
                     "sessionId": session_id})

    def _parse_body(self) -> tuple[str, str]:
        try:
            body: Any = self.get_json_body()
        except web.HTTPError:
            raise web.HTTPError(400, "the body must be JSON: {format, type}") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the body must be a JSON object: {format, type}")
        fmt, doc_type = body.get("format"), body.get("type")
        if not isinstance(fmt, str) or not isinstance(doc_type, str):
            raise web.HTTPError(400, "format and type must be strings")
        return fmt, doc_type
