"""Cells of a live notebook as the server's kernel side finds and writes them."""

from __future__ import annotations

from typing import Any

from pycrdt import Map

from ..collab.documents.notebook import NotebookDocument
from ..collab.origins import ServerOrigin

# The origin of every change the kernel side makes (outputs, counts, execution state).
KERNEL = ServerOrigin.KERNEL


def find_cell(document: NotebookDocument, cell_id: str, hint: int = -1) -> tuple[int, Any]:
    """(index, cell map) of the cell with this id, or (-1, None); tries ``hint`` first."""
    cells = document.cells
    if 0 <= hint < len(cells):
        candidate = cells[hint]
        if isinstance(candidate, Map) and candidate.get("id") == cell_id:
            return hint, candidate
    for index, ycell in enumerate(cells):
        if isinstance(ycell, Map) and ycell.get("id") == cell_id:
            return index, ycell
    return -1, None
