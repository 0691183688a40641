"""Make a live document equal to new content with the smallest edits, and merge three ways.

Used when a file changes on disk while its room is open (an editor, ``git checkout``,
jupytext) and when a file changed while the server was down. Cells are matched by id and
text is changed by text edits, so cells nobody touched — and the cursors, comments and
unsaved edits in them — survive.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Protocol

from pycrdt import Array, Doc, Map, Text

from .schema import cell_digest, notebook_digest, output_to_ymap
from .values import plain, restore_numbers

# Above this many characters of changed middle, replace the middle instead of diffing it
# (SequenceMatcher is quadratic in the worst case).
_MAX_DIFF_CHARS = 20_000


def set_text(text: Text, new: str) -> None:
    """Edit ``text`` into ``new`` with few, local edits (inside the caller's transaction)."""
    old = str(text)
    if old == new:
        return
    prefix = common_prefix(old, new)
    suffix = common_suffix(old[prefix:], new[prefix:])
    old_mid, new_mid = old[prefix:len(old) - suffix], new[prefix:len(new) - suffix]
    if len(old_mid) + len(new_mid) > _MAX_DIFF_CHARS:
        ops = [("replace", 0, len(old_mid), 0, len(new_mid))]
    else:
        ops = [op for op in difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
               .get_opcodes() if op[0] != "equal"]
    # Apply from the end so earlier offsets stay valid; pycrdt counts UTF-8 bytes.
    for tag, i1, i2, j1, j2 in reversed(ops):
        start = _utf8_len(old[: prefix + i1])
        length = _utf8_len(old_mid[i1:i2])
        if tag in ("replace", "delete") and length:
            del text[start : start + length]
        if tag in ("replace", "insert"):
            text.insert(start, new_mid[j1:j2])


def common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of two texts (a binary search over slice comparisons,
    which run in C: a keystroke in a long text costs a few of them, not a loop per
    character)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix(a: str, b: str) -> int:
    """Length of the common suffix of two texts (as ``common_prefix``)."""
    low, high = 0, min(len(a), len(b))
    end_a, end_b = len(a), len(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a[end_a - middle:end_a - low] == b[end_b - middle:end_b - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def same_json(live: Any, target: Any) -> bool:
    """Equal as JSON, with the CRDT's floats read back as the target's numbers."""
    return bool(restore_numbers(live, target) == target)


def set_map(ymap: Map[Any], target: dict[str, Any]) -> None:
    """Make a Y.Map of plain JSON values equal ``target``, touching only changed keys."""
    for key in [k for k in ymap.keys() if k not in target]:  # noqa: SIM118 - Map is not a dict
        del ymap[key]
    for key, value in target.items():
        if key not in ymap or not same_json(plain(ymap[key]), value):
            ymap[key] = value




# --- notebooks --------------------------------------------------------------------------


class LiveNotebook(Protocol):
    """The roots of a live notebook that ``apply_notebook`` edits (a ``NotebookDocument``)."""

    @property
    def doc(self) -> Doc[Any]: ...

    @property
    def meta(self) -> Map[Any]: ...

    @property
    def cells(self) -> Array[Any]: ...

    def new_cell(self, cell: dict[str, Any]) -> Map[Any]:
        """A prelim Y.Map for one nbformat cell, in the document's schema."""
        ...


def apply_notebook(document: LiveNotebook, target: dict[str, Any], origin: object) -> None:
    """Make the live notebook equal ``target`` (nbformat dict with unique cell ids)."""
    with document.doc.transaction(origin=origin):
        _apply_meta(document, target)
        _apply_cells(document, target.get("cells") or [])


def _apply_meta(document: LiveNotebook, target: dict[str, Any]) -> None:
    meta = document.meta
    for key in ("nbformat", "nbformat_minor"):
        if key in target and not same_json(meta.get(key), target[key]):
            meta[key] = target[key]
    metadata = target.get("metadata") or {}
    current = meta.get("metadata")
    if isinstance(current, Map):
        set_map(current, metadata)
    else:
        meta["metadata"] = Map(dict(metadata))


def _apply_cells(document: LiveNotebook, target: list[dict[str, Any]]) -> None:
    cells = document.cells
    target_ids = [c["id"] for c in target]
    wanted = set(target_ids)
    # 1. drop cells that are gone, repeated, or changed type (they are re-created below)
    by_id = {c["id"]: c for c in target}
    for index in reversed(range(len(cells))):
        ycell = cells[index]
        cell_id = ycell.get("id")
        if cell_id not in wanted or ycell.get("cell_type") != by_id[cell_id].get("cell_type"):
            del cells[index]
    _drop_repeats(cells)
    # 2. cells that are out of order are deleted and re-inserted (Yjs 13 has no move)
    current_ids = [cells[i].get("id") for i in range(len(cells))]
    keep = _longest_common_subsequence(current_ids, target_ids)
    for index in reversed(range(len(cells))):
        if current_ids[index] not in keep:
            del cells[index]
    # 3. walk the target: update kept cells in place, insert the others
    for index, cell in enumerate(target):
        if index < len(cells) and cells[index].get("id") == cell["id"]:
            _update_cell(cells[index], cell)
        else:
            cells.insert(index, document.new_cell(cell))


def apply_cell(document: LiveNotebook, cell: dict[str, Any], after: list[str],
               origin: object) -> int:
    """Make one live cell equal ``cell`` (nbformat dict with an id), or put it back if it
    is gone: after the last of ``after`` (the ids that preceded it, nearest last) still in
    the notebook, else first. Returns its index."""
    with document.doc.transaction(origin=origin):
        cells = document.cells
        ids = [cells[i].get("id") for i in range(len(cells))]
        if cell["id"] in ids:
            index = ids.index(cell["id"])
            if cells[index].get("cell_type") == cell.get("cell_type"):
                _update_cell(cells[index], cell)
                return index
            del cells[index]  # another type is another cell: re-created in place
            ids.pop(index)
        else:
            index = next((ids.index(i) + 1 for i in reversed(after) if i in ids), 0)
        cells.insert(index, document.new_cell(cell))
        return index


def _drop_repeats(cells: Array[Any]) -> None:
    seen: set[str] = set()
    index = 0
    while index < len(cells):
        cell_id = cells[index].get("id")
        if cell_id in seen:
            del cells[index]
        else:
            seen.add(cell_id)
            index += 1


def _longest_common_subsequence(a: list[Any], b: list[Any]) -> set[Any]:
    """Ids (unique in both lists) that can stay where they are."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    kept: set[Any] = set()
    for block in matcher.get_matching_blocks():
        kept.update(a[block.a : block.a + block.size])
    return kept


_NESTED = ("source", "metadata", "outputs")


def _update_cell(ycell: Map[Any], cell: dict[str, Any]) -> None:
    source = cell.get("source", "")
    set_text(ycell["source"], "".join(source) if isinstance(source, list) else source)
    metadata = ycell.get("metadata")
    if isinstance(metadata, Map):
        set_map(metadata, dict(cell.get("metadata") or {}))
    else:
        ycell["metadata"] = Map(dict(cell.get("metadata") or {}))
    if cell.get("cell_type") == "code":
        _update_outputs(ycell, cell.get("outputs") or [])
    for key in [k for k in ycell.keys()  # noqa: SIM118 - Map is not a dict
                if k not in cell and k not in _NESTED and k not in ("execution_state",)]:
        del ycell[key]
    for key, value in cell.items():
        if key in _NESTED or key == "id":
            continue
        if key not in ycell or not same_json(plain(ycell[key]), value):
            ycell[key] = value


def _update_outputs(ycell: Map[Any], outputs: list[dict[str, Any]]) -> None:
    youtputs = ycell.get("outputs")
    if isinstance(youtputs, Array) and same_json(plain(youtputs), outputs):
        return
    if not isinstance(youtputs, Array):
        ycell["outputs"] = Array([output_to_ymap(o) for o in outputs])
        return
    youtputs.clear()
    youtputs.extend([output_to_ymap(o) for o in outputs])


# --- three-way merge --------------------------------------------------------------------


@dataclass
class MergeResult:
    """The notebook to apply, and what of ours the disk overwrote."""

    content: dict[str, Any]
    # Cells changed (or deleted) both on disk and by unsaved edits: the disk won.
    conflicts: list[str] = field(default_factory=list)
    # Our versions of those cells, to keep restorable.
    overwritten: list[dict[str, Any]] = field(default_factory=list)


def merge_notebooks(base: dict[str, Any], ours: dict[str, Any],
                    theirs: dict[str, Any]) -> MergeResult:
    """Three-way merge by cell id: the disk (theirs) wins where both sides changed a cell.

    ``base`` is the ``notebook_digest`` of what the server last loaded or saved, ``ours``
    the live document, ``theirs`` the file now on disk (both with cell ids). Cells only we
    changed keep our version; cells only the disk changed take the disk's; cells we added
    stay, after the cell they followed.
    """
    base_cells: dict[str, str] = base.get("cells", {})
    our_cells = {c["id"]: c for c in ours.get("cells", [])}
    result = MergeResult(content={**theirs, "cells": []})
    if (notebook_digest(ours)["metadata"] != base.get("metadata")
            and notebook_digest(theirs)["metadata"] == base.get("metadata")):
        result.content["metadata"] = ours.get("metadata")
    merged: list[dict[str, Any]] = []
    for cell in theirs.get("cells", []):
        cell_id = cell["id"]
        mine, old = our_cells.get(cell_id), base_cells.get(cell_id)
        disk_changed = old is None or cell_digest(cell) != old
        if mine is None:
            if not disk_changed:
                continue  # we deleted it and the disk did not change it
            merged.append(cell)
        elif not disk_changed:
            merged.append(mine)  # only we changed it (or nobody did)
        else:
            if old is not None and cell_digest(mine) not in (old, cell_digest(cell)):
                result.conflicts.append(cell_id)
                result.overwritten.append(mine)
            merged.append(cell)
    theirs_ids = {c["id"] for c in theirs.get("cells", [])}
    for cell_id, old in base_cells.items():
        mine = our_cells.get(cell_id)
        if cell_id not in theirs_ids and mine is not None and cell_digest(mine) != old:
            result.conflicts.append(cell_id)  # deleted on disk, edited here: disk wins
            result.overwritten.append(mine)
    _insert_our_new_cells(merged, ours, base_cells, theirs_ids)
    result.content["cells"] = merged
    return result


def _insert_our_new_cells(merged: list[dict[str, Any]], ours: dict[str, Any],
                          base_cells: dict[str, str], theirs_ids: set[str]) -> None:
    position = {c["id"]: i for i, c in enumerate(merged)}
    anchor: str | None = None  # the last of our cells that is in the merged notebook
    for cell in ours.get("cells", []):
        cell_id = cell["id"]
        if cell_id not in base_cells and cell_id not in theirs_ids:
            at = position[anchor] + 1 if anchor is not None else 0
            merged.insert(at, cell)
            position = {c["id"]: i for i, c in enumerate(merged)}
        if cell_id in position:
            anchor = cell_id
