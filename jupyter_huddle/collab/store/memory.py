"""An in-memory store with the same behaviour as the SQLite one, for unit tests."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from .base import DocumentRecord, NewVersion, StoredHistory, VersionRow


class MemoryStore:
    """The store's in-memory twin: for tests, ``store_path = ":memory:"``, and the fallback
    when the configured store cannot be opened. Nothing survives the process."""

    def __init__(self) -> None:
        self.records: dict[str, DocumentRecord] = {}
        self.updates: dict[str, list[bytes]] = {}
        self.kv: dict[str, dict[str, str]] = {}
        # key -> version id -> (row, manifest, refs); blobs shared by every version.
        self.version_rows: dict[str, dict[str, tuple[VersionRow, bytes, frozenset[str]]]] = {}
        self.version_blobs: dict[str, bytes] = {}

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
        """``UpdateLog.delete``: the record, the log and the versions."""
        self.records.pop(key, None)
        self.updates.pop(key, None)
        await self.delete_versions(key, list(self.version_rows.get(key, {})))
        for namespace in [ns for ns in self.kv if ns.endswith(f":{key}")]:
            del self.kv[namespace]  # tables kept per document ("<name>:<document key>")

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

    async def add_version(self, version: NewVersion) -> None:
        """``VersionTable.add_version``."""
        for digest in version.refs:
            if digest not in self.version_blobs and digest in version.blobs:
                self.version_blobs[digest] = version.blobs[digest]
        self.version_rows.setdefault(version.row.key, {})[version.row.id] = (
            version.row, version.manifest, version.refs)

    async def versions(self, key: str) -> list[VersionRow]:
        """``VersionTable.versions``: oldest first."""
        rows = [row for row, _, _ in self.version_rows.get(key, {}).values()]
        return sorted(rows, key=lambda row: row.id)

    async def manifest(self, key: str, version_id: str) -> bytes | None:
        """``VersionTable.manifest``."""
        entry = self.version_rows.get(key, {}).get(version_id)
        return None if entry is None else entry[1]

    async def blobs(self, hashes: Collection[str]) -> dict[str, bytes]:
        """``VersionTable.blobs``."""
        return {h: self.version_blobs[h] for h in hashes if h in self.version_blobs}

    async def name_version(self, key: str, version_id: str, name: str | None) -> bool:
        """``VersionTable.name_version``."""
        entries = self.version_rows.get(key, {})
        if version_id not in entries:
            return False
        row, manifest, refs = entries[version_id]
        entries[version_id] = (replace(row, name=name), manifest, refs)
        return True

    async def delete_versions(self, key: str, version_ids: Collection[str]) -> None:
        """``VersionTable.delete_versions``: and the blobs nothing refers to any more."""
        entries = self.version_rows.get(key, {})
        dropped: set[str] = set()
        for version_id in version_ids:
            entry = entries.pop(version_id, None)
            if entry is not None:
                dropped |= entry[2]
        if not entries:
            self.version_rows.pop(key, None)
        still = {h for rows in self.version_rows.values() for _, _, refs in rows.values()
                 for h in refs}
        for digest in dropped - still:
            self.version_blobs.pop(digest, None)

    def mark(self, key: str, **changes: object) -> None:
        """Test helper: change a record in place."""
        self.records[key] = replace(self.records[key], **changes)  # type: ignore[arg-type]
