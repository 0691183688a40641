"""The SQLite store's write queue: bounded, and what it cannot keep it drops per document.

Appends never wait for the database, so while it is slow or failing they pile up here. A
document's log entries (appends, compactions) are taken while the queue holds less than
``max_bytes`` (the last one taken may overshoot by its own size). A document whose entry
does not fit is *tainted*: its queued entries and records are dropped, and so are its later
appends and records, so what reaches the database stays a consistent prefix of its history.
It is whole again once a full state (a compaction) is queued, which replaces everything
logged before. Records and share links, roles and guests (``value``) are small and always
kept: values the latest one per key, and records are held back by the store while the
database fails (one per document), so the queue stays bounded however long it fails.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .base import DocumentRecord

# Operations that write a document's log: the bound applies to them.
LOG_KINDS = frozenset({"append", "compact"})
# What a tainted document loses: its log entries and its records.
DOCUMENT_KINDS = LOG_KINDS | {"record"}
# What an operation costs besides its payload (the object, the key).
_OVERHEAD_BYTES = 128


@dataclass(eq=False)
class Op:
    """One write waiting for the database, and the future its caller awaits."""

    kind: str  # append | record | compact | delete | purge | flush | value | write
    key: str = ""
    data: bytes = b""
    record: DocumentRecord | None = None
    cutoff: float = 0.0
    done: asyncio.Future[Any] | None = field(default=None)
    namespace: str = ""
    value: str | None = None
    # Later writes of the same value folded into this one: done when it is.
    merged: list[Op] = field(default_factory=list)
    # Bytes this operation holds in the queue's count (0: not counted).
    counted: int = 0
    # ``write``: runs its own SQL in the writer's transaction (a version), with the bytes
    # it carries counted like a log entry's.
    write: Callable[[Any], Awaitable[Any]] | None = None
    payload_bytes: int = 0

    @property
    def size(self) -> int:
        """Bytes it holds (texts counted as UTF-8), plus a fixed overhead."""
        record = self.record
        texts = [self.key, self.namespace, self.value]
        if record is not None:
            texts += [record.epoch, record.saved_hash, record.path, record.saved_digest]
        text_bytes = sum(len(t.encode()) for t in texts if t)
        return _OVERHEAD_BYTES + len(self.data) + self.payload_bytes + text_bytes

    def finish(self, result: Any) -> None:
        """Committed: whoever awaits it (or what was folded into it) goes on."""
        for op in (self, *self.merged):
            if op.done is not None and not op.done.done():
                op.done.set_result(result)

    def release(self) -> None:
        """Let whoever awaits this operation go on without it being committed."""
        self.finish(0 if self.kind == "purge" else None)


class WriteQueue:
    """Writes waiting for the database, bounded by ``max_bytes`` (see the module
    docstring for what is dropped past it, and how a log is then marked incomplete)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.ops: deque[Op] = deque()
        # Bytes held: queued, and taken by the writer but not yet committed.
        self.bytes = 0
        # Documents whose log lost writes: incomplete until a full state is queued.
        self.tainted: set[str] = set()
        # The queued operation of each value, to fold later ones in.
        self._latest: dict[tuple[str, str], Op] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def put(self, op: Op) -> bool:
        """Queue ``op``; False if it is a document's write that could not be kept (the
        document is tainted, and ``op`` released)."""
        if op.kind in ("append", "record") and op.key in self.tainted:
            op.release()
            return False
        if op.kind in ("compact", "delete"):
            self._drop(op.key, LOG_KINDS)  # superseded: the state (or nothing) replaces them
        if op.kind == "write" and self.bytes >= self.max_bytes:
            op.release()  # a version is refused (its caller reports it), nothing tainted
            return False
        if op.kind in LOG_KINDS and self.bytes >= self.max_bytes:
            self.taint(op.key)
            op.release()
            return False
        if op.kind in ("compact", "delete"):
            self.tainted.discard(op.key)  # the log is whole again from here on
        if op.kind == "value" and self._fold(op):
            return True
        self.count(op)
        self.ops.append(op)
        return True

    def _fold(self, op: Op) -> bool:
        """Put ``op``'s value into the one already queued for the same key (values do
        not depend on the order of other writes)."""
        slot = (op.namespace, op.key)
        queued = self._latest.get(slot)
        if queued is None:
            self._latest[slot] = op
            return False
        queued.value = op.value
        queued.merged.append(op)
        self.count(queued)
        return True

    def count(self, op: Op) -> None:
        """Hold ``op``'s bytes in the count (until ``done``)."""
        self.bytes += op.size - op.counted
        op.counted = op.size

    def take(self, limit: int) -> list[Op]:
        """Up to ``limit`` operations, oldest first; their bytes stay counted until
        ``done``."""
        batch: list[Op] = []
        while self.ops and len(batch) < limit:
            op = self.ops.popleft()
            self._forget(op)
            batch.append(op)
        return batch

    def done(self, batch: list[Op]) -> None:
        """These taken operations were committed (or given up): stop counting them."""
        for op in batch:
            self.bytes -= op.counted
            op.counted = 0

    def taint(self, key: str) -> None:
        """``key``'s log lost a write: drop its queued entries and records, and its later
        appends and records, until a full state is queued."""
        self.tainted.add(key)
        self._drop(key, DOCUMENT_KINDS)

    def _drop(self, key: str, kinds: frozenset[str]) -> None:
        """Drop queued (not taken) operations of ``kinds`` on ``key``."""
        if not any(op.key == key and op.kind in kinds for op in self.ops):
            return
        kept: deque[Op] = deque()
        for op in self.ops:
            if op.key == key and op.kind in kinds:
                self._forget(op)
                self.done([op])
                op.release()
            else:
                kept.append(op)
        self.ops = kept

    def _forget(self, op: Op) -> None:
        slot = (op.namespace, op.key)
        if self._latest.get(slot) is op:
            del self._latest[slot]

    def has_log(self, key: str) -> bool:
        """Whether an append or compaction of ``key`` is still queued."""
        return any(op.key == key and op.kind in LOG_KINDS for op in self.ops)

    def release_all(self) -> None:
        """Let everyone waiting on a queued operation go on (the database is failing)."""
        for op in self.ops:
            op.release()
