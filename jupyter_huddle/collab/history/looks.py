"""What changed since someone last looked: the cells that differ from the version their
look marked, and who wrote in them since.

A look marks the latest version. When that version is exactly what the person saw
(``exact``), every difference came after the look. When it is older (looks record a
version at most every few seconds), text written before the look was seen: line times
tell, and a cell whose only differences are such lines is not reported.
"""

from __future__ import annotations

from typing import Any

from .blame import BlameTracker, describe
from .content import Snapshot
from .diffing import align


def changed_cells(base: Snapshot, live: Snapshot, blame: BlameTracker, names: dict[str, str],
                  seen_at: float, *, exact: bool) -> dict[str, Any]:
    """``{"cells": [{id, change, by}], "deleted": n}`` from ``base`` to ``live``."""
    base_cells = {c.id: c for c in base.cells}
    live_cells = {c.id: c for c in live.cells}
    cells = []
    rows = align(base, live).rows
    for cell_id, status in rows:
        if status in ("same", "deleted"):
            continue
        by = written_after(blame, names, cell_id, seen_at)
        old = base_cells.get(cell_id)
        same_outputs = old is not None and old.outputs == live_cells[cell_id].outputs
        if status in ("changed", "added") and not by and not exact and (
                same_outputs or old is None):
            continue  # its text was written before the look: seen
        cells.append({"id": cell_id, "change": status, "by": by})
    return {"cells": cells, "deleted": sum(1 for _, s in rows if s == "deleted")}


def written_after(blame: BlameTracker, names: dict[str, str], cell_id: str,
                  seen_at: float) -> list[dict[str, Any]]:
    """Who wrote lines of the cell after ``seen_at`` (each once)."""
    people: dict[str, dict[str, Any]] = {}
    for _, author, at in blame.lines(cell_id):
        if at > seen_at:
            who = describe(author, names) or {"username": None, "display_name": "unknown"}
            people[str(who["username"])] = who
    return list(people.values())
