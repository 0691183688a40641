"""The SQLite update store: one database per server, WAL mode, group commit.

A single writer task owns every write. Appends wait up to ``commit_interval_s`` so that a
burst of keystrokes from many rooms becomes one transaction; operations a caller awaits
(records, compaction, flush) go through the same queue, so everything commits in the order
it was asked for. A database that is unreadable, corrupt or from another schema version is
moved aside (its path logged) and replaced by a fresh one; documents then load from disk
with a new epoch.

A database that fails while the server runs (a commit error, a full disk, its file removed
or replaced) never stops edits or saves: appends never wait, awaited writes return once
queued, and the queue is bounded (``queue.WriteQueue``: a document whose writes do not fit
loses them from its log, which stays a consistent prefix). The store reports itself not
``durable`` and retries, reopening the file, after ``retry_delay_s`` doubling up to 30 s.
Once a commit works again, every document whose log lost writes is restored
(``restore.Restorer``); then it is durable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreError
from .base import DocumentRecord, NewVersion, StoredHistory, VersionRow
from .queue import DOCUMENT_KINDS, LOG_KINDS, Op, WriteQueue
from .restore import Restore, Restorer
from .sqlite_db import (
    BrokenStore,
    commit_batch,
    file_identity,
    move_aside,
    open_database,
    read_record,
    read_updates,
    read_values,
    scalar,
)
from .sqlite_versions import (
    forget_versions,
    insert_version,
    read_blobs,
    read_manifest,
    read_versions,
    rename_version,
)

log = logging.getLogger(__name__)

# A burst larger than this commits without waiting for the interval to end.
_MAX_BATCH = 5000
_RETRY_DELAY_S = 1.0
_MAX_RETRY_DELAY_S = 30.0
# Retries on the same connection before it is opened again anyway.
_REOPEN_EVERY = 4
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
# What a failing database raises (aiosqlite: ValueError on a closed connection).
_FAILURES = (sqlite3.Error, OSError, StoreError, ValueError)


class SQLiteStore:
    """The durable store: one SQLite database (WAL), written by one task in batches at most
    ``commit_interval_ms`` apart through a bounded queue; survives its file failing (see
    the module docstring)."""

    def __init__(self, path: Path, *, commit_interval_ms: float = 50,
                 max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
                 retry_delay_s: float = _RETRY_DELAY_S) -> None:
        self.path = path
        self.commit_interval_s = commit_interval_ms / 1000
        self.retry_delay_s = retry_delay_s
        self._db: aiosqlite.Connection | None = None
        # (device, inode) of the file opened: a removed or replaced file is a failure.
        self._file: tuple[int, int] | None = None
        self._queue = WriteQueue(max_queue_bytes)
        self._wake = asyncio.Event()
        # Set when someone awaits an operation: the writer stops gathering appends.
        self._urgent = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # A batch whose commit failed, retried before anything else.
        self._retry: list[Op] = []
        self._failing: str | None = None
        self._delay_s = retry_delay_s
        self._attempts = 0
        # Records written but not committed yet (None: deleted), read before the database.
        self._records: dict[str, DocumentRecord | None] = {}
        # Documents whose latest record is held back while the database fails: queued
        # once it writes again, behind the log entries written before it.
        self._held: set[str] = set()
        # Share links, roles, guests: small, read once, kept here (and rewritten into an
        # empty database that replaced a removed one).
        self._kv: dict[str, dict[str, str]] = {}
        # Documents written since the start: their logs are lost if the file is.
        self._known: set[str] = set()
        # A reconnection is never cancelled half-way (it would leak the connection).
        self._reopening: asyncio.Future[None] | None = None
        self._reported = True
        self.restorer = Restorer(self._queue, self.delete, self._report)
        # Told whenever ``durable`` changes.
        self.on_durability: Callable[[bool], None] | None = None
        # Figures for benchmarks and tests.
        self.commits = 0
        self.appended = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Raises:
        StoreError: the store cannot be created at all (e.g. its folder is not writable).
        """
        try:
            self._db, _ = await self._open(check=True)
        except (BrokenStore, sqlite3.DatabaseError) as err:
            aside = move_aside(self.path)
            log.error("update store %s is unusable (%s); moved it to %s and started a new "
                      "one: documents load from their files", self.path, err, aside)
            try:
                self._db, _ = await self._open(check=True)
            except (sqlite3.Error, OSError) as again:
                raise StoreError(f"cannot create the update store {self.path}: {again}") from again
        except OSError as err:
            raise StoreError(f"cannot open the update store {self.path}: {err}") from err
        try:
            self._kv = await read_values(self._db)
        except sqlite3.Error as err:
            await self.stop()
            raise StoreError(f"cannot read the update store {self.path}: {err}") from err
        self._writer = asyncio.create_task(self._write_loop())

    async def _open(self, *, check: bool) -> tuple[aiosqlite.Connection, bool]:
        db, fresh = await open_database(self.path, check=check)
        self._file = file_identity(self.path)
        return db, fresh

    async def stop(self) -> None:
        """Commit what is queued, stop the writer and any log rewrite, and close the database.

        Writes that could not be committed by then are logged as lost.
        """
        if self._writer is not None:
            await self.flush()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            await self.restorer.stop()
            if self._reopening is not None:
                await asyncio.gather(self._reopening, return_exceptions=True)
            self._writer = None
            lost = len(self._queue) + len(self._retry)
            if lost or self._queue.tainted:
                log.error("update store %s: %d writes could not be committed before "
                          "shutdown; the history of %d documents is incomplete", self.path,
                          lost, len(self._queue.tainted))
            for op in self._retry:
                op.release()
            self._queue.release_all()
        if self._db is not None:
            with contextlib.suppress(*_FAILURES):
                await self._db.close()
            self._db = None

    # --- durability -----------------------------------------------------------------------

    @property
    def durable(self) -> bool:
        """Every write so far is committed or on its way, and every log is complete."""
        return (self._failing is None and not self._queue.tainted
                and not self.restorer.running)

    @property
    def restore(self) -> Restore | None:
        """Who rewrites a document's whole log from its live copy (the room manager)."""
        return self.restorer.hook

    @restore.setter
    def restore(self, hook: Restore | None) -> None:
        """Who rewrites a document's whole log from its live copy (the room manager)."""
        self.restorer.hook = hook

    @property
    def queued_bytes(self) -> int:
        """Bytes of writes held in memory, waiting for the database."""
        return self._queue.bytes

    def _report(self) -> None:
        durable = self.durable
        if not durable:
            self._restore_if_due()
        if durable == self._reported:
            return
        self._reported = durable
        if durable:
            log.warning("update store %s: history is durable again", self.path)
        elif self._failing is None:
            log.warning("update store %s: history is not durable: the logs of %d documents "
                        "lost writes (the write queue was full at %d bytes, or a read "
                        "failed); they are rewritten whole as soon as possible", self.path,
                        len(self._queue.tainted), self._queue.bytes)
        if self.on_durability is not None:
            self.on_durability(durable)

    def _restore_if_due(self) -> None:
        if self._failing is None and self._writer is not None and not self._writer.done():
            self.restorer.start(self.retry_delay_s)

    # --- reads ------------------------------------------------------------------------------

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection.

        Raises:
            StoreError: the store is not open.
        """
        if self._db is None:
            raise StoreError("the update store is not open")
        return self._db

    async def record(self, key: str) -> DocumentRecord | None:
        """``UpdateLog.record``: cached, else read (None if absent or unreadable)."""
        if key in self._records:
            return self._records[key]
        try:
            return await read_record(self.db, key)
        except _FAILURES as err:
            self._unreadable(key, err)
            return None

    async def load(self, key: str) -> StoredHistory | None:
        """The stored history; ``complete`` False when the log lost writes, or has writes
        not committed yet (the database is failing): the document then starts anew."""
        await self.flush()
        record = await self.record(key)
        if record is None:
            return None
        if key in self._queue.tainted or self._has_log(key):
            return StoredHistory(record, [], complete=False)
        try:
            updates = await read_updates(self.db, key)
        except _FAILURES as err:
            self._unreadable(key, err)
            return StoredHistory(record, [], complete=False)
        return StoredHistory(record, updates)

    def _has_log(self, key: str) -> bool:
        return self._queue.has_log(key) or any(
            op.key == key and op.kind in LOG_KINDS for op in self._retry)

    def _unreadable(self, key: str, err: BaseException) -> None:
        log.error("cannot read the history of %s from %s (%s): it starts again from its "
                  "file", key, self.path, err)
        self._queue.taint(key)
        self._report()

    async def stored_bytes(self, key: str) -> int:
        """Bytes of history kept for a document (for bounds checks and benchmarks)."""
        await self.flush()
        total = await scalar(self.db, "SELECT coalesce(sum(length(data)), 0) FROM updates "
                                       "WHERE doc_key = ?", (key,))
        return int(total)

    async def values(self, namespace: str) -> dict[str, str]:
        """``AccessTable.values``: a copy of ``namespace``, from the cache read at start."""
        return dict(self._kv.get(namespace, {}))

    # --- writes (all through the writer task) ---------------------------------------------

    def append(self, key: str, update: bytes) -> None:
        """``UpdateLog.append``: queue the update; a full queue marks the log incomplete."""
        self._known.add(key)
        if self._queue.put(Op("append", key, update)):
            self._wake.set()
        else:
            self._report()

    async def put_record(self, record: DocumentRecord) -> None:
        """``UpdateLog.put_record``; held back while the database is failing."""
        self._known.add(record.key)
        self._records[record.key] = record
        if self._failing is not None:
            self._held.add(record.key)
            return
        await self._submit(Op("record", record.key, record=record))

    async def compact(self, key: str, state: bytes) -> None:
        """``UpdateLog.compact``; a log marked incomplete becomes complete again."""
        self._known.add(key)
        was_tainted = key in self._queue.tainted
        submitted = self._submit(Op("compact", key, state))
        record = self._records.get(key)
        if was_tainted and key not in self._queue.tainted and record is not None:
            # The records written while its log was incomplete were held back.
            self._queue.put(Op("record", key, record=record))
        await submitted

    async def delete(self, key: str) -> None:
        self._records[key] = None
        await self._submit(Op("delete", key))

    async def purge_deleted(self, older_than: float) -> int:
        """``UpdateLog.purge_deleted``, through the writer task."""
        return int(await self._submit(Op("purge", cutoff=older_than)))

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        """``AccessTable.put_value``: the cache at once, the database through the writer task."""
        if value is None:
            self._kv.get(namespace, {}).pop(key, None)
        else:
            self._kv.setdefault(namespace, {})[key] = value
        await self._submit(Op("value", key, namespace=namespace, value=value))

    # --- versions (collab.history) ---------------------------------------------------------

    async def add_version(self, version: NewVersion) -> None:
        """``VersionTable.add_version``, through the writer task.

        Raises:
            StoreError: the queue is full (the database is failing or far behind).
        """
        size = len(version.manifest) + sum(len(b) for b in version.blobs.values())
        await self._write(lambda db: insert_version(db, version), size)

    async def name_version(self, key: str, version_id: str, name: str | None) -> bool:
        """``VersionTable.name_version``, through the writer task."""
        return bool(await self._write(lambda db: rename_version(db, key, version_id, name)))

    async def delete_versions(self, key: str, version_ids: Collection[str]) -> None:
        """``VersionTable.delete_versions``, through the writer task."""
        ids = list(version_ids)
        await self._write(lambda db: forget_versions(db, key, ids), 64 * len(ids))

    async def _write(self, write: Callable[[Any], Awaitable[Any]], size: int = 0) -> Any:
        """Run ``write`` in the writer's transaction; its result once committed.

        Raises:
            StoreError: the database is failing, or the queue is full.
        """
        if self._failing is not None:
            raise StoreError(f"the store is failing ({self._failing}); try again later")
        if self._writer is None or self._writer.done():
            raise StoreError("the update store is not open")
        op = Op("write", write=write, payload_bytes=size)
        op.done = asyncio.get_running_loop().create_future()
        if not self._queue.put(op):
            raise StoreError("the store's write queue is full; try again later")
        self._wake.set()
        self._urgent.set()
        # If the database starts failing meanwhile, the write stays queued for the retries
        # and this returns (None) when the queue is released.
        return await op.done

    async def versions(self, key: str) -> list[VersionRow]:
        """``VersionTable.versions``: committed versions, oldest first."""
        rows: list[VersionRow] = await self._read(read_versions(self.db, key))
        return rows

    async def manifest(self, key: str, version_id: str) -> bytes | None:
        """``VersionTable.manifest``."""
        manifest: bytes | None = await self._read(read_manifest(self.db, key, version_id))
        return manifest

    async def blobs(self, hashes: Collection[str]) -> dict[str, bytes]:
        """``VersionTable.blobs``."""
        found: dict[str, bytes] = await self._read(read_blobs(self.db, hashes))
        return found

    async def _read(self, reading: Awaitable[Any]) -> Any:
        try:
            return await reading
        except _FAILURES as err:
            raise StoreError(f"cannot read versions from {self.path}: {err}") from err

    async def flush(self) -> None:
        """Wait until everything appended so far is committed; at once while the database
        is failing (nothing can be promised then)."""
        if self._writer is not None and not self._writer.done() and self._failing is None:
            await self._submit(Op("flush"))

    def _submit(self, op: Op) -> asyncio.Future[Any]:
        """Queue ``op``; the future is done once it is committed, or at once if it cannot
        be (dropped, or the database is failing: it stays queued for the retries)."""
        op.done = asyncio.get_running_loop().create_future()
        if self._queue.put(op):
            self._wake.set()
            self._urgent.set()
        else:
            self._report()
        if self._failing is not None or self._writer is None or self._writer.done():
            op.release()
        return op.done

    async def _write_loop(self) -> None:
        while True:
            batch = self._retry or (
                [_probe()] if self._failing is not None else await self._next_batch())
            try:
                results = await self._commit(batch)
            except _FAILURES as err:
                self._retry = batch
                await self._failed(err)
                continue
            self._retry = []
            self._queue.done(batch)
            for op, result in zip(batch, results, strict=True):
                self._settled(op)
                op.finish(result)
            self._committed()

    async def _next_batch(self) -> list[Op]:
        while not self._queue.ops:
            self._wake.clear()
            await self._wake.wait()
        batch = self._queue.take(_MAX_BATCH)
        if all(op.done is None for op in batch):
            # Only appends so far: give the burst a moment to grow into one commit,
            # unless someone starts waiting on the store.
            self._urgent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), self.commit_interval_s)
            batch += self._queue.take(_MAX_BATCH - len(batch))
        return batch

    def _settled(self, op: Op) -> None:
        """A committed record (or deletion) no longer needs reading from memory."""
        if op.kind in ("record", "delete") and op.key in self._records and (
                self._records[op.key] is op.record):
            del self._records[op.key]

    async def _failed(self, err: BaseException) -> None:
        if self._failing is None:
            log.error("update store %s cannot write (%s): edits and saves go on, but history "
                      "is not durable until it can; retrying", self.path, err)
            self._delay_s = self.retry_delay_s
            self._attempts = 0
        self._failing = str(err) or type(err).__name__
        for op in self._retry:
            op.release()
        self._queue.release_all()
        self._report()
        await asyncio.sleep(self._delay_s)
        self._delay_s = min(self._delay_s * 2, _MAX_RETRY_DELAY_S)
        self._reopening = asyncio.ensure_future(self._reopen())
        await asyncio.shield(self._reopening)

    async def _reopen(self) -> None:
        """Open the file again if it is gone or replaced (or now and then, in case the
        connection itself is broken); otherwise retry on the same connection, which keeps
        serving reads meanwhile (a full disk, a lock)."""
        self._attempts += 1
        if (self._db is not None and file_identity(self.path) == self._file
                and self._attempts % _REOPEN_EVERY):
            return
        try:
            db, fresh = await self._open(check=False)
        except (*_FAILURES, BrokenStore) as err:
            log.debug("update store %s still cannot be opened: %s", self.path, err)
            return
        old, self._db = self._db, db
        if old is not None:
            with contextlib.suppress(*_FAILURES):
                await old.close()
        if fresh:
            self._lost_everything()

    def _lost_everything(self) -> None:
        """The file was replaced by an empty one: every log written so far is gone."""
        log.error("update store %s was lost and started empty: open documents are "
                  "rewritten, the others load from their files", self.path)
        for key in self._known:
            self._queue.taint(key)
        lost = [op.key in self._queue.tainted and op.kind in DOCUMENT_KINDS
                for op in self._retry]
        self._queue.done([op for op, gone in zip(self._retry, lost, strict=True) if gone])
        self._retry = [op for op, gone in zip(self._retry, lost, strict=True) if not gone]
        for namespace, values in self._kv.items():
            for key, value in values.items():
                self._queue.put(Op("value", key, namespace=namespace, value=value))

    def _committed(self) -> None:
        if self._failing is not None:
            log.warning("update store %s writes again", self.path)
            self._failing = None
            for key in sorted(self._held):
                record = self._records.get(key)
                if record is not None:
                    self._queue.put(Op("record", key, record=record))
            self._held.clear()
        self._report()

    async def _commit(self, batch: list[Op]) -> list[Any]:
        results = await commit_batch(self.db, batch)
        if file_identity(self.path) != self._file:
            raise StoreError(f"{self.path} was removed or replaced")
        self.commits += 1
        self.appended += sum(op.kind == "append" for op in batch)
        return results


def _probe() -> Op:
    """A small real write: whether the database works again, when nothing else waits."""
    return Op("value", "last_write", namespace="huddle.store", value=str(time.time()))
