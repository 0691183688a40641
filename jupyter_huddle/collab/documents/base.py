"""What every shared document offers the room: its CRDT, its ``state`` map, load and export."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pycrdt import Doc, Map

from ..ids import DocumentType


class SharedDocument(ABC):
    """A file's content as a pycrdt document in a JupyterLab-compatible schema.

    Every write the server makes passes an ``origin`` so that persistence, broadcast and
    attribution can tell a client's change from the server's own.
    """

    kind: DocumentType
    # The schema version JupyterLab's docprovider records per document kind.
    version: str

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        self.state: Map[Any] = self.doc.get("state", type=Map)

    @abstractmethod
    def load(self, content: Any, origin: object) -> None:
        """Fill an empty document from file content (as the contents API returns it)."""

    @abstractmethod
    def export(self) -> Any:
        """The content to save through the contents API."""

    def repair(self, origin: object) -> None:  # noqa: B027 - optional hook
        """Fix what clients may leave broken (a notebook with no cells); cheap enough to run
        after every client update."""

    def prepare_for_save(self, origin: object) -> None:  # noqa: B027 - optional hook
        """Fix what must not reach the file (duplicate cell ids) before ``export``."""

    def check(self, content: Any) -> None:  # noqa: B027 - optional hook
        """Refuse content that must not be written.

        Raises:
            SaveError: the content is not valid for its file type.
        """

    def mark_saved(self, content: Any) -> None:  # noqa: B027 - optional hook
        """Record the content now on disk."""

    def set_state(self, origin: object, **values: Any) -> None:
        """Write server-owned ``state`` keys (path, dirty, hash) that changed."""
        changed = {k: v for k, v in values.items() if self.state.get(k) != v}
        if not changed:
            return
        with self.doc.transaction(origin=origin):
            for key, value in changed.items():
                self.state[key] = value
