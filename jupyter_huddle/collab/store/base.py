"""The store interface: bytes in, bytes out, keyed by document; a memory twin for tests.

Appends are asynchronous on purpose: a store commits them in groups (one transaction per
``commit_interval_s`` at most), never one transaction per keystroke. ``flush`` waits until
everything appended so far is durable.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """What the store knows about a document besides its updates."""

    key: str
    # Names the document's Yjs history; changes whenever the history is rebuilt.
    epoch: str
    # The file's hash as last loaded or saved by the server: if the disk still has it, the
    # stored history is newer than the disk (unsaved edits survived a crash).
    saved_hash: str | None = None
    path: str | None = None
    # Per-cell digests (JSON) of the content last loaded or saved: the base of a three-way
    # merge when the file changes on disk.
    saved_digest: str | None = None
    # When the file was deleted (epoch seconds); the history is kept for recovery.
    deleted_at: float | None = None


@dataclass(frozen=True, slots=True)
class StoredHistory:
    """A document's record and its log, as loaded."""

    record: DocumentRecord
    updates: list[bytes]
    # False: the log lost writes (the store failed) and must not be replayed; the document
    # starts a new history from its file.
    complete: bool = True


class StoreLifetime(Protocol):
    """Opening and closing a store (the server does it once, for everyone)."""

    async def start(self) -> None:
        """Open the store (create, check, or replace a broken one)."""

    async def stop(self) -> None:
        """Commit what is buffered and close."""


class UpdateLog(Protocol):
    """A document's history: its updates and its record. What a binding needs."""

    async def record(self, key: str) -> DocumentRecord | None:
        """The document's record, without its updates."""

    async def put_record(self, record: DocumentRecord) -> None:
        """Create or replace a document's record (committed before returning)."""

    async def load(self, key: str) -> StoredHistory | None:
        """The record and every update, oldest first; None if nothing is stored."""

    def append(self, key: str, update: bytes) -> None:
        """Queue an update; it is committed within the commit interval."""

    async def flush(self) -> None:
        """Wait until every update appended so far is committed."""

    async def compact(self, key: str, state: bytes) -> None:
        """Replace every update of ``key`` appended so far with ``state``.

        The caller has checked that ``state`` replays to exactly the live document.
        """

    async def delete(self, key: str) -> None:
        """Forget a document: its record, its updates, its versions, and the access-table
        namespaces kept for it (named ``<name>:<key>``)."""

    async def purge_deleted(self, older_than: float) -> int:
        """Drop documents whose file was deleted before ``older_than``; return how many."""


class AccessTable(Protocol):
    """Small tables of text values by namespace (share links, guests, roles): what the
    access service keeps."""

    async def values(self, namespace: str) -> dict[str, str]:
        """Every (key, text) kept in ``namespace``."""

    async def put_value(self, namespace: str, key: str, value: str | None) -> None:
        """Set (or, with None, remove) one value; committed before returning."""


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One recorded version of a document, without its content."""

    key: str
    # Sortable: the time in milliseconds (hex) and a random tail.
    id: str
    created_at: float
    # auto | named | opened | before-restore | restore | before-outside | closed | seen | undo
    kind: str
    # Named versions are kept until their name is removed; the rest are thinned by age.
    name: str | None
    # JSON: who contributed since the previous version, a summary of what changed, a label.
    info: str


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to store: its row, its manifest, and the blobs it refers to."""

    row: VersionRow
    # What the version holds: the notebook's parts by content hash (collab.history.content).
    manifest: bytes
    # Every blob hash the manifest refers to (a blob is kept while any version refers to it).
    refs: frozenset[str]
    # The blobs that may not be stored yet (stored unless a blob with that hash already is).
    blobs: dict[str, bytes]


class VersionTable(Protocol):
    """Recorded versions of documents (collab.history): rows, manifests and shared blobs."""

    async def add_version(self, version: NewVersion) -> None:
        """Store a version (committed before returning).

        Raises:
            StoreError: it could not be kept (the store is failing and its queue is full).
        """

    async def versions(self, key: str) -> list[VersionRow]:
        """Every version of ``key``, oldest first (retention bounds how many)."""

    async def manifest(self, key: str, version_id: str) -> bytes | None:
        """A version's manifest; None if there is no such version of ``key``."""

    async def blobs(self, hashes: Collection[str]) -> dict[str, bytes]:
        """The stored blobs among ``hashes``."""

    async def name_version(self, key: str, version_id: str, name: str | None) -> bool:
        """Name a version (None removes the name); False if there is no such version."""

    async def delete_versions(self, key: str, version_ids: Collection[str]) -> None:
        """Forget versions, and the blobs no remaining version refers to."""


class UpdateStore(StoreLifetime, UpdateLog, AccessTable, VersionTable, Protocol):
    """What a store implements: its lifetime, the update log, the access tables and the
    versions, in one database (one file to back up, one transaction order)."""
