"""The SQL of recorded versions (``VersionTable``) in the SQLite store.

A version is a row, a manifest, and references to content-addressed blobs shared by every
version (and every document) holding the same content: a version that changes one cell
stores one new blob. Writes run inside the store's writer transaction (``Op("write")``);
a blob is deleted in the same transaction as the last version that referred to it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import aiosqlite

from .base import NewVersion, VersionRow

# SQLite's default limit on host parameters is 999 (older builds); stay well under it.
_CHUNK = 500


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


async def insert_version(db: aiosqlite.Connection, version: NewVersion) -> None:
    """Store a version's row, references and new blobs (in the caller's transaction)."""
    row = version.row
    await db.executemany("INSERT OR IGNORE INTO version_blobs (hash, data) VALUES (?, ?)",
                         [(h, data) for h, data in version.blobs.items() if h in version.refs])
    await db.execute(
        "INSERT OR REPLACE INTO versions (doc_key, id, created_at, kind, name, info, manifest)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row.key, row.id, row.created_at, row.kind, row.name, row.info, version.manifest))
    await db.execute("DELETE FROM version_refs WHERE doc_key = ? AND id = ?", (row.key, row.id))
    await db.executemany("INSERT INTO version_refs (doc_key, id, hash) VALUES (?, ?, ?)",
                         [(row.key, row.id, h) for h in sorted(version.refs)])


async def rename_version(db: aiosqlite.Connection, key: str, version_id: str,
                         name: str | None) -> bool:
    """Set or clear a version's name; False if there is no such version."""
    cursor = await db.execute("UPDATE versions SET name = ? WHERE doc_key = ? AND id = ?",
                              (name, key, version_id))
    return cursor.rowcount > 0


async def forget_versions(db: aiosqlite.Connection, key: str,
                          version_ids: Collection[str] | None) -> None:
    """Delete versions of ``key`` (all of them with None) and the blobs nothing else
    refers to."""
    if version_ids is None:
        async with db.execute("SELECT id FROM versions WHERE doc_key = ?", (key,)) as cursor:
            version_ids = [str(row[0]) async for row in cursor]
    ids = sorted(version_ids)
    hashes: set[str] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        async with db.execute(
                f"SELECT hash FROM version_refs WHERE doc_key = ? AND id IN ({marks})",
                (key, *chunk)) as cursor:
            hashes.update([str(row[0]) async for row in cursor])
        await db.execute(f"DELETE FROM version_refs WHERE doc_key = ? AND id IN ({marks})",
                         (key, *chunk))
        await db.execute(f"DELETE FROM versions WHERE doc_key = ? AND id IN ({marks})",
                         (key, *chunk))
    await db.executemany(
        "DELETE FROM version_blobs WHERE hash = ? AND NOT EXISTS "
        "(SELECT 1 FROM version_refs WHERE hash = ?)", [(h, h) for h in sorted(hashes)])


async def read_versions(db: aiosqlite.Connection, key: str) -> list[VersionRow]:
    """Every version of ``key``, oldest first, without manifests."""
    async with db.execute(
            "SELECT id, created_at, kind, name, info FROM versions WHERE doc_key = ? "
            "ORDER BY id", (key,)) as cursor:
        return [VersionRow(key, str(r[0]), float(r[1]), str(r[2]), r[3], str(r[4]))
                async for r in cursor]


async def read_manifest(db: aiosqlite.Connection, key: str, version_id: str) -> bytes | None:
    """One version's manifest, or None."""
    async with db.execute("SELECT manifest FROM versions WHERE doc_key = ? AND id = ?",
                          (key, version_id)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else bytes(row[0])


async def read_blobs(db: aiosqlite.Connection, hashes: Collection[str]) -> dict[str, bytes]:
    """The stored blobs among ``hashes``."""
    found: dict[str, bytes] = {}
    for chunk in _chunks(sorted(set(hashes))):
        marks = ",".join("?" * len(chunk))
        async with db.execute(f"SELECT hash, data FROM version_blobs WHERE hash IN ({marks})",
                              tuple(chunk)) as cursor:
            rows: Any = await cursor.fetchall()
        found.update((str(h), bytes(data)) for h, data in rows)
    return found
