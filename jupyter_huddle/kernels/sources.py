"""The source the user saw is what runs: requested cells' sources, checked against the
hashes the user sent, read from the live document.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Map, Text

from ..collab.documents.notebook import NotebookDocument
from ..collab.sync.room import Room
from .errors import ExecutionError, StaleSource, UnknownDocument
from .requests import source_hash
from .settings import CellRef


async def checked_sources(room: Room, refs: list[CellRef], wait_s: float) -> list[str]:
    """The sources to run, each checked against the hash the user sent. A mismatch waits
    up to ``wait_s`` for the user's edit (it travels on the document socket, the request
    on HTTP: "type then Shift+Enter" races).

    Raises:
        UnknownDocument: the room holds no notebook.
        ExecutionError: a cell is missing or not a code cell.
        StaleSource: a source still differs from its hash after ``wait_s``.
    """
    document = room.document
    if not isinstance(document, NotebookDocument):
        raise UnknownDocument(f"{room.id} is not a notebook")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        cells = {c.get("id"): c for c in document.cells if isinstance(c, Map)}
        sources = [_source(cells, room, ref) for ref in refs]
        stale = [ref for ref, source in zip(refs, sources, strict=True)
                 if ref.source_hash is not None and source_hash(source) != ref.source_hash]
        if not stale:
            return sources
        if loop.time() >= deadline:
            raise StaleSource(f"cell {stale[0].cell_id} changed since you ran it; its "
                              "source is not the one you saw")
        await _next_change(room, deadline - loop.time())


def _source(cells: dict[Any, Any], room: Room, ref: CellRef) -> str:
    ycell = cells.get(ref.cell_id)
    if ycell is None:
        raise ExecutionError(f"no cell {ref.cell_id} in {room.id}")
    if ycell.get("cell_type") != "code":
        raise ExecutionError(f"cell {ref.cell_id} is not a code cell")
    text = ycell.get("source")
    return str(text) if isinstance(text, Text) else str(text or "")


async def _next_change(room: Room, timeout: float) -> None:
    """Return after the room's next change, or after ``timeout``."""
    changed = asyncio.Event()

    def listener(_update: bytes, _origin: object) -> None:
        changed.set()

    room.add_change_listener(listener)
    try:
        await asyncio.wait_for(changed.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        room.remove_change_listener(listener)
