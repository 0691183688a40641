"""All rooms of a server: open on first join, share while in use, evict when idle.

Opening a document room loads its file once, even when many peers join at the same moment
(they wait on the same load). A room whose last peer left is flushed to disk and evicted
after ``room_cleanup_delay_s``; a failed flush keeps it loaded and retries. At shutdown
every room is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .binding import FileBinding, file_content
from .close_codes import CloseCode
from .codec import encode_raw
from .connection import Connection
from .errors import CapacityError, DocumentNotFound, SaveError, StoreError
from .files import FileBackend
from .heap import HeapTrimmer, libc_malloc_trim
from .ids import AwarenessRoomId, DocumentRoomId, RoomId
from .room import Room
from .settings import CollabSettings
from .stale import StaleTabs
from .store import DocumentRecord, MemoryStore, ServerStore, UpdateStore
from .users import KnownUsers

log = logging.getLogger(__name__)

# A file missing at this many checks in a row is taken as deleted (a `git checkout` may
# remove and re-create it in between two checks).
MISSING_CHECKS_BEFORE_DELETED = 2


def new_epoch() -> str:
    return uuid.uuid4().hex


@dataclass(eq=False)
class _Entry:
    room: Room
    binding: FileBinding | None
    # The history this room's document belongs to; clients prove theirs with the session
    # id they were given for it (see ``session_for``).
    epoch: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    eviction: asyncio.Task[None] | None = None
    # The path registered with the file watcher (renames do not re-register).
    watched_path: str | None = None
    # Work in progress on the document without any peer (a cell running for a closed
    # tab): the room is not evicted while leased.
    leases: int = 0
    idle_since: float | None = None


class FileWatch(Protocol):
    """Notifications of changes to open files (the server's filesystem watcher)."""

    def watch(self, path: str) -> None: ...

    def unwatch(self, path: str) -> None: ...


class RoomManager:
    """Owns every room; use as an async context manager around the server's lifetime."""

    def __init__(self, settings: CollabSettings, backend: FileBackend,
                 store: UpdateStore | None = None) -> None:
        self.settings = settings
        self.backend = backend
        # One store object for everything (rooms, bindings, access): never replaced.
        self.store = store if isinstance(store, ServerStore) else ServerStore(
            store if store is not None else MemoryStore())
        self.store.listeners.append(self._durability_changed)
        self.store.restore = self._restore_history
        self._entries: dict[RoomId, _Entry] = {}
        # Loads in progress: peers joining a room that is still loading wait on its future.
        self._loading: dict[RoomId, asyncio.Future[_Entry]] = {}
        self._closing = False
        self._started: asyncio.Task[None] | None = None
        self.file_watch: FileWatch | None = None
        # Epochs being created: two first requests for a document at once must agree.
        self._new_sessions: dict[DocumentRoomId, asyncio.Future[str]] = {}
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
        entry = self._entries.get(room_id)
        return entry.room if entry else None

    def rooms_for_file(self, file_id: str) -> list[Room]:
        return [
            e.room for rid, e in self._entries.items()
            if isinstance(rid, DocumentRoomId) and rid.file_id == file_id
        ]

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
        pending = self._new_sessions.get(room_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._new_sessions[room_id] = future
        try:
            record = await self.store.record(str(room_id))
            if record is None or record.deleted_at is not None:
                record = DocumentRecord(str(room_id), new_epoch(), path=path)
                await self.store.put_record(record)
            future.set_result(record.epoch)
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: concurrent callers re-raise it
            raise
        finally:
            del self._new_sessions[room_id]
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
        entry = self._entries.get(room_id)
        if entry is None:
            return
        entry.leases = max(entry.leases - 1, 0)
        if entry.leases == 0 and not entry.room.busy and entry.eviction is None:
            self._schedule_eviction(entry)

    def leave(self, room: Room, peer: Connection) -> None:
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
            room.on_release = self.heap.released
            return _Entry(room, None)
        path = await self.backend.path_for(room_id.file_id)
        if path is None:
            raise DocumentNotFound(f"no file has id {room_id.file_id}")
        record = await self.store.record(str(room_id))
        epoch = record.epoch if record is not None and record.deleted_at is None else new_epoch()
        binding = FileBinding(room_id, self.backend, self.store, path, self.settings, epoch)
        await binding.load(new_epoch)
        room = await Room(room_id, binding.document, self.settings).__aenter__()
        room.on_release = self.heap.released
        if not self.store.durable:
            room.set_server_state(history_durable=False)
        room.stale_handler = lambda peer, copy, by_session: self.stale.keep(
            peer, str(room_id), copy, binding.save_stale_copy, by_session=by_session)
        room.add_change_listener(binding.on_change)
        room.save_handler = binding.save_request
        binding.notify = lambda message: room.broadcast(encode_raw(json.dumps(message)))
        entry = _Entry(room, binding, binding.epoch)
        entry.tasks.append(asyncio.create_task(binding.saver.run()))
        entry.tasks.append(asyncio.create_task(self._watch_file(entry, binding)))
        entry.watched_path = path
        if self.file_watch is not None:
            self.file_watch.watch(path)
        log.info("opened %s (%s)", room_id, path)
        return entry

    async def _make_space(self) -> None:
        """Evict the longest-idle room if the server is full.

        Raises:
            CapacityError: every room has peers.
        """
        if len(self._entries) + len(self._loading) <= self.settings.max_rooms:
            return
        idle = [(e.idle_since, rid) for rid, e in self._entries.items()
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
        del self._entries[room_id]
        self._unwatch(entry)
        for task in entry.tasks:
            task.cancel()
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
        for entry in list(self._entries.values()):
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
        for entry in list(self._entries.values()):
            if entry.binding is not None and entry.binding.key == key:
                await entry.binding.restore_history()
                return True
        return False

    # --- the files behind the rooms ----------------------------------------------------------

    async def _watch_file(self, entry: _Entry, binding: FileBinding) -> None:
        """Poll the file for changes made outside Huddle (filesystem notifications, when
        the server has them, call ``file_changed`` sooner)."""
        last = await self.backend.fingerprint(binding.path)
        missing = 0
        while True:
            await asyncio.sleep(self.settings.file_poll_interval_s)
            current = await self.backend.fingerprint(binding.path)
            if current is not None and current == last:
                missing = 0
                continue
            last = current
            if await binding.check_disk():
                missing = 0
                continue
            missing += 1
            if missing >= MISSING_CHECKS_BEFORE_DELETED:
                await self.file_deleted(entry.room.id)
                return

    def _unwatch(self, entry: _Entry) -> None:
        if self.file_watch is not None and entry.watched_path is not None:
            self.file_watch.unwatch(entry.watched_path)
            entry.watched_path = None

    async def file_changed(self, path: str) -> None:
        """A file changed on disk (a filesystem notification): merge it into its rooms."""
        for entry in list(self._entries.values()):
            binding = entry.binding
            if binding is not None and binding.path == path and not await binding.check_disk():
                log.info("%s is gone; waiting for the next check to confirm", path)

    async def file_deleted(self, room_id: RoomId) -> None:
        """Close a deleted file's room; keep its history for ``deleted_retention_days``."""
        entry = self._entries.pop(room_id, None)
        if entry is None or entry.binding is None:
            return
        binding = entry.binding
        self._unwatch(entry)
        log.warning("%s was deleted: closing its room; its history is kept for %s days",
                    binding.path, self.settings.deleted_retention_days)
        for task in entry.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await self.store.put_record(replace(binding.record, deleted_at=time.time()))
        for peer in list(entry.room.peers.values()):
            peer.close(CloseCode.GONE, f"the file was deleted: {binding.path}")
        await binding.close()
        await entry.room.__aexit__(None, None, None)
        self.heap.released(entry.room.forget_caches())

    async def files_deleted(self, path: str) -> None:
        """The contents API deleted ``path`` (a file or a folder)."""
        for room_id, entry in list(self._entries.items()):
            binding = entry.binding
            if binding is not None and (binding.path == path
                                        or binding.path.startswith(path.rstrip("/") + "/")):
                await self.file_deleted(room_id)

    async def refresh_paths(self, file_id: str) -> None:
        """A file was renamed: update the path of the rooms that hold it."""
        for entry in list(self._entries.values()):
            rid = entry.room.id
            if entry.binding is not None and isinstance(rid, DocumentRoomId) and (
                rid.file_id == file_id
            ):
                await entry.binding.refresh_path()
