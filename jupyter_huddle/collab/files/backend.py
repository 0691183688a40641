"""How the core reads and writes files: a small interface the server implements.

The server's implementation goes through Jupyter's contents manager and file id service;
tests can use an in-memory one. Errors come back as core errors (``DocumentNotFound``,
``DocumentLoadError``, ``SaveError``), never HTTP ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..ids import DocumentType


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    """A file as read or written: content (None after a write) and what identifies it."""

    path: str
    content: Any
    hash: str | None
    writable: bool = True


class FileBackend(Protocol):
    """How the core reads and writes files (the server's contents manager, or a test double)."""

    async def path_for(self, file_id: str) -> str | None:
        """The file's current path, or None if the id is unknown or the file is gone."""

    async def load(self, path: str, kind: DocumentType) -> FileSnapshot:
        """Read a file as a notebook dict or text.

        Raises:
            DocumentNotFound: no such file.
            DocumentLoadError: the file cannot be read as that kind.
        """

    async def fingerprint(self, path: str) -> tuple[Any, ...] | None:
        """Something cheap that changes when the file does (modification time, size), or
        None if the file is missing. A change is then confirmed by the content hash."""

    async def save(self, path: str, kind: DocumentType, content: Any) -> FileSnapshot:
        """Write content; return the new hash (as the contents API reports it).

        Raises:
            SaveError: the file could not be written.
        """
