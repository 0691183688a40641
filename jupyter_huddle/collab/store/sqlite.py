"""The SQLite update store: one database per server, WAL mode, group commit.

A single writer task owns every write. Appends wait up to ``commit_interval_s`` so that a
burst of keystrokes from many rooms becomes one transaction; operations a caller awaits
(records, compaction, flush) go through the same queue, so everything commits in the order
it was asked for. A database that is unreadable, corrupt or from another schema version is
moved aside (its path logged) and replaced by a fresh one; documents then load from disk
with a new epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreError
from .base import DocumentRecord, StoredHistory, UpdateStore
from .memory import MemoryStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# A burst larger than this commits without waiting for the interval to end.
_MAX_BATCH = 5000
_RETRY_DELAY_S = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_key TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    saved_hash TEXT,
    path TEXT,
    saved_digest TEXT,
    deleted_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_key TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_doc ON updates (doc_key, seq);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (ns, key)
);
"""


class _BrokenStore(Exception):
    """The file exists but cannot be used as this schema version."""


@dataclass(eq=False)
class _Op:
    kind: str  # append | record | compact | delete | purge | flush | value
    key: str = ""
    data: bytes = b""
    record: DocumentRecord | None = None
    cutoff: float = 0.0
    done: asyncio.Future[Any] | None = field(default=None)
    namespace: str = ""
    value: str | None = None


class SQLiteStore:
    def __init__(self, path: Path, *, commit_interval_ms: float = 50) -> None:
        self.path = path
        self.commit_interval_s = commit_interval_ms / 1000
        self._db: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        # Set when someone awaits an operation: the writer stops gathering appends.
        self._urgent = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # Figures for benchmarks and tests.
        self.commits = 0
        self.appended = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Raises:
        StoreError: the store cannot be created at all (e.g. its folder is not writable).
        """
        try:
            self._db = await self._open()
        except (_BrokenStore, sqlite3.DatabaseError) as err:
            aside = self._move_aside(str(err))
            log.error("update store %s is unusable (%s); moved it to %s and started a new "
                      "one: documents load from their files", self.path, err, aside)
            try:
                self._db = await self._open()
            except (sqlite3.Error, OSError) as again:
                raise StoreError(f"cannot create the update store {self.path}: {again}") from again
        except OSError as err:
            raise StoreError(f"cannot open the update store {self.path}: {err}") from err
        self._writer = asyncio.create_task(self._write_loop())

    async def _open(self) -> aiosqlite.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        try:
            await self._prepare(db)
        except BaseException:
            await db.close()
            raise
        return db

    async def _prepare(self, db: aiosqlite.Connection) -> None:
        # WAL + synchronous=NORMAL: a commit survives the process being killed (it is in
        # the WAL), at a fraction of the cost of a full fsync per transaction.
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        version = await _scalar(db, "PRAGMA user_version")
        tables = await _scalar(db, "SELECT count(*) FROM sqlite_master WHERE type='table'")
        if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
            raise _BrokenStore(f"schema version {version}, expected {SCHEMA_VERSION}")
        check = await _scalar(db, "PRAGMA quick_check")
        if check != "ok":
            raise _BrokenStore(f"integrity check failed: {check}")
        await db.executescript(_SCHEMA)
        await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await db.commit()

    def _move_aside(self, why: str) -> Path:
        aside = self.path.with_name(f"{self.path.name}.broken-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                source.rename(Path(str(aside) + suffix))
        return aside

    async def stop(self) -> None:
        if self._writer is not None:
            await self.flush()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    # --- reads ------------------------------------------------------------------------------

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the update store is not open")
        return self._db

    async def record(self, key: str) -> DocumentRecord | None:
        async with self.db.execute(
            "SELECT epoch, saved_hash, path, saved_digest, deleted_at FROM documents "
            "WHERE doc_key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return DocumentRecord(key, row[0], row[1], row[2], row[3], row[4])

    async def load(self, key: str) -> StoredHistory | None:
        await self.flush()
        record = await self.record(key)
        if record is None:
            return None
        async with self.db.execute(
            "SELECT data FROM updates WHERE doc_key = ? ORDER BY seq", (key,)
        ) as cursor:
            updates = [bytes(row[0]) async for row in cursor]
        return StoredHistory(record, updates)

    async def stored_bytes(self, key: str) -> int:
        """Bytes of history kept for a document (for bounds checks and benchmarks)."""
        await self.flush()
        total = await _scalar(self.db, "SELECT coalesce(sum(length(data)), 0) FROM updates "
                                       "WHERE doc_key = ?", (key,))
        return int(total)

    # --- writes (all through the writer task) ---------------------------------------------

    def append(self, key: str, update: bytes) -> None:
        self._queue.put_nowait(_Op("append", key, update))

    async def put_record(self, record: DocumentRecord) -> None:
        await self._submit(_Op("record", record.key, record=record))

    async def compact(self, key: str, state: bytes) -> None:
        await self._submit(_Op("compact", key, state))

    async def delete(self, key: str) -> None:
        await self._submit(_Op("delete", key))

    async def purge_deleted(self, older_than: float) -> int:
        return int(await self._submit(_Op("purge", cutoff=older_than)))

    async def values(self, namespace: str) -> dict[str, str]:
        async with self.db.execute("SELECT key, value FROM kv WHERE ns = ?",
                                   (namespace,)) as cursor:
            return {str(row[0]): str(row[1]) async for row in cursor}

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        await self._submit(_Op("value", key, namespace=namespace, value=value))

    async def flush(self) -> None:
        if self._writer is not None and not self._writer.done():
            await self._submit(_Op("flush"))

    async def _submit(self, op: _Op) -> Any:
        op.done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(op)
        self._urgent.set()
        return await op.done

    async def _write_loop(self) -> None:
        retry: list[_Op] = []
        while True:
            batch = retry or [await self._queue.get()]
            retry = []
            self._drain_into(batch)
            if all(op.done is None for op in batch):
                # Only appends so far: give the burst a moment to grow into one commit,
                # unless someone starts waiting on the store.
                self._urgent.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self.commit_interval_s)
                self._drain_into(batch)
            try:
                results = await self._commit(batch)
            except (sqlite3.Error, OSError) as err:
                log.error("update store %s: commit of %d operations failed, retrying: %s",
                          self.path, len(batch), err)
                retry = batch
                await asyncio.sleep(_RETRY_DELAY_S)
                continue
            for op, result in zip(batch, results, strict=True):
                if op.done is not None and not op.done.done():
                    op.done.set_result(result)

    def _drain_into(self, batch: list[_Op]) -> None:
        while len(batch) < _MAX_BATCH and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _commit(self, batch: list[_Op]) -> list[Any]:
        db = self.db
        results: list[Any] = []
        now = time.time()
        try:
            for op in batch:
                results.append(await self._apply(db, op, now))
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
        self.commits += 1
        return results

    async def _apply(self, db: aiosqlite.Connection, op: _Op, now: float) -> Any:
        if op.kind == "append":
            self.appended += 1
            await db.execute("INSERT INTO updates (doc_key, data) VALUES (?, ?)",
                             (op.key, op.data))
        elif op.kind == "record" and op.record is not None:
            r = op.record
            await db.execute(
                "INSERT OR REPLACE INTO documents (doc_key, epoch, saved_hash, path, saved_digest,"
                " deleted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.key, r.epoch, r.saved_hash, r.path, r.saved_digest, r.deleted_at, now))
        elif op.kind == "compact":
            await db.execute("DELETE FROM updates WHERE doc_key = ?", (op.key,))
            await db.execute("INSERT INTO updates (doc_key, data) VALUES (?, ?)",
                             (op.key, op.data))
        elif op.kind == "delete":
            await db.execute("DELETE FROM updates WHERE doc_key = ?", (op.key,))
            await db.execute("DELETE FROM documents WHERE doc_key = ?", (op.key,))
        elif op.kind == "value":
            if op.value is None:
                await db.execute("DELETE FROM kv WHERE ns = ? AND key = ?",
                                 (op.namespace, op.key))
            else:
                await db.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)",
                                 (op.namespace, op.key, op.value))
        elif op.kind == "purge":
            cursor = await db.execute(
                "SELECT doc_key FROM documents WHERE deleted_at IS NOT NULL AND deleted_at < ?",
                (op.cutoff,))
            keys = [row[0] for row in await cursor.fetchall()]
            for key in keys:
                await db.execute("DELETE FROM updates WHERE doc_key = ?", (key,))
                await db.execute("DELETE FROM documents WHERE doc_key = ?", (key,))
            return len(keys)
        return None


async def _scalar(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> Any:
    async with db.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return row[0] if row else None


async def open_store(path: Path | None, *, commit_interval_ms: float) -> UpdateStore:
    """The server's store: SQLite at ``path``, or in memory when ``path`` is None.

    A store that cannot be opened at all is reported and replaced by a memory store, so the
    server still serves documents (without crash recovery) rather than not at all.
    """
    if path is None:
        return MemoryStore()
    store = SQLiteStore(path, commit_interval_ms=commit_interval_ms)
    try:
        await store.start()
    except StoreError as err:
        log.error("%s; history will not survive a restart", err)
        memory = MemoryStore()
        await memory.start()
        return memory
    return store
