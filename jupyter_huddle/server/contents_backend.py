"""The core's FileBackend on top of Jupyter's contents manager and file id service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.utils import ensure_async
from tornado.web import HTTPError

from ..collab.errors import DocumentLoadError, DocumentNotFound, SaveError
from ..collab.files.backend import FileSnapshot
from ..collab.ids import DocumentType


def _short_lived(call: Any) -> Awaitable[Any]:
    """Run a contents-manager call in a task of its own.

    The async contents manager does its file IO in AnyIO worker threads, and AnyIO stops a
    worker only when the task that started it ends. A websocket handler's task lives as
    long as its socket; a worker bound to it would outlive the event loop at shutdown and
    keep the process from exiting. A task per call ends with the call. It is shielded: a
    caller that gives up (a room closing) does not cut a write off half-way.
    """
    return asyncio.shield(asyncio.ensure_future(ensure_async(call)))


_FORMATS: dict[DocumentType, tuple[str, str]] = {
    "notebook": ("notebook", "json"),
    "file": ("file", "text"),
}


class ContentsFileBackend:
    """Reads and writes through ``contents_manager``; resolves ids with ``file_id_manager``."""

    def __init__(self, contents_manager: Any, file_id_manager: Callable[[], Any]) -> None:
        self._contents = contents_manager
        self._get_file_ids = file_id_manager

    @property
    def _file_ids(self) -> Any:
        return self._get_file_ids()

    async def path_for(self, file_id: str) -> str | None:
        """``FileBackend.path_for``, from the file id service."""
        path = self._file_ids.get_path(file_id)
        return str(path) if path is not None else None

    async def exists(self, path: str) -> bool:
        """Whether the contents API would serve this file (not hidden, inside the root)."""
        try:
            model = await _short_lived(self._contents.get(path, content=False))
        except HTTPError:
            return False
        return model.get("type") in ("notebook", "file")

    async def fingerprint(self, path: str) -> tuple[Any, ...] | None:
        """``FileBackend.fingerprint``: the contents model's ``(last_modified, size)``."""
        try:
            model = await _short_lived(self._contents.get(path, content=False))
        except HTTPError:
            return None
        return (model.get("last_modified"), model.get("size"))

    def known_file_id(self, path: str) -> str | None:
        """The file's id if it has one already (never creates one)."""
        existing = self._file_ids.get_id(path)
        return None if existing is None else str(existing)

    def file_id(self, path: str) -> tuple[str, bool]:
        """The file's id, and whether it was just created."""
        existing = self._file_ids.get_id(path)
        if existing is not None:
            return str(existing), False
        return str(self._file_ids.index(path)), True

    async def load(self, path: str, kind: DocumentType) -> FileSnapshot:
        """``FileBackend.load``, through the contents manager, with the file's hash.

        Raises:
            DocumentNotFound: the contents manager answers 404.
            DocumentLoadError: it answers any other error.
        """
        model_type, fmt = _FORMATS[kind]
        try:
            model = await _short_lived(
                self._contents.get(path, content=True, type=model_type, format=fmt,
                                   require_hash=True)
            )
        except HTTPError as err:
            if err.status_code == 404:
                raise DocumentNotFound(f"{path}: {err.log_message}") from err
            raise DocumentLoadError(f"{path}: {err.log_message}") from err
        return FileSnapshot(path, model["content"], model.get("hash"),
                            bool(model.get("writable", True)))

    async def save(self, path: str, kind: DocumentType, content: Any) -> FileSnapshot:
        """``FileBackend.save``, through the contents manager; the new hash is read back.

        Raises:
            SaveError: the contents manager refused the write, or the disk failed.
        """
        model_type, fmt = _FORMATS[kind]
        try:
            await _short_lived(
                self._contents.save({"type": model_type, "format": fmt, "content": content}, path)
            )
            model = await _short_lived(
                self._contents.get(path, content=False, type=model_type, require_hash=True)
            )
        except HTTPError as err:
            raise SaveError(f"{path}: {err.log_message or err.reason}") from err
        except OSError as err:
            raise SaveError(f"{path}: {err}") from err
        return FileSnapshot(path, None, model.get("hash"), bool(model.get("writable", True)))
