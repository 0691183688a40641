"""Where a review thread points: a text range, a cell, or an output of a cell.

A text anchor is a pair of CRDT relative positions (pycrdt ``StickyIndex``, the same JSON as
Yjs ``RelativePosition``), so the range moves with everyone's edits; the quoted text is kept
too, so a thread whose text was deleted is still shown (detached), and one whose cell was
deleted is kept (orphaned).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Assoc, Map, Text

from ..documents.notebook import NotebookDocument
from ..documents.values import plain
from .errors import CommentError
from .positions import TextPositions, index_to_utf16, utf16_to_index

MAX_QUOTE_CHARS = 2_000


@dataclass(frozen=True)
class AnchorRequest:
    """Where a client asks a new thread to point: a cell, a text range in it, or an output."""

    cell_id: str
    kind: str = "text"  # text | cell | output
    start: int | None = None  # UTF-16 offsets into the cell's source, for "text"
    end: int | None = None
    output_index: int | None = None


Cells = Mapping[str, Map[Any]]  # cells by id, for looking many anchors up (cells_by_id)


def cells_by_id(document: NotebookDocument) -> dict[str, Map[Any]]:
    """Every cell by id (the first one where ids repeat, as ``find_cell`` finds it)."""
    cells: dict[str, Map[Any]] = {}
    for ycell in document.cells:
        if isinstance(ycell, Map):
            cell_id = ycell.get("id")
            if isinstance(cell_id, str):
                cells.setdefault(cell_id, ycell)
    return cells


def find_cell(document: NotebookDocument, cell_id: str, cells: Cells | None = None
              ) -> Map[Any] | None:
    """The cell with this id (the first one where ids repeat), or None."""
    if cells is not None:
        return cells.get(cell_id)
    for ycell in document.cells:
        if isinstance(ycell, Map) and ycell.get("id") == cell_id:
            return ycell
    return None


def _output_quote(output: Any) -> str:
    """The first line of an output's text (what a reader recognises it by), or ""."""
    if not isinstance(output, dict):
        return ""
    if output.get("output_type") == "stream":
        text = output.get("text")
    elif output.get("output_type") == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
    else:
        text = (output.get("data") or {}).get("text/plain")
    if isinstance(text, list):
        text = "".join(str(t) for t in text)
    if not isinstance(text, str):
        return ""
    lines = text.strip().splitlines()
    return lines[0][:MAX_QUOTE_CHARS] if lines else ""


def make_anchor(document: NotebookDocument, request: AnchorRequest,
                cache: MutableMapping[str, TextPositions] | None = None,
                cells: Cells | None = None) -> dict[str, Any]:
    """The stored anchor: positions that follow edits, plus the quoted text.

    ``cache`` and ``cells`` (``cells_by_id``) serve many anchors while no text changes.

    Raises:
        CommentError: unknown cell, kind, or a range outside the cell's text.
    """
    ycell = find_cell(document, request.cell_id, cells)
    if ycell is None:
        raise CommentError(f"no cell {request.cell_id}")
    anchor: dict[str, Any] = {"cell_id": request.cell_id, "kind": request.kind, "quote": ""}
    if request.kind == "cell":
        return anchor
    if request.kind == "output":
        outputs = ycell.get("outputs")
        count = len(outputs) if isinstance(outputs, Array) else 0
        if request.output_index is None or not 0 <= request.output_index < count:
            raise CommentError(f"cell {request.cell_id} has no output {request.output_index}")
        assert isinstance(outputs, Array)
        return {**anchor, "output_index": request.output_index,
                "quote": _output_quote(plain(outputs[request.output_index]))}
    if request.kind != "text":
        raise CommentError("anchor kind must be text, cell or output")
    source = ycell.get("source")
    if not isinstance(source, Text) or request.start is None or request.end is None:
        raise CommentError("a text anchor needs start and end offsets in a cell's source")
    text = str(source)
    start, end = utf16_to_index(text, request.start), utf16_to_index(text, request.end)
    if start > end:
        raise CommentError("start must not be after end")
    # The range grows with text typed at its edges' insides and not outside them.
    positions = cache.get(request.cell_id) if cache is not None else None
    if positions is None:
        positions = TextPositions(source)
        if cache is not None:
            cache[request.cell_id] = positions
    first = positions.position(request.start, Assoc.AFTER)
    last = positions.position(request.end, Assoc.BEFORE)
    return {**anchor, "start": first, "end": last,
            "quote": text[start:end][:MAX_QUOTE_CHARS]}


def resolve_anchor(document: NotebookDocument, anchor: dict[str, Any],
                   cache: MutableMapping[str, TextPositions] | None = None,
                   cells: Cells | None = None) -> dict[str, Any]:
    """Where an anchor is now: state attached | detached | orphaned, and UTF-16 offsets.

    ``cache`` keeps each cell's position map across the anchors of one listing, ``cells``
    (``cells_by_id``) finds their cells.
    """
    cell_id = str(anchor.get("cell_id"))
    ycell = find_cell(document, cell_id, cells)
    if ycell is None:
        return {"state": "orphaned"}
    if anchor.get("kind") != "text":
        return {"state": "attached"}
    source = ycell.get("source")
    if not isinstance(source, Text):
        return {"state": "detached"}
    cache = {} if cache is None else cache
    positions = cache.get(cell_id)
    if positions is None:
        positions = cache[cell_id] = TextPositions(source)
    try:
        start = positions.offset(anchor["start"])
        end = max(start, positions.offset(anchor["end"]))
    except Exception:  # a position from another history (the file was rebuilt)
        return {"state": "detached"}
    if end <= start and anchor.get("quote"):
        return {"state": "detached", "start": start, "end": start}
    return {"state": "attached", "start": start, "end": end,
            "text": positions.text[positions.char_index(start):positions.char_index(end)]}


def reanchor(document: NotebookDocument, saved: dict[str, Any],
             cache: MutableMapping[str, TextPositions] | None = None,
             cells: Cells | None = None) -> dict[str, Any]:
    """Rebuild an anchor saved in a file (offsets and quote) against the live text: at the
    saved offsets if the quote is still there, else where the quote now is, else on its
    cell (the text is gone). ``cache`` and ``cells`` as for ``make_anchor``."""
    kind = saved.get("kind", "cell")
    request = AnchorRequest(str(saved.get("cell_id")), "cell")
    ycell = find_cell(document, request.cell_id, cells)
    if ycell is None or kind != "text":
        if kind == "output" and ycell is not None:
            try:
                return make_anchor(document, AnchorRequest(request.cell_id, "output",
                                                           output_index=saved.get("output_index")),
                                   cache, cells)
            except CommentError:
                pass
        return {"cell_id": request.cell_id, "kind": "cell", "quote": saved.get("quote", "")}
    text = str(ycell.get("source") or "")
    quote = str(saved.get("quote", ""))
    start = saved.get("start_offset")
    try:
        if isinstance(start, int) and text[utf16_to_index(text, start):].startswith(quote):
            end = start + index_to_utf16(quote, len(quote))
            return make_anchor(document, AnchorRequest(request.cell_id, "text", start, end),
                               cache, cells)
    except CommentError:
        pass
    found = text.find(quote) if quote else -1
    if found >= 0:
        begin = index_to_utf16(text, found)
        return make_anchor(document, AnchorRequest(
            request.cell_id, "text", begin, begin + index_to_utf16(quote, len(quote))),
            cache, cells)
    return {"cell_id": request.cell_id, "kind": "cell", "quote": quote}
