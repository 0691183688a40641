"""Locked cells: what nbformat's ``editable`` / ``deletable`` metadata promise, kept on the
server for peers who may edit but not manage the notebook (students with edit rights).

Such a peer's update is applied, then checked against what it did to the cells: changing a
cell whose ``editable`` was false, deleting one whose ``deletable`` was false, or changing
either flag, undoes the whole update at once (an undo manager scoped to the cells, tracking
only that peer's transaction), as ``guard.ProtectedRoots`` does for the comments root. The
room sends the others only the net result. JupyterLab honours the same flags on its side.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Map, UndoManager

from .documents.notebook import NotebookDocument


class CellLocks:
    names = ("locked cells",)
    message = "That cell is locked by the notebook's owner; your change was undone."

    def __init__(self, document: NotebookDocument) -> None:
        self.document = document
        self._undo = UndoManager(scopes=[document.cells], capture_timeout_millis=0)
        self._events: list[Any] | None = None
        # cell id -> (editable, deletable) of the locked cells; None: to be recomputed
        self._locked: dict[str, tuple[bool, bool]] | None = None
        # Watching the cells costs every update something: start only when the first
        # peer who may not manage edits (a room of owners never pays it).
        self._subscription: Any = None

    def _on_events(self, events: list[Any]) -> None:
        if self._events is not None:
            self._events.extend(events)
        for event in events:
            path = list(event.path)
            if not path or (len(path) >= 2 and path[1] == "metadata"):
                self._locked = None  # cells came or went, or metadata changed

    def locked(self) -> dict[str, tuple[bool, bool]]:
        if self._locked is None:
            self._locked = {}
            for cell in self.document.cells:
                flags = _flags(cell)
                if flags != (True, True):
                    self._locked[str(cell.get("id"))] = flags
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

    def _broken(self, events: list[Any], locked: dict[str, tuple[bool, bool]]) -> bool:
        cells = self.document.cells
        touched: set[int] = set()
        for event in events:
            path = list(event.path)
            if not path:
                # cells inserted or deleted: every undeletable cell must still be there
                undeletable = {cid for cid, (_, deletable) in locked.items() if not deletable}
                if undeletable - {str(c.get("id")) for c in cells if isinstance(c, Map)}:
                    return True
            elif isinstance(path[0], int) and path[0] < len(cells):
                touched.add(path[0])
        for index in touched:
            cell = cells[index]
            cell_id = str(cell.get("id")) if isinstance(cell, Map) else ""
            before = locked.get(cell_id, (True, True))
            if not before[0] or _flags(cell) != before:
                return True  # a change inside a locked cell, or a lock changed
        return False


def _flags(cell: Any) -> tuple[bool, bool]:
    """(editable, deletable) of a cell; missing means true (nbformat's default)."""
    metadata = cell.get("metadata") if isinstance(cell, Map) else None
    if not isinstance(metadata, Map):
        return True, True
    return (metadata.get("editable", True) is not False,
            metadata.get("deletable", True) is not False)
