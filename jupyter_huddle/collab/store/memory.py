"""An in-memory store with the same behaviour as the SQLite one, for unit tests."""

from __future__ import annotations

from dataclasses import replace

from .base import DocumentRecord, StoredHistory


class MemoryStore:
    """The store's in-memory twin: for tests, ``store_path = ":memory:"``, and the fallback
    when the configured store cannot be opened. Nothing survives the process."""

    def __init__(self) -> None:
        self.records: dict[str, DocumentRecord] = {}
        self.updates: dict[str, list[bytes]] = {}
        self.kv: dict[str, dict[str, str]] = {}

    async def start(self) -> None:
        """Nothing to open."""
        pass

    async def stop(self) -> None:
        """Nothing to close; the contents stay until the object is dropped."""
        pass

    async def record(self, key: str) -> DocumentRecord | None:
        """``UpdateLog.record``: the record kept under ``key``, or None."""
        return self.records.get(key)

    async def put_record(self, record: DocumentRecord) -> None:
        """``UpdateLog.put_record``: keep ``record`` under its key."""
        self.records[record.key] = record

    async def load(self, key: str) -> StoredHistory | None:
        """``UpdateLog.load``: the record and a copy of its updates; None without a record."""
        record = self.records.get(key)
        if record is None:
            return None
        return StoredHistory(record, list(self.updates.get(key, [])))

    def append(self, key: str, update: bytes) -> None:
        """``UpdateLog.append``: keep the update at once."""
        self.updates.setdefault(key, []).append(update)

    async def flush(self) -> None:
        """``UpdateLog.flush``: nothing is ever pending."""
        pass

    async def compact(self, key: str, state: bytes) -> None:
        """``UpdateLog.compact``: the log becomes ``state`` alone."""
        self.updates[key] = [state]

    async def delete(self, key: str) -> None:
        self.records.pop(key, None)
        self.updates.pop(key, None)

    async def purge_deleted(self, older_than: float) -> int:
        """``UpdateLog.purge_deleted``: drop documents deleted before ``older_than``."""
        doomed = [k for k, r in self.records.items()
                  if r.deleted_at is not None and r.deleted_at < older_than]
        for key in doomed:
            await self.delete(key)
        return len(doomed)

    async def values(self, namespace: str) -> dict[str, str]:
        """``AccessTable.values``: a copy of the values in ``namespace``."""
        return dict(self.kv.get(namespace, {}))

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        """``AccessTable.put_value``: set, or with None remove, one value."""
        if value is None:
            self.kv.get(namespace, {}).pop(key, None)
        else:
            self.kv.setdefault(namespace, {})[key] = value

    def mark(self, key: str, **changes: object) -> None:
        """Test helper: change a record in place."""
        self.records[key] = replace(self.records[key], **changes)  # type: ignore[arg-type]
