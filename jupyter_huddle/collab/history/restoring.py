"""Restoring a version (the whole notebook, or one cell) as an ordinary edit, undoably.

A restore is applied to the live document in one transaction whose origin names the person
and the restore (``PersonOrigin``): collaborators receive it like any edit and it merges
with what they type meanwhile. An undo manager that tracks exactly that origin is kept for
the restore, so undoing it takes back the restore's own changes and nothing anyone did
since. Each kept manager watches the document, so a room keeps at most
``max_undoable_restores`` of them, each for ``undo_window_s``.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import UndoManager

from ..documents.merge import apply_cell, apply_notebook
from ..documents.notebook import NotebookDocument
from ..origins import PersonOrigin
from ..sync.connection import UserInfo
from .errors import NotRestorer, UnknownVersion


@dataclass(slots=True)
class Undoable:
    """A restore that can still be undone."""

    origin: PersonOrigin
    manager: UndoManager
    made_at: float
    label: str


def restore_origin(user: UserInfo) -> PersonOrigin:
    """A new origin for one restore by ``user``."""
    return PersonOrigin(user.username, user.display_name or user.username, "restore",
                        secrets.token_hex(8))


class Restorer:
    """Applies restores to one live notebook and keeps them undoable (module docstring)."""

    def __init__(self, document: NotebookDocument, max_kept: int, window_s: float) -> None:
        self.document = document
        self.max_kept = max_kept
        self.window_s = window_s
        self._kept: OrderedDict[str, Undoable] = OrderedDict()

    def restore_notebook(self, origin: PersonOrigin, notebook: dict[str, Any]) -> None:
        """Make the live notebook equal a version's, undoably."""
        manager = self._track(origin)
        apply_notebook(self.document, notebook, origin)
        self._keep_if_changed(origin, manager)

    def restore_cell(self, origin: PersonOrigin, notebook: dict[str, Any],
                     cell_id: str) -> int:
        """Make one live cell equal its version in ``notebook`` (or put it back); its index.

        Raises:
            UnknownVersion: the version has no cell with that id.
        """
        ids = [c["id"] for c in notebook["cells"]]
        if cell_id not in ids:
            raise UnknownVersion(f"that version has no cell {cell_id}")
        position = ids.index(cell_id)
        manager = self._track(origin)
        index = apply_cell(self.document, notebook["cells"][position], ids[:position], origin)
        self._keep_if_changed(origin, manager)
        return index

    def _track(self, origin: PersonOrigin) -> UndoManager:
        manager = UndoManager(scopes=[self.document.cells, self.document.meta],
                              capture_timeout_millis=0)
        manager.include_origin(origin)
        self._kept[origin.token] = Undoable(origin, manager, time.time(), "")
        return manager

    def describe(self, origin: PersonOrigin, label: str) -> None:
        """Say what a restore did ("restored cell 4 from ..."), for its undo's label."""
        kept = self._kept.get(origin.token)
        if kept is not None:
            kept.label = label

    def _keep_if_changed(self, origin: PersonOrigin, manager: UndoManager) -> None:
        if not manager.can_undo():
            self._drop(origin.token)
        self._expire()

    def changed(self, origin: PersonOrigin) -> bool:
        """Whether the restore made with ``origin`` changed anything (it is undoable)."""
        return origin.token in self._kept

    def undo(self, token: str, user: UserInfo, acting: Callable[[str | None], None]) -> str:
        """Take back a restore made by ``user``; the restore's label.

        Raises:
            UnknownVersion: no restore with that id can be undone (too old, or none).
            NotRestorer: someone else made it.
        """
        self._expire()
        kept = self._kept.get(token)
        if kept is None:
            raise UnknownVersion("that restore can no longer be undone")
        if kept.origin.username != user.username:
            raise NotRestorer("only the person who restored can undo it")
        # The undo runs in a transaction of its own (its origin is the manager's): who is
        # acting is told to the recorder around it, for line authorship.
        acting(f"u:{user.username}")
        try:
            while kept.manager.can_undo():
                kept.manager.undo()
        finally:
            acting(None)
        self._drop(token)
        return kept.label

    def _expire(self) -> None:
        cutoff = time.time() - self.window_s
        for token, kept in list(self._kept.items()):
            if kept.made_at < cutoff or len(self._kept) > self.max_kept:
                self._drop(token)

    def _drop(self, token: str) -> None:
        kept = self._kept.pop(token, None)
        if kept is not None:
            kept.manager.clear()

    def close(self) -> None:
        """Forget every undoable restore (the room closes)."""
        for token in list(self._kept):
            self._drop(token)
