"""An in-memory FileBackend for core tests: files as nbformat dicts, ids as paths."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from jupyter_huddle.collab.errors import DocumentNotFound
from jupyter_huddle.collab.files.backend import FileSnapshot
from jupyter_huddle.collab.ids import DocumentType


def content_hash(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class MemoryBackend:
    def __init__(self) -> None:
        self.files: dict[str, Any] = {}
        self.ids: dict[str, str] = {}
        self.saves = 0

    def add(self, file_id: str, path: str, content: Any) -> None:
        self.ids[file_id] = path
        self.files[path] = copy.deepcopy(content)

    async def path_for(self, file_id: str) -> str | None:
        path = self.ids.get(file_id)
        return path if path in self.files else None

    async def load(self, path: str, kind: DocumentType) -> FileSnapshot:
        if path not in self.files:
            raise DocumentNotFound(path)
        content = copy.deepcopy(self.files[path])
        return FileSnapshot(path, content, content_hash(content))

    async def fingerprint(self, path: str) -> tuple[Any, ...] | None:
        return (content_hash(self.files[path]),) if path in self.files else None

    async def save(self, path: str, kind: DocumentType, content: Any) -> FileSnapshot:
        self.files[path] = copy.deepcopy(content)
        self.saves += 1
        return FileSnapshot(path, None, content_hash(content))
