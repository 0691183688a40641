"""Differences between two versions of a notebook (or a version and the live notebook).

Cells are matched by id: a cell is added, deleted, moved (its id is out of the order the
others keep), changed, or the same. nbdime (the Jupyter ecosystem's notebook differ) is
used for what changed inside a matched cell — its source lines, outputs and metadata — but
not to match cells: it pairs cells by content similarity, so a deleted cell and a new one
with similar text come out as one changed cell, and it has no notion of a move.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from nbdime.diffing.generic import diff as nbdime_diff
from nbdime.diffing.notebooks import diff_item_at_path

from .content import Snapshot

# Longer lines than this are not diffed character by character (difflib is quadratic).
_MAX_INLINE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Alignment:
    """How the cells of ``a`` became those of ``b``: ids in a unified order, each with
    its status."""

    rows: list[tuple[str, str]]  # (cell id, added|deleted|moved|changed|same)

    def count(self, status: str) -> int:
        """How many cells have this status."""
        return sum(1 for _, s in self.rows if s == status)


def align(a: Snapshot, b: Snapshot) -> Alignment:
    """Match the cells of two snapshots by id (see the module docstring)."""
    a_ids = [c.id for c in a.cells]
    b_ids = [c.id for c in b.cells]
    in_a, in_b = set(a_ids), set(b_ids)
    common_a = [i for i in a_ids if i in in_b]
    common_b = [i for i in b_ids if i in in_a]
    matcher = difflib.SequenceMatcher(None, common_a, common_b, autojunk=False)
    stay = {i for m in matcher.get_matching_blocks() for i in common_a[m.a:m.a + m.size]}
    a_cells = {c.id: c for c in a.cells}
    rows: list[tuple[str, str]] = []
    # Deleted cells are shown where they were: after the nearest cell before them that kept
    # its place (first if there is none).
    deleted_after: dict[str | None, list[str]] = {}
    previous: str | None = None
    for cell_id in a_ids:
        if cell_id not in in_b:
            deleted_after.setdefault(previous, []).append(cell_id)
        elif cell_id in stay:
            previous = cell_id
    rows.extend((gone, "deleted") for gone in deleted_after.pop(None, []))
    for cell in b.cells:
        if cell.id not in in_a:
            rows.append((cell.id, "added"))
        elif cell.id not in stay:
            rows.append((cell.id, "moved"))
        else:
            old = a_cells[cell.id]
            same = old.body == cell.body and old.outputs == cell.outputs
            rows.append((cell.id, "same" if same else "changed"))
        rows.extend((gone, "deleted") for gone in deleted_after.pop(cell.id, []))
    return Alignment(rows)


def summarize(a: Snapshot | None, b: Snapshot) -> dict[str, int]:
    """Counts of cells added, deleted, changed and moved, and cells whose outputs changed,
    from ``a`` to ``b`` (content hashes only: cheap)."""
    if a is None:
        return {"added": len(b.cells), "deleted": 0, "changed": 0, "moved": 0,
                "outputs_changed": 0, "metadata_changed": 0}
    alignment = align(a, b)
    a_cells = {c.id: c for c in a.cells}
    b_cells = {c.id: c for c in b.cells}
    changed = outputs = 0
    for cell_id, status in alignment.rows:
        if status not in ("changed", "moved"):
            continue
        old, new = a_cells[cell_id], b_cells[cell_id]
        changed += old.body != new.body
        outputs += old.outputs != new.outputs
    return {"added": alignment.count("added"), "deleted": alignment.count("deleted"),
            "changed": changed, "moved": alignment.count("moved"), "outputs_changed": outputs,
            "metadata_changed": int(a.metadata != b.metadata)}


def diff_notebooks(a_snap: Snapshot, a: dict[str, Any], b_snap: Snapshot, b: dict[str, Any]
                   ) -> dict[str, Any]:
    """The full difference between two notebooks and their snapshots: every cell in a
    unified order, with line changes (and changed spans inside lines) for the cells whose
    source differs, and outputs and metadata changes summarised."""
    a_cells = {c["id"]: (i, c) for i, c in enumerate(a["cells"])}
    b_cells = {c["id"]: (i, c) for i, c in enumerate(b["cells"])}
    cells = []
    for cell_id, status in align(a_snap, b_snap).rows:
        old = a_cells.get(cell_id)
        new = b_cells.get(cell_id)
        cells.append(_cell_diff(cell_id, status, old, new))
    return {"cells": cells, "summary": summarize(a_snap, b_snap),
            "metadata": _dict_changes(a.get("metadata") or {}, b.get("metadata") or {},
                                      "/metadata")}


def _cell_diff(cell_id: str, status: str, old: tuple[int, dict[str, Any]] | None,
               new: tuple[int, dict[str, Any]] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": cell_id, "status": status,
                             "index_from": None if old is None else old[0],
                             "index_to": None if new is None else new[0]}
    cell = (new or old)[1]  # type: ignore[index]  # one of them is always there
    entry["cell_type"] = cell.get("cell_type")
    if status == "same":
        return entry
    old_cell = old[1] if old is not None else {}
    new_cell = new[1] if new is not None else {}
    old_source, new_source = _source(old_cell), _source(new_cell)
    if old is None or new is None or old_source != new_source:
        entry["source"] = source_lines(old_source if old else None,
                                       new_source if new else None)
    if old is not None and new is not None:
        entry.update(_content_changes(old_cell, new_cell))
    return entry


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _content_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed besides the source, in nbdime's words, summarised."""
    changes: dict[str, Any] = {}
    if old.get("cell_type") != new.get("cell_type"):
        changes["cell_type_from"] = old.get("cell_type")
    if old.get("execution_count") != new.get("execution_count"):
        changes["execution_count"] = [old.get("execution_count"), new.get("execution_count")]
    metadata = _dict_changes(old.get("metadata") or {}, new.get("metadata") or {},
                             "/cells/*/metadata")
    if metadata["changed"]:
        changes["metadata"] = metadata
    old_outputs, new_outputs = old.get("outputs") or [], new.get("outputs") or []
    if old_outputs != new_outputs:
        changes["outputs"] = _output_changes(old_outputs, new_outputs)
    return changes


def _dict_changes(a: dict[str, Any], b: dict[str, Any], path: str) -> dict[str, Any]:
    if a == b:
        return {"changed": False, "keys": []}
    ops = diff_item_at_path(a, b, path)
    return {"changed": True, "keys": sorted({str(op["key"]) for op in ops})}


def _output_changes(a: list[Any], b: list[Any]) -> dict[str, Any]:
    """nbdime's output diff, counted: outputs added, removed and changed in place."""
    counts = {"added": 0, "removed": 0, "changed": 0}
    for op in diff_item_at_path(a, b, "/cells/*/outputs"):
        if op["op"] == "addrange":
            counts["added"] += len(op["valuelist"])
        elif op["op"] == "removerange":
            counts["removed"] += op["length"]
        else:
            counts["changed"] += 1
    return {"from": len(a), "to": len(b), **counts}


def source_lines(old: str | None, new: str | None) -> list[dict[str, Any]]:
    """A cell's source change as lines: ``{"op": " "|"-"|"+", "text", "spans"?}``; spans
    mark the changed characters of a changed line, in UTF-16 units (as browsers count)."""
    a = [] if old is None else old.splitlines()
    b = [] if new is None else new.splitlines()
    if old is None or new is None:
        return [{"op": "+" if old is None else "-", "text": t} for t in (b or a)]
    # nbdime's source differ keeps line endings, so a last line that gained a newline
    # would count as changed: diff the lines without them.
    ops = nbdime_diff(a, b)
    lines: list[dict[str, Any]] = []
    position = 0
    for key in sorted({op["key"] for op in ops}):
        here = [op for op in ops if op["key"] == key]
        lines.extend({"op": " ", "text": t} for t in a[position:key])
        position = key
        removed: list[str] = []
        added: list[str] = []
        for op in here:
            if op["op"] == "removerange":
                removed = a[key:key + op["length"]]
                position = key + op["length"]
            elif op["op"] == "addrange":
                added = [str(v).rstrip("\r\n") for v in op["valuelist"]]
            elif op["op"] == "patch":  # one line changed in place
                removed, added = a[key:key + 1], [_patched_line(a[key], new, b, key)]
                position = key + 1
        lines.extend(_changed_block(removed, added))
    lines.extend({"op": " ", "text": t} for t in a[position:])
    return lines


def _patched_line(line: str, new: str, b: list[str], key: int) -> str:
    # nbdime patches a line only when the line counts agree around it; take the new text
    return b[key] if key < len(b) else line


def _changed_block(removed: list[str], added: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = ([{"op": "-", "text": t} for t in removed]
                                 + [{"op": "+", "text": t} for t in added])
    for old_line, new_line in zip(out[:len(removed)], out[len(removed):], strict=False):
        spans = _inline_spans(old_line["text"], new_line["text"])
        if spans is not None:
            old_line["spans"], new_line["spans"] = spans
    return out


def _inline_spans(a: str, b: str) -> tuple[list[list[int]], list[list[int]]] | None:
    if len(a) + len(b) > _MAX_INLINE_CHARS:
        return None
    a_spans: list[list[int]] = []
    b_spans: list[list[int]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            a_spans.append([_utf16(a, i1), _utf16(a, i2)])
        if j2 > j1:
            b_spans.append([_utf16(b, j1), _utf16(b, j2)])
    return a_spans, b_spans


def _utf16(text: str, index: int) -> int:
    prefix = text[:index]
    return len(prefix) + sum(1 for c in prefix if ord(c) > 0xFFFF)
