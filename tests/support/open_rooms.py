"""A RoomManager over in-memory files, with notebooks open and people in them (core tests)."""

from __future__ import annotations

from typing import Any

import nbformat

from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.rooms.manager import RoomManager
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.store import MemoryStore
from jupyter_huddle.collab.sync.connection import Connection, Permissions, UserInfo

from .memory_backend import MemoryBackend

# Nothing saves or evicts on its own while a test looks.
QUIET = CollabSettings(save_delay_s=60, max_save_delay_s=120, room_cleanup_delay_s=60,
                       file_poll_interval_s=60)


def notebook(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.from_dict(nb)


def room_of(file_id: str) -> DocumentRoomId:
    return DocumentRoomId("json", "notebook", file_id)


class Person:
    """A socket of someone's, remembering how it was closed."""

    def __init__(self, username: str, guest_id: str | None = None) -> None:
        self.closed_with: tuple[int, str] | None = None
        self.conn = Connection(user=UserInfo(username, guest_id=guest_id),
                               permissions=Permissions(write=True), max_queue_bytes=1 << 20,
                               on_close=self._closed)

    def _closed(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


class OpenRooms:
    """A manager with files ``{file_id: path}``; ``join`` opens their rooms."""

    def __init__(self, files: dict[str, str], settings: CollabSettings = QUIET,
                 backend: MemoryBackend | None = None) -> None:
        self.backend = backend or MemoryBackend()
        for file_id, path in files.items():
            self.backend.add(file_id, path, notebook(f"# {path}"))
        self.manager = RoomManager(settings, self.backend, MemoryStore())

    async def join(self, file_id: str, person: Person) -> None:
        room_id = room_of(file_id)
        path = await self.backend.path_for(file_id)
        assert path is not None
        session = await self.manager.session_for(room_id, path)
        await self.manager.join(room_id, person.conn, session)

    async def __aenter__(self) -> OpenRooms:
        await self.manager.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.manager.close_all()
