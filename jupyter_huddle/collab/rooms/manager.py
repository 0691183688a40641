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
import time
import uuid
from typing import Any

from ..access.users import KnownUsers
from ..documents.notebook import NotebookDocument
from ..errors import CapacityError, DocumentNotFound, SaveError, StoreError
from ..files.backend import FileBackend
from ..files.binding import FileBinding, file_content
from ..history import HistoryRecorder, HistorySettings
from ..ids import AwarenessRoomId, DocumentRoomId, RoomId
from ..settings import CollabSettings
from ..store import DocumentRecord, MemoryStore, ServerStore, UpdateStore
from ..sync.connection import Connection
from ..sync.room import DocumentKeeper, Room
from ..sync.stale import StaleTabs
from .heap import HeapTrimmer, libc_malloc_trim
from .room_files import FileWatch, RoomFiles
from .room_table import RoomEntry, RoomTable
from .shared_calls import SharedCalls

log = logging.getLogger(__name__)


def new_epoch() -> str:
    """A new history id for a document."""
    return uuid.uuid4().hex


class RoomManager(RoomFiles):
    """Owns every room; use as an async context manager around the server's lifetime."""

    def __init__(self, settings: CollabSettings, backend: FileBackend,
                 store: UpdateStore | None = None,
                 history: HistorySettings | None = None) -> None:
        self.settings = settings
        self.history_settings = history or HistorySettings()
        self.backend = backend
        # One store object for everything (rooms, bindings, access): never replaced.
        self.store = store if isinstance(store, ServerStore) else ServerStore(
            store if store is not None else MemoryStore())
        self.store.listeners.append(self._durability_changed)
        self.store.restore = self._restore_history
        self._entries = RoomTable()
        # Loads in progress: peers joining a room that is still loading wait on its future.
        self._loading: SharedCalls[RoomId, RoomEntry] = SharedCalls()
        self._closing = False
        self._started: asyncio.Task[None] | None = None
        self.file_watch: FileWatch | None = None
        # Epochs being created: two first requests for a document at once must agree.
        self._new_sessions: SharedCalls[DocumentRoomId, str] = SharedCalls()
        # Everyone who joined a room: who can be @mentioned in a review thread.
        self.users = KnownUsers()
        # Room sockets per identity (username -> connection ids), for max_sockets_per_user.
        self._sockets: dict[str, set[int]] = {}
        # Returns memory to the system after large frames and rooms are let go.
        self.heap = HeapTrimmer(libc_malloc_trim())
        # Tabs refused because their copy is from another history (see ``stale``).
        self.stale = StaleTabs(settings.stale_tab_retry_s, settings.max_stale_tabs)

    async def __aenter__(self) -> RoomManager:
        await self.start()
        return self

    async def start(self) -> None:
        """Open the store (once; later calls wait for the first) and purge old deletions."""
        if self._started is None:
            self._started = asyncio.create_task(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        await self.store.start()  # falls back to memory inside the store
        retention_s = self.settings.deleted_retention_days * 86400
        purged = await self.store.purge_deleted(time.time() - retention_s)
        if purged:
            log.info("forgot the history of %d files deleted over %s days ago", purged,
                     self.settings.deleted_retention_days)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close_all()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, room_id: RoomId) -> Room | None:
        """The room if it is open."""
        entry = self._entries.get(room_id)
        return entry.room if entry else None

    def history(self, room_id: DocumentRoomId) -> HistoryRecorder | None:
        """The version history of an open notebook's room (None: not open, not a
        notebook, or history is off)."""
        entry = self._entries.get(room_id)
        return entry.history if entry is not None else None

    def rooms_for_file(self, file_id: str) -> list[Room]:
        """The open rooms of one file (its notebook room, its text room), found by id."""
        return [entry.room for entry in self._entries.for_file(file_id)]

    # --- sessions -------------------------------------------------------------------------

    async def session_for(self, room_id: DocumentRoomId, path: str) -> str:
        """The session id a client must present to join this document's room.

        It names the document's history (epoch), which the store keeps across restarts. A
        client that reconnects after the history was rebuilt from the file (store lost or
        corrupt) presents an older one and is told to reload, instead of merging a copy
        whose items the room does not know, which would duplicate every cell.
        """
        await self.start()
        entry = self._entries.get(room_id)
        if entry is not None and entry.epoch is not None:
            return entry.epoch
        return await self._new_sessions.run(room_id, lambda: self._new_session(room_id, path))

    async def _new_session(self, room_id: DocumentRoomId, path: str) -> str:
        record = await self.store.record(str(room_id))
        if record is None or record.deleted_at is not None:
            record = DocumentRecord(str(room_id), new_epoch(), path=path)
            await self.store.put_record(record)
        return record.epoch

    # --- joining and leaving --------------------------------------------------------------

    async def join(self, room_id: RoomId, peer: Connection, session_id: str | None = None) -> Room:
        """Open (or reuse) the room and add the peer to it.

        Raises:
            DocumentNotFound, DocumentLoadError: the file cannot be opened.
            CapacityError: the server holds ``max_rooms`` busy rooms, the room holds
                ``max_peers_per_room`` sockets, or the peer's identity holds
                ``max_sockets_per_user``.

        A peer whose session names another history of the document (an older epoch) is
        not added: the room holds it apart, keeps its copy and tells it to reload.
        """
        await self.start()
        self._check_user_sockets(peer)  # before loading anything for a refused socket
        entry = await self._open(room_id)
        if entry.epoch is not None and session_id != entry.epoch:
            log.info("%s: session %r is not the current one", room_id, session_id)
            entry.room.hold_stale(peer)  # keeps the room loaded until its socket closes
            if entry.eviction is not None:
                entry.eviction.cancel()
                entry.eviction = None
            return entry.room
        try:
            self._check_user_sockets(peer)  # again: others may have joined meanwhile
            if len(entry.room.peers) >= self.settings.max_peers_per_room:
                raise CapacityError(f"room full ({self.settings.max_peers_per_room} sockets)")
        except CapacityError:
            if not entry.room.peers and entry.eviction is None:
                self._schedule_eviction(entry)
            raise
        if entry.eviction is not None:
            entry.eviction.cancel()
            entry.eviction = None
        entry.idle_since = None
        entry.room.join(peer)
        self._sockets.setdefault(peer.user.username, set()).add(peer.id)
        self.users.saw(peer.user)
        return entry.room

    def _check_user_sockets(self, peer: Connection) -> None:
        """Bounds what one identity (a member, or one guest) makes the server hold.

        Raises:
            CapacityError: it already holds ``max_sockets_per_user`` room sockets.
        """
        held = self._sockets.get(peer.user.username, ())
        if len(held) >= self.settings.max_sockets_per_user:
            raise CapacityError(
                f"too many sockets for one user ({self.settings.max_sockets_per_user})")

    async def lease(self, room_id: DocumentRoomId) -> Room:
        """Open (or reuse) a room for server-side work and keep it loaded until released.

        Raises:
            DocumentNotFound, DocumentLoadError, CapacityError: as ``join``.
        """
        await self.start()
        entry = await self._open(room_id)
        entry.leases += 1
        if entry.eviction is not None:
            entry.eviction.cancel()
            entry.eviction = None
        return entry.room

    async def export(self, room_id: DocumentRoomId) -> Any:
        """The live document as its file would hold it now (unsaved edits included).

        Raises:
            DocumentNotFound, DocumentLoadError: the file cannot be opened.
        """
        room = await self.lease(room_id)
        try:
            assert room.document is not None  # document rooms always have one
            return file_content(room.document, self.settings)
        finally:
            self.release(room_id)

    def pin(self, room_id: DocumentRoomId) -> bool:
        """Lease a room that is already open (synchronously); False if it is not open."""
        entry = self._entries.get(room_id)
        if entry is None:
            return False
        entry.leases += 1
        if entry.eviction is not None:
            entry.eviction.cancel()
            entry.eviction = None
        return True

    def release(self, room_id: DocumentRoomId) -> None:
        """End a ``lease`` or ``pin``: the room may be evicted once nothing else holds it."""
        entry = self._entries.get(room_id)
        if entry is None:
            return
        entry.leases = max(entry.leases - 1, 0)
        if entry.leases == 0 and not entry.room.busy and entry.eviction is None:
            self._schedule_eviction(entry)

    def leave(self, room: Room, peer: Connection) -> None:
        """A peer's socket closed: it leaves the room, which is evicted when idle."""
        held = self._sockets.get(peer.user.username)
        if held is not None:
            held.discard(peer.id)
            if not held:
                del self._sockets[peer.user.username]
        room.leave(peer)
        entry = self._entries.get(room.id)
        if entry is None or entry.room is not room or room.busy:
            return
        self._schedule_eviction(entry)

    def _schedule_eviction(self, entry: RoomEntry) -> None:
        """The room has no peers: save now (the last editor has gone), evict later."""
        entry.idle_since = asyncio.get_running_loop().time()
        delay = 0.0 if entry.binding is None else self.settings.room_cleanup_delay_s
        entry.eviction = asyncio.create_task(self._evict(entry.room.id, delay=delay))

    # --- opening --------------------------------------------------------------------------

    async def _open(self, room_id: RoomId) -> RoomEntry:
        entry = self._entries.get(room_id)
        if entry is not None:
            return entry
        return await self._loading.run(room_id, lambda: self._open_new(room_id))

    async def _open_new(self, room_id: RoomId) -> RoomEntry:
        if self._closing:
            raise CapacityError("server is shutting down")
        await self._make_space()
        entry = await self._load(room_id)
        self._entries.add(entry)
        return entry

    async def _load(self, room_id: RoomId) -> RoomEntry:
        if isinstance(room_id, AwarenessRoomId):
            room = await Room(room_id, None, self.settings).__aenter__()
            room.on_release = self.heap.released
            return RoomEntry(room, None)
        path = await self.backend.path_for(room_id.file_id)
        if path is None:
            raise DocumentNotFound(f"no file has id {room_id.file_id}")
        record = await self.store.record(str(room_id))
        epoch = record.epoch if record is not None and record.deleted_at is None else new_epoch()
        binding = FileBinding(room_id, self.backend, self.store, path, self.settings, epoch)
        await binding.load(new_epoch)
        # The binding keeps the room's document: every change goes to its log and save
        # schedule first, save requests to its saver, stale copies to a recovery file.
        keeper = DocumentKeeper(
            persist=binding.on_change, save=binding.save_request,
            keep_stale_copy=lambda peer, copy, by_session: self.stale.keep(
                peer, str(room_id), copy, binding.save_stale_copy, by_session=by_session))
        room = await Room(room_id, binding.document, self.settings, keeper).__aenter__()
        binding.notify = room.announce  # the binding tells the room's peers of outside changes
        room.on_release = self.heap.released
        if not self.store.durable:
            room.set_server_state(history_durable=False)
        entry = RoomEntry(room, binding, binding.epoch)
        entry.history = await self._start_history(room, binding)
        entry.tasks.append(asyncio.create_task(binding.saver.run()))
        self._follow_file(entry, binding)
        log.info("opened %s (%s)", room_id, path)
        return entry

    async def _start_history(self, room: Room, binding: FileBinding) -> HistoryRecorder | None:
        """Watch a notebook's changes and record its versions (collab.history)."""
        if not self.history_settings.enabled or not isinstance(binding.document,
                                                               NotebookDocument):
            return None
        recorder = HistoryRecorder(binding.key, binding.document, self.store,
                                   self.history_settings, announce=room.announce,
                                   mark_dirty=binding.saver.mark_dirty,
                                   loaded_stamp=binding.loaded_stamp)
        try:
            await recorder.start()
        except StoreError as err:
            log.error("the version history of %s cannot be read (%s): it is not recorded "
                      "while the room is open", binding.path, err)
            await recorder.close()
            return None
        binding.history = recorder
        return recorder

    async def _make_space(self) -> None:
        """Evict the longest-idle room if the server is full.

        Raises:
            CapacityError: every room has peers.
        """
        if len(self._entries) + len(self._loading) <= self.settings.max_rooms:
            return
        idle = [(e.idle_since, e.room.id) for e in self._entries.values()
                if e.idle_since is not None and not e.leases and not e.room.busy]
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
        if entry is None:
            return
        entry.eviction = None
        if entry.room.busy or entry.leases:
            return  # back in use; the last leave or release schedules the next eviction
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
        self._entries.pop(room_id)
        self._unwatch(entry)
        for task in entry.tasks:
            task.cancel()
        if entry.history is not None:
            await entry.history.close()
        if entry.binding is not None:
            try:
                await entry.binding.close()
            except StoreError as err:
                log.error("compacting %s on close failed: %s", room_id, err)
        if entry.eviction is not None and entry.eviction is not asyncio.current_task():
            entry.eviction.cancel()
        await asyncio.gather(*entry.tasks, return_exceptions=True)
        await entry.room.__aexit__(None, None, None)
        self.heap.released(entry.room.forget_caches())
        log.info("closed %s", room_id)
        return True

    async def flush_all(self) -> None:
        """Save every room with unsaved changes; failures are logged, not raised."""
        for entry in self._entries.values():
            if entry.binding is not None:
                with contextlib.suppress(SaveError):
                    await entry.binding.saver.save_now()

    async def close_all(self) -> None:
        """Flush and close every room, then the store (server shutdown)."""
        self._closing = True
        for room_id in list(self._entries):
            try:
                await self._close_room(room_id, force=True)
            except Exception:  # one broken room must not keep the others from flushing
                log.exception("closing %s failed", room_id)
        if self._started is not None:
            await self.store.stop()
        self.heap.close()

    # --- the store failing and recovering --------------------------------------------------

    def _durability_changed(self, durable: bool) -> None:
        """Tell every peer of every document whether its history is durable (server
        presence ``huddle.history_durable``; absent until the store first fails)."""
        for entry in self._entries.values():
            if entry.binding is not None:
                entry.room.set_server_state(history_durable=durable)

    async def _restore_history(self, key: str) -> bool:
        """The store lost part of a document's log: rewrite it whole if its room is open
        (False: it is not, the store forgets it)."""
        for entry in self._entries.values():
            if entry.binding is not None and entry.binding.key == key:
                await entry.binding.restore_history()
                return True
        return False
