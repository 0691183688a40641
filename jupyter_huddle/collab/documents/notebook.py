"""Notebooks in jupyter-ydoc's YNotebook schema (the one JupyterLab's models expect).

Roots: ``state`` (Y.Map), ``meta`` (Y.Map with ``nbformat``, ``nbformat_minor`` and
``metadata`` as a Y.Map of plain JSON values) and ``cells`` (Y.Array of Y.Map). In a cell,
``source`` is a Y.Text, ``metadata`` a Y.Map, ``outputs`` a Y.Array of Y.Map whose stream
``text`` is a Y.Text; everything else is plain JSON. A fourth root, ``comments`` (Y.Map),
holds review threads; only the server writes it, and this module never reads it (that is
``collab/review/``; the binding moves threads between it and the file).

The roots and cell creation are jupyter_ydoc's (``NotebookDocument.schema``, a
``YNotebook`` over the same document). Huddle's own on top: loading the notebook's ``meta``,
repairs, reading the document back with its number types, digests and the disk merge; the
methods that do not use jupyter_ydoc's equivalent say why.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import nbformat
from pycrdt import Array, Doc, Map, Text

from ..errors import SaveError
from .base import DiskMerge, SharedDocument
from .merge import apply_notebook, merge_notebooks
from .schema import (
    DEFAULT_NBFORMAT,
    DEFAULT_NBFORMAT_MINOR,
    THREADS_ROOT,
    canonical_json,
    cell_fields,
    clean_cell,
    copy_json,
    empty_code_cell,
    join_text,
    new_cell_id,
    notebook_digest,
    with_unique_ids,
)
from .upstream import YNotebook, meta_root, notebook_schema
from .values import MISSING, plain, restore_numbers

log = logging.getLogger(__name__)


class NotebookDocument(SharedDocument):
    kind = "notebook"
    # Review threads live in their own root, which only the server writes (collab/review/).
    protected_roots = (THREADS_ROOT,)
    schema: YNotebook

    def holds_content(self, doc: Doc[Any]) -> bool:
        return notebook_schema(doc).cell_number > 0

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        self.schema = notebook_schema(doc)
        super().__init__(self.schema)
        self.meta: Map[Any] = meta_root(self.schema)
        self.cells: Array[Any] = self.schema.ycells
        # The content as last loaded or saved, ids included: export restores number types
        # from it (see values.py).
        self.baseline: dict[str, Any] = {}
        # Every root gets its type, the threads' too (a compaction checks every root).
        self.doc.get(THREADS_ROOT, type=Map)
        # What other layers derive from this document and keep while it lives (review
        # anchors' positions in each cell's text); the document never reads it.
        self.caches: dict[str, object] = {}
        # Set when cells are inserted or deleted (not on edits inside cells), so repair
        # looks for duplicates only then.
        self._cells_changed = False
        self._cells_subscription = self.cells.observe(self._on_cells_changed)

    def _on_cells_changed(self, event: Any) -> None:
        self._cells_changed = True

    def new_cell(self, cell: dict[str, Any]) -> Map[Any]:
        """A prelim Y.Map for one nbformat cell (which must already carry an id), made by
        jupyter_ydoc with what Huddle writes besides (``schema.cell_fields``)."""
        ycell: Map[Any] = self.schema.create_ycell(cell_fields(cell))
        return ycell

    def load(self, content: Any, origin: object) -> None:
        """Fill the empty document from file content.

        Not jupyter_ydoc's ``YNotebook.set``, which would change what is saved: it adds
        empty ``language_info`` and ``kernelspec`` entries to metadata that lacks them, gives
        the cell of an empty notebook ``{"trusted": true}`` metadata, and writes without an
        origin. The cells are made by its ``create_ycell`` (``new_cell``), which deep-copies
        each: loading bench's 1000-cell fixture takes 63 ms of CPU against 56 ms before
        (medians), a few percent of a cold open, kept for the schema it brings.
        """
        nb = copy_json(content)
        cells = with_unique_ids(list(nb.get("cells") or [])) or [empty_code_cell()]
        nb["cells"] = cells
        metadata = nb.get("metadata") or {}
        with self.doc.transaction(origin=origin):
            self.meta["nbformat"] = nb.get("nbformat", DEFAULT_NBFORMAT)
            self.meta["nbformat_minor"] = nb.get("nbformat_minor", DEFAULT_NBFORMAT_MINOR)
            self.meta["metadata"] = Map(dict(metadata))
            self.cells.extend([self.new_cell(c) for c in cells])
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
                self.cells.append(self.new_cell(empty_code_cell()))

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
            self.cells.insert(index, self.new_cell(raw))
            return self.cells[index]  # type: ignore[no-any-return]
        if ycell.get("cell_type") not in ("code", "markdown", "raw"):
            ycell["cell_type"] = "raw"
        source = ycell.get("source")
        if not isinstance(source, Text):
            value = plain(source)
            ycell["source"] = Text(join_text(value) if isinstance(value, str | list)
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
        """The notebook as saved.

        Huddle's own reading, not jupyter_ydoc's ``YNotebook.get``, which converts every
        cell item by item (``to_py``): on bench's 1000-cell fixture it takes 74 ms against
        13 ms here (CPU medians), blocking the event loop on every save and disk merge (on
        the 5 MB image notebook, few cells with large outputs, it is the faster, 7 against
        12 ms). It also renumbers repeated ids by writing into the document without an
        origin (here that is a repair, a shared edit with its origin: ``prepare_for_save``),
        fails on an array item that is not a cell, and restores no float types.
        tests/unit/test_documents_upstream.py checks that both read a notebook the same.
        """
        meta = plain(self.meta) or {}
        nbformat = _as_int(meta.get("nbformat"), DEFAULT_NBFORMAT)
        minor = _as_int(meta.get("nbformat_minor"), DEFAULT_NBFORMAT_MINOR)
        base_cells = {c.get("id"): c for c in self.baseline.get("cells", [])}
        cells = []
        for raw in plain(self.cells):
            if not isinstance(raw, dict):
                raw = {"cell_type": "raw", "source": canonical_json(raw), "metadata": {}}
            cell = restore_numbers(raw, base_cells.get(raw.get("id"), MISSING))
            cells.append(clean_cell(cell, keep_id=(nbformat, minor) >= (4, 5)))
        metadata = restore_numbers(meta.get("metadata") or {},
                                   self.baseline.get("metadata", MISSING))
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
        """Record what is now on disk, as the baseline for number types."""
        self.baseline = content

    def digest(self, content: Any) -> str:
        return canonical_json(notebook_digest(content))

    def normalize(self, content: Any) -> dict[str, Any]:
        nb = copy_json(content)
        nb["cells"] = [clean_cell(c, keep_id=True)
                       for c in with_unique_ids(list(nb.get("cells") or []))]
        return dict(nb)

    def merge_disk(self, base_digest: str | None, ours: Any, theirs: Any,
                   origin: object) -> DiskMerge:
        base = json.loads(base_digest) if base_digest else {}
        result = merge_notebooks(base, ours, theirs)
        apply_notebook(self, result.content, origin)
        self.baseline = theirs
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
