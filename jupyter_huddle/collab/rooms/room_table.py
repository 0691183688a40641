"""The open rooms of a server, by room id and by file id.

A file is open at most twice (as a notebook and as text), so its rooms are found in one
step by its file id, which never changes while the room is open. Paths do change under an
open room (a rename is followed when the file id service reports it, see
``FileBinding.refresh_path``), so lookups by path read each binding's current path
instead of keeping a second index that could go stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..files.binding import FileBinding
from ..history import HistoryRecorder
from ..ids import DocumentRoomId, RoomId
from ..sync.room import Room


@dataclass(eq=False)
class RoomEntry:
    """One open room and what the manager keeps for it."""

    room: Room
    binding: FileBinding | None
    # The history this room's document belongs to; clients prove theirs with the session
    # id they were given for it (see ``RoomManager.session_for``).
    epoch: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    eviction: asyncio.Task[None] | None = None
    # The path registered with the file watcher (renames do not re-register).
    watched_path: str | None = None
    # Work in progress on the document without any peer (a cell running for a closed
    # tab): the room is not evicted while leased.
    leases: int = 0
    idle_since: float | None = None
    # The notebook's version history while the room is open.
    history: HistoryRecorder | None = None


class RoomTable:
    """The open rooms: by room id, and by file id for the rooms of one file."""

    def __init__(self) -> None:
        self._by_id: dict[RoomId, RoomEntry] = {}
        self._by_file: dict[str, list[RoomEntry]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[RoomId]:
        return iter(self._by_id)

    def get(self, room_id: RoomId) -> RoomEntry | None:
        """The room's entry if it is open."""
        return self._by_id.get(room_id)

    def values(self) -> list[RoomEntry]:
        """Every open room's entry, in the order they opened (a copy: safe to close
        rooms while walking it)."""
        return list(self._by_id.values())

    def add(self, entry: RoomEntry) -> None:
        """A room opened."""
        room_id = entry.room.id
        self._by_id[room_id] = entry
        if isinstance(room_id, DocumentRoomId):
            self._by_file.setdefault(room_id.file_id, []).append(entry)

    def pop(self, room_id: RoomId) -> RoomEntry | None:
        """Forget a room; None if it was not open."""
        entry = self._by_id.pop(room_id, None)
        if entry is not None and isinstance(room_id, DocumentRoomId):
            same_file = self._by_file[room_id.file_id]
            same_file.remove(entry)
            if not same_file:
                del self._by_file[room_id.file_id]
        return entry

    def for_file(self, file_id: str) -> list[RoomEntry]:
        """The open rooms of one file (at most one per document kind)."""
        return list(self._by_file.get(file_id, ()))

    def bound_at(self, path: str, *, inside: bool = False) -> list[RoomEntry]:
        """The open documents whose file is ``path`` now, or with ``inside`` also those
        in the folder ``path`` (what a folder's rename or deletion moves)."""
        folder = path.rstrip("/") + "/"
        found = []
        for entry in self._by_id.values():
            at = entry.binding.path if entry.binding is not None else None
            if at is not None and (at == path or (inside and at.startswith(folder))):
                found.append(entry)
        return found
