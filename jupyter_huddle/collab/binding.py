"""A document bound to its file: load it, save it on schedule, follow renames.

The binding listens to the room's changes; a peer's edit or a server repair marks the
document unsaved, the scheduler decides when to write, and after each write the server
records ``state.dirty = false`` and the file's ``state.hash`` (exactly what the contents
API reports, so JupyterLab raises no false "file changed" dialog).
"""

from __future__ import annotations

import logging
from typing import Any

from .connection import Connection
from .documents.base import SharedDocument
from .errors import SaveError
from .files import FileBackend
from .ids import DocumentRoomId
from .origins import ServerOrigin
from .saver import SaveScheduler
from .settings import CollabSettings

log = logging.getLogger(__name__)


class FileBinding:
    def __init__(
        self,
        room_id: DocumentRoomId,
        document: SharedDocument,
        backend: FileBackend,
        path: str,
        settings: CollabSettings,
    ) -> None:
        self.room_id = room_id
        self.document = document
        self.backend = backend
        self.path = path
        self.saver = SaveScheduler(
            self._save,
            quiet_s=settings.save_delay_s,
            max_delay_s=settings.max_save_delay_s,
            retry_delay_s=settings.save_retry_delay_s,
            name=str(room_id),
        )
        # What the file holds, in export form: a save that would write the same is skipped.
        self._saved_content: Any = None

    async def load(self) -> None:
        """Fill the document from the file.

        Raises:
            DocumentNotFound, DocumentLoadError: from the backend.
        """
        snapshot = await self.backend.load(self.path, self.room_id.type)
        self.document.load(snapshot.content, ServerOrigin.LOAD)
        self._saved_content = self.document.export()
        self.document.set_state(ServerOrigin.LOAD, path=self.path, dirty=False,
                                hash=snapshot.hash)

    def on_change(self, update: bytes, origin: object) -> None:
        """Room change listener: decide whether this change needs saving."""
        if isinstance(origin, Connection) or (
            isinstance(origin, ServerOrigin) and origin.marks_dirty
        ):
            self.saver.mark_dirty()

    async def save_request(self) -> str:
        """Answer a client's save request: "success" only once the file is on disk."""
        try:
            await self.saver.save_now()
        except SaveError:
            return "failed"
        return "success"

    async def refresh_path(self) -> None:
        """Follow a rename: the file id stays, the path and ``state.path`` change."""
        path = await self.backend.path_for(self.room_id.file_id)
        if path is not None and path != self.path:
            log.info("%s moved from %s to %s", self.room_id, self.path, path)
            self.path = path
            self.document.set_state(ServerOrigin.RENAME, path=path)

    async def _save(self) -> None:
        await self.refresh_path()
        self.document.prepare_for_save(ServerOrigin.REPAIR)
        content = self.document.export()
        if content != self._saved_content:
            self.document.check(content)
            snapshot = await self.backend.save(self.path, self.room_id.type, content)
            self._saved_content = content
            self.document.mark_saved(content)
            self.document.set_state(ServerOrigin.SAVE_STATE, dirty=False, hash=snapshot.hash)
        else:
            self.document.set_state(ServerOrigin.SAVE_STATE, dirty=False)
