"""All rooms of a server: open on first join, share while in use, evict when idle.

Opening a document room loads its file once, even when many peers join at the same moment
(they wait on the same load). A room whose last peer left is flushed to disk and evicted
after ``room_cleanup_delay_s``; a failed flush keeps it loaded and retries. At shutdown
every room is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from .binding import FileBinding
from .connection import Connection
from .documents.base import SharedDocument
from .documents.notebook import NotebookDocument
from .documents.text import TextDocument
from .errors import CapacityError, DocumentNotFound, SaveError, StaleSession
from .files import FileBackend
from .ids import AwarenessRoomId, DocumentRoomId, RoomId
from .room import Room
from .settings import CollabSettings

log = logging.getLogger(__name__)

# Session ids handed out for documents not loaded yet, kept until their room opens. Bounded:
# a client that asks and never connects must not grow the server.
MAX_PENDING_SESSIONS = 10_000


def new_epoch() -> str:
    return uuid.uuid4().hex


def new_document(room_id: DocumentRoomId) -> SharedDocument:
    return NotebookDocument() if room_id.type == "notebook" else TextDocument()


@dataclass(eq=False)
class _Entry:
    room: Room
    binding: FileBinding | None
    # The history this room's document belongs to; clients prove theirs with the session
    # id they were given for it (see ``session_for``).
    epoch: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    eviction: asyncio.Task[None] | None = None
    idle_since: float | None = None


class RoomManager:
    """Owns every room; use as an async context manager around the server's lifetime."""

    def __init__(self, settings: CollabSettings, backend: FileBackend) -> None:
        self.settings = settings
        self.backend = backend
        self._entries: dict[RoomId, _Entry] = {}
        # Loads in progress: peers joining a room that is still loading wait on its future.
        self._loading: dict[RoomId, asyncio.Future[_Entry]] = {}
        self._pending_epochs: OrderedDict[DocumentRoomId, str] = OrderedDict()
        self._closing = False

    async def __aenter__(self) -> RoomManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close_all()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, room_id: RoomId) -> Room | None:
        entry = self._entries.get(room_id)
        return entry.room if entry else None

    def rooms_for_file(self, file_id: str) -> list[Room]:
        return [
            e.room for rid, e in self._entries.items()
            if isinstance(rid, DocumentRoomId) and rid.file_id == file_id
        ]

    # --- sessions -------------------------------------------------------------------------

    def session_for(self, room_id: DocumentRoomId) -> str:
        """The session id a client must present to join this document's room.

        It names the document's history (epoch). A client that reconnects after the room
        was rebuilt from the file (evicted, server restarted) presents an older one and is
        told to reload, instead of merging a copy whose items the new room does not know,
        which would duplicate every cell.
        """
        entry = self._entries.get(room_id)
        if entry is not None and entry.epoch is not None:
            return entry.epoch
        epoch = self._pending_epochs.get(room_id) or new_epoch()
        self._pending_epochs[room_id] = epoch
        self._pending_epochs.move_to_end(room_id)
        while len(self._pending_epochs) > MAX_PENDING_SESSIONS:
            self._pending_epochs.popitem(last=False)
        return epoch

    # --- joining and leaving --------------------------------------------------------------

    async def join(self, room_id: RoomId, peer: Connection, session_id: str | None = None) -> Room:
        """Open (or reuse) the room and add the peer to it.

        Raises:
            DocumentNotFound, DocumentLoadError: the file cannot be opened.
            CapacityError: the server holds ``max_rooms`` busy rooms.
            StaleSession: the peer's session belongs to another history of the document.
        """
        entry = await self._open(room_id)
        if entry.epoch is not None and session_id != entry.epoch:
            if not entry.room.peers and entry.eviction is None:
                self._schedule_eviction(entry)
            raise StaleSession(f"session {session_id!r} is not the current one for {room_id}")
        if entry.eviction is not None:
            entry.eviction.cancel()
            entry.eviction = None
        entry.idle_since = None
        entry.room.join(peer)
        return entry.room

    def leave(self, room: Room, peer: Connection) -> None:
        room.leave(peer)
        entry = self._entries.get(room.id)
        if entry is None or entry.room is not room or room.peers:
            return
        self._schedule_eviction(entry)

    def _schedule_eviction(self, entry: _Entry) -> None:
        """The room has no peers: save now (the last editor has gone), evict later."""
        entry.idle_since = asyncio.get_running_loop().time()
        delay = 0.0 if entry.binding is None else self.settings.room_cleanup_delay_s
        entry.eviction = asyncio.create_task(self._evict(entry.room.id, delay=delay))

    # --- opening --------------------------------------------------------------------------

    async def _open(self, room_id: RoomId) -> _Entry:
        entry = self._entries.get(room_id)
        if entry is not None:
            return entry
        pending = self._loading.get(room_id)
        if pending is not None:
            return await asyncio.shield(pending)
        if self._closing:
            raise CapacityError("server is shutting down")
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._loading[room_id] = future
        try:
            await self._make_space()
            entry = await self._load(room_id)
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: other waiters re-raise it
            raise
        finally:
            del self._loading[room_id]
        self._entries[room_id] = entry
        future.set_result(entry)
        return entry

    async def _load(self, room_id: RoomId) -> _Entry:
        if isinstance(room_id, AwarenessRoomId):
            room = await Room(room_id, None, self.settings).__aenter__()
            return _Entry(room, None)
        path = await self.backend.path_for(room_id.file_id)
        if path is None:
            raise DocumentNotFound(f"no file has id {room_id.file_id}")
        document = new_document(room_id)
        binding = FileBinding(room_id, document, self.backend, path, self.settings)
        await binding.load()
        room = await Room(room_id, document, self.settings).__aenter__()
        room.add_change_listener(binding.on_change)
        room.save_handler = binding.save_request
        epoch = self._pending_epochs.pop(room_id, None) or new_epoch()
        entry = _Entry(room, binding, epoch)
        entry.tasks.append(asyncio.create_task(binding.saver.run()))
        log.info("opened %s (%s)", room_id, path)
        return entry

    async def _make_space(self) -> None:
        """Evict the longest-idle room if the server is full.

        Raises:
            CapacityError: every room has peers.
        """
        if len(self._entries) + len(self._loading) <= self.settings.max_rooms:
            return
        idle = [(e.idle_since, rid) for rid, e in self._entries.items() if e.idle_since is not None]
        if not idle:
            raise CapacityError(f"the server already holds {self.settings.max_rooms} busy rooms")
        _, room_id = min(idle, key=lambda item: item[0] or 0.0)
        if not await self._close_room(room_id):
            raise CapacityError("could not evict an idle room: its unsaved changes failed to save")

    # --- closing --------------------------------------------------------------------------

    async def _evict(self, room_id: RoomId, delay: float) -> None:
        entry = self._entries.get(room_id)
        if entry is not None and entry.binding is not None:
            with contextlib.suppress(SaveError):
                await entry.binding.saver.save_now()
        await asyncio.sleep(delay)
        entry = self._entries.get(room_id)
        if entry is None or entry.room.peers:
            return
        entry.eviction = None
        if not await self._close_room(room_id):
            entry.eviction = asyncio.create_task(
                self._evict(room_id, delay=self.settings.room_cleanup_delay_s)
            )

    async def _close_room(self, room_id: RoomId, *, force: bool = False) -> bool:
        """Flush and close a room.

        Returns False, and the room stays, if its last save fails, unless ``force``.
        """
        entry = self._entries.get(room_id)
        if entry is None:
            return True
        if entry.binding is not None:
            try:
                await entry.binding.saver.save_now()
            except SaveError:
                if not force:
                    return False
                log.error("unsaved changes in %s could not be written at shutdown", room_id)
        del self._entries[room_id]
        for task in entry.tasks:
            task.cancel()
        if entry.eviction is not None and entry.eviction is not asyncio.current_task():
            entry.eviction.cancel()
        await asyncio.gather(*entry.tasks, return_exceptions=True)
        await entry.room.__aexit__(None, None, None)
        log.info("closed %s", room_id)
        return True

    async def flush_all(self) -> None:
        """Save every room with unsaved changes; failures are logged, not raised."""
        for entry in list(self._entries.values()):
            if entry.binding is not None:
                with contextlib.suppress(SaveError):
                    await entry.binding.saver.save_now()

    async def close_all(self) -> None:
        """Flush and close every room (server shutdown)."""
        self._closing = True
        for room_id in list(self._entries):
            try:
                await self._close_room(room_id, force=True)
            except Exception:  # one broken room must not keep the others from flushing
                log.exception("closing %s failed", room_id)

    async def refresh_paths(self, file_id: str) -> None:
        """A file was renamed: update the path of the rooms that hold it."""
        for entry in list(self._entries.values()):
            rid = entry.room.id
            if entry.binding is not None and isinstance(rid, DocumentRoomId) and (
                rid.file_id == file_id
            ):
                await entry.binding.refresh_path()
