"""Review threads as the notebook file holds them (``metadata.huddle.comments``).

A file outlives the server's history, so saved threads carry offsets and the quoted text
rather than CRDT positions: a server that opens the file without the history finds the
ranges again from them. Whoever loads and saves files (``collab/files/binding.py``) puts threads
into the file's metadata and takes them out of it with these functions.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Array, Map

from ..documents.notebook import NotebookDocument
from ..origins import ServerOrigin
from .anchors import MAX_QUOTE_CHARS, cells_by_id, reanchor
from .threads import Comments


def saved_threads(document: NotebookDocument) -> list[dict[str, Any]] | None:
    """Threads as saved in the notebook file, or None if the notebook has none.

    Anchors are saved as offsets with the text the range holds now (``quote``), which is
    what a server without this history finds again; the text quoted when the thread
    began is kept as ``original_quote``.
    """
    comments = Comments(document)
    if not len(comments.root):
        return None
    saved = []
    for thread in comments.threads():
        anchor = dict(thread.pop("anchor", {}))
        position = thread.pop("position", {})
        anchor.pop("start", None)
        anchor.pop("end", None)
        if anchor.get("kind") == "text" and "start" in position:
            anchor["start_offset"] = position["start"]
            anchor["end_offset"] = position["end"]
            if position.get("state") == "attached":
                anchor["original_quote"] = anchor.get("quote", "")
                anchor["quote"] = str(position.get("text", ""))[:MAX_QUOTE_CHARS]
        saved.append({**thread, "anchor": anchor})
    return saved


def load_saved_threads(document: NotebookDocument, saved: Any) -> None:
    """Recreate threads from a file's metadata (a fresh server opening it)."""
    if not isinstance(saved, list):
        return
    comments = Comments(document)
    # No text changes while the threads are added: one lookup serves every anchor.
    cache = comments.positions
    cells = cells_by_id(document)
    with document.doc.transaction(origin=ServerOrigin.LOAD):
        for thread in saved:
            if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
                continue
            saved_anchor = dict(thread.get("anchor") or {})
            anchor = reanchor(document, saved_anchor, cache, cells)
            original = saved_anchor.get("original_quote")
            if isinstance(original, str):
                anchor["quote"] = original[:MAX_QUOTE_CHARS]  # what the thread began on
            messages = [m for m in thread.get("messages") or [] if isinstance(m, dict)]
            value = {k: v for k, v in thread.items() if k not in ("anchor", "messages")}
            comments.root[thread["id"]] = Map({**value, "anchor": anchor,
                                               "messages": Array(messages)})


def follow_outside_edit(document: NotebookDocument, before: list[dict[str, Any]]) -> None:
    """Another program rewrote the notebook, whose cells were ``before`` (as exported):
    in a cell whose text changed, a text anchor whose quoted text is no longer under it is
    moved to where the quote now is, or else to its whole cell."""
    comments = Comments(document)
    if not len(comments.root):
        return
    sources = {c.get("id"): _source_text(c.get("source")) for c in before}
    changed = {str(c.get("id")) for c in document.cells if isinstance(c, Map)
               and sources.get(c.get("id")) != str(c.get("source"))}
    moved: dict[str, dict[str, Any]] = {}
    for thread in comments.threads():
        anchor = thread.get("anchor", {})
        position = thread["position"]
        if anchor.get("kind") != "text" or anchor.get("cell_id") not in changed:
            continue
        if position.get("state") == "attached" and position.get("text") == anchor.get(
                "quote"):
            continue
        moved[thread["id"]] = reanchor(document, {
            **anchor, "start_offset": position.get("start")}, comments.positions)
    comments.set_anchors(moved)


def _source_text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")
