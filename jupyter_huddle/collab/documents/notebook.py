"""Notebooks in jupyter-ydoc's YNotebook schema (the one JupyterLab's models expect).

Roots: ``state`` (Y.Map), ``meta`` (Y.Map with ``nbformat``, ``nbformat_minor`` and
``metadata`` as a Y.Map of plain JSON values) and ``cells`` (Y.Array of Y.Map). In a cell,
``source`` is a Y.Text, ``metadata`` a Y.Map, ``outputs`` a Y.Array of Y.Map whose stream
``text`` is a Y.Text; everything else is plain JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from uuid import uuid4

import nbformat
from pycrdt import Array, Doc, Map, Text

from ..errors import SaveError
from .base import DiskMerge, SharedDocument
from .values import MISSING, plain, restore_numbers

log = logging.getLogger(__name__)

DEFAULT_NBFORMAT = 4
DEFAULT_NBFORMAT_MINOR = 5
# Keys the server keeps out of the saved file: live execution state only.
_TRANSIENT_CELL_KEYS = ("execution_state",)


def new_cell_id() -> str:
    return str(uuid4())


def empty_code_cell() -> dict[str, Any]:
    return {
        "id": new_cell_id(),
        "cell_type": "code",
        "source": "",
        "metadata": {},
        "outputs": [],
        "execution_count": None,
    }


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def output_to_ymap(output: dict[str, Any]) -> Map[Any]:
    value = dict(output)
    if value.get("output_type") == "stream":
        value["text"] = Text(_join(value.get("text", "")))
    return Map(value)


def cell_to_ymap(cell: dict[str, Any]) -> Map[Any]:
    """A prelim Y.Map for one nbformat cell (which must already carry an id)."""
    value = {k: v for k, v in cell.items() if k not in ("source", "metadata", "outputs")}
    value["source"] = Text(_join(cell.get("source", "")))
    value["metadata"] = Map(dict(cell.get("metadata") or {}))
    if cell.get("cell_type") == "code":
        value["outputs"] = Array([output_to_ymap(o) for o in cell.get("outputs") or []])
        value.setdefault("execution_count", None)
        value["execution_state"] = "idle"
    elif not value.get("attachments"):
        value.pop("attachments", None)
    return Map(value)


def with_unique_ids(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every cell an id, replacing missing and repeated ones."""
    seen: set[str] = set()
    result = []
    for cell in cells:
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
            cell = {**cell, "id": new_cell_id()}
        seen.add(cell["id"])
        result.append(cell)
    return result


class NotebookDocument(SharedDocument):
    kind = "notebook"
    version = "2.0.0"
    # Review threads live in their own root (stock JupyterLab ignores it); the server
    # writes them for the comments API, stamping who and when.
    protected_roots = ("comments",)

    def holds_content(self, doc: Doc[Any]) -> bool:
        return len(doc.get("cells", type=Array)) > 0

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        super().__init__(doc)
        self.meta: Map[Any] = self.doc.get("meta", type=Map)
        self.cells: Array[Any] = self.doc.get("cells", type=Array)
        # The content as last loaded or saved, ids included: export restores number types
        # from it (see values.py).
        self.baseline: dict[str, Any] = {}
        self.comments: Map[Any] = self.doc.get("comments", type=Map)
        # What other layers derive from this document and keep while it lives (review
        # anchors' positions in each cell's text); the document never reads it.
        self.caches: dict[str, object] = {}
        # Write review threads into the saved file's metadata (HuddleApp.save_comments).
        self.comments_in_metadata = True
        # Set when cells are inserted or deleted (not on edits inside cells), so repair
        # looks for duplicates only then.
        self._cells_changed = False
        self._cells_subscription = self.cells.observe(self._on_cells_changed)

    def _on_cells_changed(self, event: Any) -> None:
        self._cells_changed = True

    def load(self, content: Any, origin: object) -> None:
        nb = _copy_json(content)
        cells = with_unique_ids(list(nb.get("cells") or [])) or [empty_code_cell()]
        nb["cells"] = cells
        # Saved review threads go to their own root, not into the shared metadata.
        metadata, saved_comments = split_comments(nb.get("metadata") or {})
        with self.doc.transaction(origin=origin):
            self.meta["nbformat"] = nb.get("nbformat", DEFAULT_NBFORMAT)
            self.meta["nbformat_minor"] = nb.get("nbformat_minor", DEFAULT_NBFORMAT_MINOR)
            self.meta["metadata"] = Map(dict(metadata))
            self.cells.extend([cell_to_ymap(c) for c in cells])
        if saved_comments is not None:
            from ..review.saved import load_saved_threads  # review builds on this module

            load_saved_threads(self, saved_comments)
        # The baseline restores number types on export; saved threads need none of that.
        self.baseline = {**nb, "metadata": metadata}

    def settle_execution(self, origin: object) -> None:
        """No execution survives the server: cells left "running" (by a crash, or a run
        cut off at shutdown) are idle when the notebook is opened again."""
        with self.doc.transaction(origin=origin):
            for ycell in self.cells:
                if isinstance(ycell, Map) and ycell.get("execution_state") == "running":
                    ycell["execution_state"] = "idle"

    def repair(self, origin: object) -> None:
        if not self._cells_changed:
            return
        self._cells_changed = False
        with self.doc.transaction(origin=origin):
            self._remove_duplicates()
            # JupyterLab in collaborative mode never adds a first cell itself.
            if len(self.cells) == 0:
                self.cells.append(cell_to_ymap(empty_code_cell()))

    def _remove_duplicates(self) -> None:
        """Two people moving the same cell at once (a move is a delete plus an insert)
        leave two copies of it: keep the first, drop later identical copies, and give a
        new id to a copy that differs (both versions are someone's work)."""
        seen: dict[str, Any] = {}
        index = 0
        while index < len(self.cells):
            ycell = self.cells[index]
            cell_id = ycell.get("id") if isinstance(ycell, Map) else None
            if not isinstance(cell_id, str) or cell_id not in seen:
                if isinstance(cell_id, str):
                    seen[cell_id] = _comparable(ycell)
                index += 1
                continue
            if _comparable(ycell) == seen[cell_id]:
                del self.cells[index]
                continue
            ycell["id"] = new_cell_id()
            index += 1

    def prepare_for_save(self, origin: object) -> None:
        """Repair what a client may have broken (shape of cells, repeated ids), so that one
        bad update cannot stop every later save. Repairs are shared edits like any other."""
        with self.doc.transaction(origin=origin):
            self._repair_meta()
            seen: set[str] = set()
            for index in range(len(self.cells)):
                ycell = self._repair_cell(index)
                cell_id = ycell.get("id")
                if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
                    cell_id = new_cell_id()
                    ycell["id"] = cell_id
                seen.add(cell_id)
        self.repair(origin)

    def _repair_meta(self) -> None:
        for key, default in (("nbformat", DEFAULT_NBFORMAT),
                             ("nbformat_minor", DEFAULT_NBFORMAT_MINOR)):
            if not _is_number(self.meta.get(key)):
                log.warning("repairing notebook %s: %r", key, self.meta.get(key))
                self.meta[key] = default
        metadata = self.meta.get("metadata")
        if not isinstance(metadata, Map):
            self.meta["metadata"] = Map(dict(metadata) if isinstance(metadata, dict) else {})

    def _repair_cell(self, index: int) -> Map[Any]:
        ycell = self.cells[index]
        if not isinstance(ycell, Map):
            # Not a cell at all: keep what it held, as the text of a raw cell.
            log.warning("repairing cell %d: a %s, not a cell", index, type(ycell).__name__)
            value = plain(ycell)
            raw = {"id": new_cell_id(), "cell_type": "raw", "metadata": {},
                   "source": value if isinstance(value, str) else canonical_json(value)}
            del self.cells[index]
            self.cells.insert(index, cell_to_ymap(raw))
            return self.cells[index]  # type: ignore[no-any-return]
        if ycell.get("cell_type") not in ("code", "markdown", "raw"):
            ycell["cell_type"] = "raw"
        source = ycell.get("source")
        if not isinstance(source, Text):
            value = plain(source)
            ycell["source"] = Text(_join(value) if isinstance(value, str | list)
                                   else canonical_json(value) if value is not None else "")
        metadata = ycell.get("metadata")
        if not isinstance(metadata, Map):
            ycell["metadata"] = Map(dict(metadata) if isinstance(metadata, dict) else {})
        if ycell.get("cell_type") == "code":
            if not isinstance(ycell.get("outputs"), Array):
                ycell["outputs"] = Array([])
            if not (ycell.get("execution_count") is None or _is_number(
                    ycell.get("execution_count"))):
                ycell["execution_count"] = None
        return ycell

    def export(self) -> dict[str, Any]:
        meta = plain(self.meta) or {}
        nbformat = _as_int(meta.get("nbformat"), DEFAULT_NBFORMAT)
        minor = _as_int(meta.get("nbformat_minor"), DEFAULT_NBFORMAT_MINOR)
        base_cells = {c.get("id"): c for c in self.baseline.get("cells", [])}
        cells = []
        for raw in plain(self.cells):
            if not isinstance(raw, dict):
                raw = {"cell_type": "raw", "source": canonical_json(raw), "metadata": {}}
            cell = restore_numbers(raw, base_cells.get(raw.get("id"), MISSING))
            cells.append(_clean_cell(cell, keep_id=(nbformat, minor) >= (4, 5)))
        metadata = restore_numbers(meta.get("metadata") or {},
                                   self.baseline.get("metadata", MISSING))
        if self.comments_in_metadata and len(self.comments):
            from ..review.saved import saved_threads  # review builds on this module

            metadata = with_comments(metadata, saved_threads(self) or [])
        return {
            "cells": cells,
            "metadata": metadata,
            "nbformat": nbformat,
            "nbformat_minor": minor,
        }

    def check(self, content: Any) -> None:
        try:
            nbformat.validate(content)
        except nbformat.ValidationError as err:
            raise SaveError(f"the notebook is not valid nbformat: {err.message}") from err

    def mark_saved(self, content: Any) -> None:
        """Record what is now on disk, as the baseline for number types (without the
        saved threads, which need none)."""
        metadata = content.get("metadata") if isinstance(content, dict) else None
        self.baseline = {**content, "metadata": split_comments(metadata)[0]} if isinstance(
            metadata, dict) else content

    def digest(self, content: Any) -> str:
        return canonical_json(notebook_digest(content))

    def normalize(self, content: Any) -> dict[str, Any]:
        nb = _copy_json(content)
        nb["cells"] = [_clean_cell(c, keep_id=True)
                       for c in with_unique_ids(list(nb.get("cells") or []))]
        return dict(nb)

    def merge_disk(self, base_digest: str | None, theirs: Any, origin: object) -> DiskMerge:
        from .merge import apply_notebook, merge_notebooks  # merge builds on this module

        base = json.loads(base_digest) if base_digest else {}
        # The comments root is the truth about threads: the file's copy is not merged.
        theirs = {**theirs, "metadata": split_comments(theirs.get("metadata") or {})[0]}
        ours = self.export()
        ours["metadata"] = split_comments(ours["metadata"])[0]
        result = merge_notebooks(base, ours, theirs)
        apply_notebook(self, result.content, origin)
        self.baseline = theirs
        from ..review.saved import follow_outside_edit  # review builds on this module

        follow_outside_edit(self, ours["cells"])
        overwritten = None
        if result.overwritten:
            overwritten = {**theirs, "cells": result.overwritten}
        return DiskMerge(result.conflicts, overwritten)


def _comparable(ycell: Map[Any]) -> Any:
    cell = plain(ycell) or {}
    cell.pop("execution_state", None)
    return cell


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_int(value: Any, default: int) -> int:
    return int(value) if _is_number(value) else default


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cell_digest(cell: dict[str, Any]) -> str:
    """Identifies a cell's saved form. ``trusted`` is left out: the contents manager adds it
    on every read, with a value that depends on the notebook's signature, not its content."""
    metadata = {k: v for k, v in (cell.get("metadata") or {}).items() if k != "trusted"}
    body = {k: v for k, v in cell.items() if k not in ("metadata", "execution_state")}
    body["metadata"] = metadata
    return hashlib.sha1(canonical_json(body).encode(), usedforsecurity=False).hexdigest()


def notebook_digest(nb: dict[str, Any]) -> dict[str, Any]:
    """Per-cell digests of a notebook as saved: enough to tell, in a three-way merge, which
    cells changed since, without keeping the whole saved content."""
    cells = [c for c in nb.get("cells", []) if "id" in c]
    metadata, comments = split_comments(nb.get("metadata") or {})
    return {
        "metadata": hashlib.sha1(canonical_json(metadata).encode(),
                                 usedforsecurity=False).hexdigest(),
        "comments": hashlib.sha1(canonical_json(comments).encode(),
                                 usedforsecurity=False).hexdigest(),
        "cells": {c["id"]: cell_digest(c) for c in cells},
        # Moving cells changes the notebook, not any cell.
        "order": [c["id"] for c in cells],
        "format": [nb.get("nbformat"), nb.get("nbformat_minor")],
    }


def split_comments(metadata: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """(notebook metadata without saved review threads, the threads or None)."""
    huddle = metadata.get("huddle")
    if not isinstance(huddle, dict) or "comments" not in huddle:
        return metadata, None
    rest = {k: v for k, v in huddle.items() if k != "comments"}
    plain_metadata = {k: v for k, v in metadata.items() if k != "huddle"}
    if rest:
        plain_metadata["huddle"] = rest
    return plain_metadata, huddle["comments"]


def with_comments(metadata: dict[str, Any], threads: list[dict[str, Any]]) -> dict[str, Any]:
    huddle = metadata.get("huddle")
    return {**metadata, "huddle": {**(huddle if isinstance(huddle, dict) else {}),
                                   "comments": threads}}


def _clean_cell(cell: dict[str, Any], *, keep_id: bool) -> dict[str, Any]:
    for key in _TRANSIENT_CELL_KEYS:
        cell.pop(key, None)
    if not keep_id:
        cell.pop("id", None)
    cell.setdefault("metadata", {})
    cell.setdefault("source", "")
    if cell.get("cell_type") == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    elif "attachments" in cell and not cell["attachments"]:
        del cell["attachments"]
    return cell


def _copy_json(value: Any) -> Any:
    """Deep copy into plain dicts and lists (nbformat hands out NotebookNode subclasses)."""
    if isinstance(value, dict):
        return {str(k): _copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(v) for v in value]
    return value
