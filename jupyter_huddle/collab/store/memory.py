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
        pass

    async def stop(self) -> None:
        pass

    async def record(self, key: str) -> DocumentRecord | None:
        return self.records.get(key)

    async def put_record(self, record: DocumentRecord) -> None:
        self.records[record.key] = record

    async def load(self, key: str) -> StoredHistory | None:
        record = self.records.get(key)
        if record is None:
            return None
        return StoredHistory(record, list(self.updates.get(key, [])))

    def append(self, key: str, update: bytes) -> None:
        self.updates.setdefault(key, []).append(update)

    async def flush(self) -> None:
        pass

    async def compact(self, key: str, state: bytes) -> None:
        self.updates[key] = [state]

    async def delete(self, key: str) -> None:
        self.records.pop(key, None)
        self.updates.pop(key, None)

    async def purge_deleted(self, older_than: float) -> int:
        doomed = [k for k, r in self.records.items()
                  if r.deleted_at is not None and r.deleted_at < older_than]
        for key in doomed:
            await self.delete(key)
        return len(doomed)

    async def values(self, namespace: str) -> dict[str, str]:
        return dict(self.kv.get(namespace, {}))

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        if value is None:
            self.kv.get(namespace, {}).pop(key, None)
        else:
            self.kv.setdefault(namespace, {})[key] = value

    def mark(self, key: str, **changes: object) -> None:
        """Test helper: change a record in place."""
        self.records[key] = replace(self.records[key], **changes)  # type: ignore[arg-type]
