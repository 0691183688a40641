"""The files behind the open rooms: changes made outside Huddle, deletions and renames.

Mixed into ``RoomManager``. Each open document's file is polled (``file_poll_interval_s``)
and, where the server has them, filesystem notifications call ``file_changed`` sooner. The
server tells the manager what the contents API did: a deletion (``files_deleted``), a save
(``refresh_paths`` for the saved file's id) or a rename (``files_moved``). Each touches
only the rooms of the files concerned, found by file id or by path in ``RoomTable``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from ..files.backend import FileBackend
from ..files.binding import FileBinding
from ..ids import RoomId
from ..settings import CollabSettings
from ..store import ServerStore
from ..sync.close_codes import CloseCode
from .heap import HeapTrimmer
from .room_table import RoomEntry, RoomTable

log = logging.getLogger(__name__)

# A file missing at this many checks in a row is taken as deleted (a `git checkout` may
# remove and re-create it in between two checks).
MISSING_CHECKS_BEFORE_DELETED = 2


# A file modified this recently is read again once even if its (modification time, size)
# did not change: filesystems stamp times at a clock tick (4-10 ms), so a same-size write
# right after our own save could otherwise go unseen.
RECENT_CHANGE_S = 2.0


def _recent(fingerprint: tuple[Any, ...]) -> bool:
    """Whether a fingerprint's modification time is within ``RECENT_CHANGE_S`` of now."""
    stamp = fingerprint[0] if fingerprint else None
    if isinstance(stamp, datetime):
        return (datetime.now(UTC) - stamp).total_seconds() < RECENT_CHANGE_S
    return False


class FileWatch(Protocol):
    """Notifications of changes to open files (the server's filesystem watcher)."""

    def watch(self, path: str) -> None:
        """Start reporting changes to the file at ``path``."""

    def unwatch(self, path: str) -> None:
        """Stop reporting changes to the file at ``path``."""


class RoomFiles:
    """What happens to the rooms when their files change, move or go (``RoomManager``)."""

    settings: CollabSettings
    backend: FileBackend
    store: ServerStore
    heap: HeapTrimmer
    file_watch: FileWatch | None
    _entries: RoomTable

    def _follow_file(self, entry: RoomEntry, binding: FileBinding) -> None:
        """Start watching a newly opened document's file."""
        entry.tasks.append(asyncio.create_task(self._watch_file(entry, binding)))
        entry.watched_path = binding.path
        if self.file_watch is not None:
            self.file_watch.watch(binding.path)

    async def _watch_file(self, entry: RoomEntry, binding: FileBinding) -> None:
        """Poll the file for changes made outside Huddle (filesystem notifications, when
        the server has them, call ``file_changed`` sooner)."""
        last = await self.backend.fingerprint(binding.path)
        verified = None  # a recent fingerprint already read again once
        missing = 0
        while True:
            await asyncio.sleep(self.settings.file_poll_interval_s)
            current = await self.backend.fingerprint(binding.path)
            if current is not None and current == last:
                missing = 0
                if current == verified or not _recent(current):
                    continue
                verified = current  # once per fingerprint, after its clock tick passed
            last = current
            if await binding.check_disk():
                missing = 0
                continue
            missing += 1
            if missing >= MISSING_CHECKS_BEFORE_DELETED:
                await self.file_deleted(entry.room.id)
                return

    def _unwatch(self, entry: RoomEntry) -> None:
        if self.file_watch is not None and entry.watched_path is not None:
            self.file_watch.unwatch(entry.watched_path)
            entry.watched_path = None

    async def file_changed(self, path: str) -> None:
        """A file changed on disk (a filesystem notification): merge it into its rooms."""
        for entry in self._entries.bound_at(path):
            binding = entry.binding
            if binding is not None and not await binding.check_disk():
                log.info("%s is gone; waiting for the next check to confirm", path)

    async def file_deleted(self, room_id: RoomId) -> None:
        """Close a deleted file's room; keep its history for ``deleted_retention_days``."""
        entry = self._entries.pop(room_id)
        if entry is None or entry.binding is None:
            return
        binding = entry.binding
        self._unwatch(entry)
        log.warning("%s was deleted: closing its room; its history is kept for %s days",
                    binding.path, self.settings.deleted_retention_days)
        for task in entry.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if entry.history is not None:
            await entry.history.close()
        await self.store.put_record(replace(binding.record, deleted_at=time.time()))
        for peer in list(entry.room.peers.values()):
            peer.close(CloseCode.GONE, f"the file was deleted: {binding.path}")
        await binding.close()
        await entry.room.__aexit__(None, None, None)
        self.heap.released(entry.room.forget_caches())

    async def files_deleted(self, path: str) -> None:
        """The contents API deleted ``path`` (a file or a folder)."""
        for entry in self._entries.bound_at(path, inside=True):
            await self.file_deleted(entry.room.id)

    async def refresh_paths(self, file_id: str) -> None:
        """The file with this id may have moved (the contents API saved or renamed it):
        the rooms that hold it follow it to its current path. Other rooms are not asked."""
        await self._refresh(self._entries.for_file(file_id))

    async def files_moved(self, source_path: str, file_id: str | None) -> None:
        """The contents API renamed ``source_path`` (a file, or a folder and every file in
        it). The rooms of the files that were there follow them, and so do the rooms of
        ``file_id``, the id now at the new path (in case a room had already followed it
        from somewhere else)."""
        moved = self._entries.bound_at(source_path, inside=True)
        if file_id is not None:
            moved += [e for e in self._entries.for_file(file_id) if e not in moved]
        await self._refresh(moved)

    async def _refresh(self, entries: list[RoomEntry]) -> None:
        for entry in entries:
            if entry.binding is not None:
                await entry.binding.refresh_path()
                self._rewatch(entry, entry.binding)

    def _rewatch(self, entry: RoomEntry, binding: FileBinding) -> None:
        """The file moved: notifications follow it (else only polling would see changes)."""
        if self.file_watch is None or entry.watched_path in (None, binding.path):
            return
        self._unwatch(entry)
        self.file_watch.watch(binding.path)
        entry.watched_path = binding.path
