"""Locked cells: what nbformat's ``editable`` / ``deletable`` metadata promise, kept on the
server for peers who may edit but not manage the notebook (students with edit rights).

Such a peer's update is applied, then checked against what it did to the cells: changing a
cell whose ``editable`` was false, deleting one whose ``deletable`` was false, changing
either flag, or putting another cell in a locked one's place under its id, undoes the whole
update at once (an undo manager scoped to the cells, tracking
only that peer's transaction), as ``guard.ProtectedRoots`` does for the comments root. The
room sends the others only the net result. JupyterLab honours the same flags on its side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pycrdt import Map, UndoManager

from ..documents.notebook import NotebookDocument


class CellLocks:
    """Undoes a peer's update that breaks a cell's ``editable``/``deletable`` lock."""

    names = ("locked cells",)
    message = "That cell is locked by the notebook's owner; your change was undone."

    def __init__(self, document: NotebookDocument) -> None:
        self.document = document
        self._undo = UndoManager(scopes=[document.cells], capture_timeout_millis=0)
        self._events: list[Any] | None = None
        # cell id -> what the lock protects, for the locked cells; None: to be recomputed
        self._locked: dict[str, _Lock] | None = None
        self._before: dict[str, _Lock] = {}
        # Watching the cells costs every update something: start only when the first
        # peer who may not manage edits (a room of owners never pays it).
        self._subscription: Any = None

    def _on_events(self, events: list[Any]) -> None:
        if self._events is not None:
            self._events.extend(events)
        if self._locked is None:
            return
        locked_at = {lock.index for lock in self._locked.values()}
        for event in events:
            path = list(event.path)
            # cells came or went (indices move), metadata changed (a lock may have), or a
            # locked cell changed (an owner's edit: its protected content moves on)
            if not path or (len(path) >= 2 and path[1] == "metadata") or path[0] in locked_at:
                self._locked = None
                return

    def locked(self) -> dict[str, _Lock]:
        """The locked cells, by cell id; recomputed after cells or their metadata changed."""
        if self._locked is None:
            self._locked = {}
            for index, cell in enumerate(self.document.cells):
                flags = _flags(cell)
                if flags != (True, True):
                    self._locked[str(cell.get("id"))] = _Lock(flags, index, _content(cell))
        return self._locked

    def before(self, peer: object) -> None:
        """About to apply this peer's update: watch what it does to the cells."""
        if self._subscription is None:
            self._locked = None  # unknown until now: computed from the cells
            self._subscription = self.document.cells.observe_deep(self._on_events)
        self._before = dict(self.locked())
        self._events = []
        self._undo.include_origin(peer)

    def revert(self, peer: object) -> bool:
        """Undo the update if it broke a lock; True if it did."""
        events, self._events = self._events or [], None
        self._undo.exclude_origin(peer)
        broken = self._broken(events, self._before)
        if broken:
            while self._undo.can_undo():
                self._undo.undo()
        self._undo.clear()
        return broken

    def _broken(self, events: list[Any], locked: dict[str, _Lock]) -> bool:
        cells = self.document.cells
        touched: set[int] = set()
        for event in events:
            path = list(event.path)
            if not path:
                if self._structure_broken(event, locked):
                    return True
            elif isinstance(path[0], int) and path[0] < len(cells):
                touched.add(path[0])
        for index in touched:
            cell = cells[index]
            cell_id = str(cell.get("id")) if isinstance(cell, Map) else ""
            before = locked.get(cell_id)
            flags = before.flags if before is not None else (True, True)
            if not flags[0] or _flags(cell) != flags:
                return True  # a change inside a locked cell, or a lock changed
        return False

    def _structure_broken(self, event: Any, locked: dict[str, _Lock]) -> bool:
        """Cells were inserted or deleted: every undeletable cell must still be there, and
        a cell inserted under a locked cell's id must be that cell unchanged (a move).
        Deleting a locked cell and inserting another with its id, its flags and new
        content in one update would otherwise pass for the same cell."""
        undeletable = {cid for cid, lock in locked.items() if not lock.flags[1]}
        present = {str(c.get("id")) for c in self.document.cells if isinstance(c, Map)}
        if undeletable - present:
            return True
        for change in getattr(event, "delta", None) or []:
            for cell in change.get("insert") or []:
                lock = locked.get(str(cell.get("id"))) if isinstance(cell, Map) else None
                if lock is not None and (_flags(cell) != lock.flags
                                         or _content(cell) != lock.content):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class _Lock:
    flags: tuple[bool, bool]  # (editable, deletable)
    index: int  # where the cell was when this was computed
    content: str  # the cell as JSON, to tell a move from a replacement


def _content(cell: Any) -> str:
    """A locked cell's content, comparable across a move (JupyterLab moves a cell by
    deleting it and inserting a copy)."""
    if not isinstance(cell, Map):
        return ""
    value = {k: v for k, v in (cell.to_py() or {}).items() if k != "execution_state"}
    return json.dumps(value, sort_keys=True, default=str)


def _flags(cell: Any) -> tuple[bool, bool]:
    """(editable, deletable) of a cell; missing means true (nbformat's default)."""
    metadata = cell.get("metadata") if isinstance(cell, Map) else None
    if not isinstance(metadata, Map):
        return True, True
    return (metadata.get("editable", True) is not False,
            metadata.get("deletable", True) is not False)
