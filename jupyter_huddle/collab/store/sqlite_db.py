"""The SQLite database file behind ``SQLiteStore``: schema, opening, the SQL of each
queued operation, of each read, and of committing a batch."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiosqlite

from .base import DocumentRecord
from .queue import Op
from .sqlite_versions import forget_versions

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS versions (
    doc_key TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    info TEXT NOT NULL,
    manifest BLOB NOT NULL,
    PRIMARY KEY (doc_key, id)
);
CREATE TABLE IF NOT EXISTS version_refs (
    doc_key TEXT NOT NULL,
    id TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS version_refs_by_version ON version_refs (doc_key, id);
CREATE INDEX IF NOT EXISTS version_refs_by_hash ON version_refs (hash);
CREATE TABLE IF NOT EXISTS version_blobs (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (ns, key)
);
"""


class BrokenStore(Exception):
    """The file exists but cannot be used as this schema version."""


async def open_database(path: Path, *, check: bool) -> tuple[aiosqlite.Connection, bool]:
    """The database at ``path`` (its folder created if needed), and whether it was created
    just now (empty).

    Raises:
        BrokenStore: the file is from another schema, or (``check``) damaged.
        sqlite3.Error, OSError: it cannot be opened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path)
    try:
        fresh = await _prepare(db, check=check)
    except BaseException:
        await db.close()
        raise
    return db, fresh


async def _prepare(db: aiosqlite.Connection, *, check: bool) -> bool:
    # WAL + synchronous=NORMAL: a commit survives the process being killed (it is in
    # the WAL), at a fraction of the cost of a full fsync per transaction.
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    version = await scalar(db, "PRAGMA user_version")
    tables = await scalar(db, "SELECT count(*) FROM sqlite_master WHERE type='table'")
    if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
        raise BrokenStore(f"schema version {version}, expected {SCHEMA_VERSION}")
    if check:  # reads the whole file: at start, not on every reconnection
        result = await scalar(db, "PRAGMA quick_check")
        if result != "ok":
            raise BrokenStore(f"integrity check failed: {result}")
    await db.executescript(_SCHEMA)
    await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    await db.commit()
    return not tables


def move_aside(path: Path) -> Path:
    """Rename the database (and its WAL) out of the way; the new name."""
    aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            source.rename(Path(str(aside) + suffix))
    return aside


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None if there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


async def read_values(db: aiosqlite.Connection) -> dict[str, dict[str, str]]:
    """Every namespace of the kv table."""
    values: dict[str, dict[str, str]] = {}
    async with db.execute("SELECT ns, key, value FROM kv") as cursor:
        async for ns, key, value in cursor:
            values.setdefault(str(ns), {})[str(key)] = str(value)
    return values


async def apply(db: aiosqlite.Connection, op: Op, now: float) -> Any:
    """Run one queued operation inside the writer's transaction; its result."""
    if op.kind == "append":
        await db.execute("INSERT INTO updates (doc_key, data) VALUES (?, ?)", (op.key, op.data))
    elif op.kind == "record" and op.record is not None:
        r = op.record
        await db.execute(
            "INSERT OR REPLACE INTO documents (doc_key, epoch, saved_hash, path, saved_digest,"
            " deleted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (r.key, r.epoch, r.saved_hash, r.path, r.saved_digest, r.deleted_at, now))
    elif op.kind == "compact":
        await db.execute("DELETE FROM updates WHERE doc_key = ?", (op.key,))
        await db.execute("INSERT INTO updates (doc_key, data) VALUES (?, ?)", (op.key, op.data))
    elif op.kind == "delete":
        await _forget(db, op.key)
    elif op.kind == "value":
        if op.value is None:
            await db.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (op.namespace, op.key))
        else:
            await db.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)",
                             (op.namespace, op.key, op.value))
    elif op.kind == "write" and op.write is not None:
        return await op.write(db)
    elif op.kind == "purge":
        cursor = await db.execute(
            "SELECT doc_key FROM documents WHERE deleted_at IS NOT NULL AND deleted_at < ?",
            (op.cutoff,))
        keys = [row[0] for row in await cursor.fetchall()]
        for key in keys:
            await _forget(db, key)
        return len(keys)
    return None


async def _forget(db: aiosqlite.Connection, key: str) -> None:
    await db.execute("DELETE FROM updates WHERE doc_key = ?", (key,))
    await db.execute("DELETE FROM documents WHERE doc_key = ?", (key,))
    await forget_versions(db, key, None)
    # Tables kept per document ("<name>:<document key>", e.g. who last saw which version)
    await db.execute("DELETE FROM kv WHERE length(ns) > length(?) AND "
                     "substr(ns, -length(?) - 1) = ':' || ?", (key, key, key))


async def scalar(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row ``sql`` returns, or None."""
    async with db.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return row[0] if row else None


async def read_record(db: aiosqlite.Connection, key: str) -> DocumentRecord | None:
    """A document's record as committed (None if there is none)."""
    async with db.execute(
        "SELECT epoch, saved_hash, path, saved_digest, deleted_at FROM documents "
        "WHERE doc_key = ?", (key,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else DocumentRecord(key, row[0], row[1], row[2], row[3], row[4])


async def read_updates(db: aiosqlite.Connection, key: str) -> list[bytes]:
    """A document's committed log, oldest first."""
    async with db.execute(
        "SELECT data FROM updates WHERE doc_key = ? ORDER BY seq", (key,)
    ) as cursor:
        return [bytes(row[0]) async for row in cursor]


async def commit_batch(db: aiosqlite.Connection, batch: list[Op]) -> list[Any]:
    """Apply a batch of operations in one transaction; each one's result, in order.

    Raises:
        sqlite3.Error, OSError, ValueError: the transaction failed (it was rolled back).
    """
    results: list[Any] = []
    now = time.time()
    try:
        for op in batch:
            results.append(await apply(db, op, now))
        await db.commit()
    except BaseException:
        # the connection itself may be gone: then there is nothing to roll back
        with contextlib.suppress(sqlite3.Error, OSError, ValueError):
            await db.rollback()
        raise
    return results
