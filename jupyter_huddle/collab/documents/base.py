"""What every shared document offers the room: its CRDT, its ``state`` map, load and export."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, Map

from ..ids import DocumentType
from .upstream import YBaseDoc


@dataclass
class DiskMerge:
    """What merging a changed file into the live document did."""

    # Ids of cells (or "source" for a text file) changed both on disk and by unsaved edits:
    # the disk's version won.
    conflicts: list[str] = field(default_factory=list)
    # Our overwritten versions, as file content to keep restorable (None: nothing lost).
    overwritten: Any = None


class SharedDocument(ABC):
    """A file's content as a pycrdt document in a JupyterLab-compatible schema.

    The schema is jupyter_ydoc's: each document wraps the jupyter_ydoc document of its kind
    (``schema``, over the same ``doc``; see upstream.py). Every write the server makes passes
    an ``origin`` so that persistence, broadcast and attribution can tell a client's change
    from the server's own.
    """

    kind: DocumentType
    # Roots only the server writes (see collab/sync/guard.py).
    protected_roots: tuple[str, ...] = ()

    def __init__(self, schema: YBaseDoc) -> None:
        self.schema = schema
        self.doc: Doc[Any] = schema.ydoc
        self.state: Map[Any] = schema.ystate

    @property
    def version(self) -> str:
        """The schema version JupyterLab's docprovider records per document kind."""
        return self.schema.version

    @abstractmethod
    def load(self, content: Any, origin: object) -> None:
        """Fill an empty document from file content (as the contents API returns it)."""

    @abstractmethod
    def export(self) -> Any:
        """The content to save through the contents API."""

    @abstractmethod
    def digest(self, content: Any) -> str:
        """What identifies saved content, as the base of later three-way merges."""

    @abstractmethod
    def normalize(self, content: Any) -> Any:
        """File content as read, in the form ``export`` produces (ids assigned...)."""

    @abstractmethod
    def merge_disk(self, base_digest: str | None, ours: Any, theirs: Any,
                   origin: object) -> DiskMerge:
        """Merge normalized file content (``theirs``) into the live document, the disk
        winning where both sides changed the same part.

        ``base_digest`` is the ``digest`` of what was last loaded or saved, ``ours`` the live
        content in the form ``export`` gives (with nothing added that the document does not
        hold, such as a notebook's review threads).
        """

    @abstractmethod
    def holds_content(self, doc: Doc[Any]) -> bool:
        """Whether ``doc`` (another copy, in this schema) holds content of this kind:
        cells, text; not just metadata or state."""

    def settle_execution(self, origin: object) -> None:  # noqa: B027 - optional hook
        """Clear execution state left over from a previous server (notebooks only)."""

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
