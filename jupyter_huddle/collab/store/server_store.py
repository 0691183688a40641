"""The server's one store: resolved once, handed as the same object to everything.

Rooms, their bindings and the access service (share links, guests, roles) all hold this
object. ``start`` opens the configured store once; if it cannot be opened at all, this
object falls back to a memory store inside itself (logged once), so nobody is left holding
the broken one, and it reports ``durable = False`` for as long as the server runs. A SQLite
store that fails later reports the same, and ``True`` again once it has recovered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from ..errors import StoreError
from .base import DocumentRecord, NewVersion, StoredHistory, UpdateStore, VersionRow
from .memory import MemoryStore
from .restore import Restore
from .sqlite import SQLiteStore

log = logging.getLogger(__name__)

DurabilityListener = Callable[[bool], None]


class ServerStore:
    """The store every user holds (see the module docstring): delegates to the configured
    store, or to the memory fallback, and tells ``listeners`` when durability changes."""

    def __init__(self, configured: UpdateStore) -> None:
        self._active: UpdateStore = configured
        self._started: asyncio.Task[None] | None = None
        # Why the configured store is not in use (it could not be opened), or None.
        self.fallback_reason: str | None = None
        # Told ``durable`` each time it changes (the store failed, or recovered).
        self.listeners: list[DurabilityListener] = []
        if isinstance(configured, SQLiteStore):
            configured.on_durability = self._tell

    @property
    def active(self) -> UpdateStore:
        """The store in use: the configured one, or the memory fallback."""
        return self._active

    @property
    def durable(self) -> bool:
        """Whether history is being kept as configured (for a memory store asked for as
        such, nothing more is promised, so it counts as durable)."""
        if self.fallback_reason is not None:
            return False
        return not isinstance(self._active, SQLiteStore) or self._active.durable

    @property
    def restore(self) -> Restore | None:
        """Who rewrites a document's whole log after a failure (SQLite only; None otherwise)."""
        return self._active.restore if isinstance(self._active, SQLiteStore) else None

    @restore.setter
    def restore(self, hook: Restore | None) -> None:
        """Who rewrites a document's whole log from its live copy after a failure."""
        if isinstance(self._active, SQLiteStore):
            self._active.restore = hook

    def _tell(self, durable: bool) -> None:
        for listener in list(self.listeners):
            listener(durable)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the configured store, once (later calls wait for the first)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        try:
            await self._active.start()
        except StoreError as err:
            log.error("%s; keeping history in memory: it will not survive a restart, and "
                      "clients are told it is not durable", err)
            self.fallback_reason = str(err)
            self._active = MemoryStore()
            await self._active.start()
            self._tell(False)

    async def stop(self) -> None:
        """Close the store in use."""
        await self._active.stop()

    # --- the store interface, delegated -----------------------------------------------------

    async def record(self, key: str) -> DocumentRecord | None:
        """``UpdateLog.record``, from the store in use."""
        return await self._active.record(key)

    async def put_record(self, record: DocumentRecord) -> None:
        """``UpdateLog.put_record``, to the store in use."""
        await self._active.put_record(record)

    async def load(self, key: str) -> StoredHistory | None:
        """``UpdateLog.load``, from the store in use."""
        return await self._active.load(key)

    def append(self, key: str, update: bytes) -> None:
        """``UpdateLog.append``, to the store in use."""
        self._active.append(key, update)

    async def flush(self) -> None:
        """``UpdateLog.flush``, on the store in use."""
        await self._active.flush()

    async def compact(self, key: str, state: bytes) -> None:
        """``UpdateLog.compact``, on the store in use."""
        await self._active.compact(key, state)

    async def delete(self, key: str) -> None:
        """``UpdateLog.delete``, on the store in use."""
        await self._active.delete(key)

    async def purge_deleted(self, older_than: float) -> int:
        """``UpdateLog.purge_deleted``, on the store in use."""
        return await self._active.purge_deleted(older_than)

    async def values(self, namespace: str) -> dict[str, str]:
        """``AccessTable.values``, from the store in use."""
        return await self._active.values(namespace)

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        """``AccessTable.put_value``, to the store in use."""
        await self._active.put_value(namespace, key, value)

    async def add_version(self, version: NewVersion) -> None:
        """``VersionTable.add_version``, to the store in use."""
        await self._active.add_version(version)

    async def versions(self, key: str) -> list[VersionRow]:
        """``VersionTable.versions``, from the store in use."""
        return await self._active.versions(key)

    async def manifest(self, key: str, version_id: str) -> bytes | None:
        """``VersionTable.manifest``, from the store in use."""
        return await self._active.manifest(key, version_id)

    async def blobs(self, hashes: Collection[str]) -> dict[str, bytes]:
        """``VersionTable.blobs``, from the store in use."""
        return await self._active.blobs(hashes)

    async def name_version(self, key: str, version_id: str, name: str | None) -> bool:
        """``VersionTable.name_version``, on the store in use."""
        return await self._active.name_version(key, version_id, name)

    async def delete_versions(self, key: str, version_ids: Collection[str]) -> None:
        """``VersionTable.delete_versions``, on the store in use."""
        await self._active.delete_versions(key, version_ids)
