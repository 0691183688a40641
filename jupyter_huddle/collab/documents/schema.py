"""The notebook schema's plain-JSON side, as functions: cells as jupyter_ydoc's
``create_ycell`` takes them, outputs as Y types, digests, cleaning.

``NotebookDocument`` (notebook.py) and the merge (merge.py) both build on these; nothing
here holds a document. Which cell fields are shared types is jupyter_ydoc's (upstream.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import uuid4

from pycrdt import Map, Text

from .upstream import NBFORMAT_MAJOR_VERSION, NBFORMAT_MINOR_VERSION

# What a notebook without them gets: jupyter_ydoc's defaults (4.5).
DEFAULT_NBFORMAT = NBFORMAT_MAJOR_VERSION
DEFAULT_NBFORMAT_MINOR = NBFORMAT_MINOR_VERSION
# The root where review threads are kept (stock JupyterLab ignores it; only the server
# writes it), and where the file keeps them: ``metadata.huddle.comments``.
THREADS_ROOT = "comments"
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


def join_text(text: Any) -> str:
    """nbformat multiline text (a string or a list of lines) as one string."""
    return "".join(text) if isinstance(text, list) else str(text)


def output_to_ymap(output: dict[str, Any]) -> Map[Any]:
    """A prelim Y.Map for one output: jupyter_ydoc's shape (a stream's ``text`` a Y.Text,
    the rest plain JSON), made here because the kernel writes outputs one message at a
    time and jupyter_ydoc builds them only in bulk, deep-copying each (the private
    ``YNotebook._create_youtputs``). tests/unit/test_documents_upstream.py checks that both
    make the same output."""
    value = dict(output)
    if value.get("output_type") == "stream":
        value["text"] = Text(join_text(value.get("text", "")))
    return Map(value)


def cell_fields(cell: dict[str, Any]) -> dict[str, Any]:
    """One nbformat cell as jupyter_ydoc's ``YNotebook.create_ycell`` takes it, with what
    Huddle has always written besides: ``source`` joined whatever its form (also missing or
    null), ``metadata`` a dict even when null, a code cell's ``outputs`` a list and its
    ``execution_count`` present (null if missing) and a stream's ``text`` joined whatever
    its form; any other cell without ``outputs`` and without empty ``attachments``
    (jupyter_ydoc drops those for markdown and raw cells only). A cell with no
    ``cell_type`` (jupyter_ydoc requires one) gets a null one, which ``prepare_for_save``
    makes raw as before.
    """
    value = {k: v for k, v in cell.items() if k not in ("source", "metadata", "outputs")}
    value.setdefault("cell_type", None)
    value["source"] = join_text(cell.get("source", ""))
    value["metadata"] = dict(cell.get("metadata") or {})
    if cell.get("cell_type") == "code":
        value["outputs"] = [_output_fields(o) for o in cell.get("outputs") or []]
        value.setdefault("execution_count", None)
    elif not value.get("attachments"):
        value.pop("attachments", None)
    return value


def _output_fields(output: Any) -> Any:
    if (isinstance(output, dict) and output.get("output_type") == "stream"
            and not isinstance(output.get("text", ""), str)):
        return {**output, "text": join_text(output.get("text", ""))}
    return output


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


def clean_cell(cell: dict[str, Any], *, keep_id: bool) -> dict[str, Any]:
    """A cell as saved: no live execution state, the keys nbformat requires."""
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


def copy_json(value: Any) -> Any:
    """Deep copy into plain dicts and lists (nbformat hands out NotebookNode subclasses)."""
    if isinstance(value, dict):
        return {str(k): copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    return value


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
    metadata = split_history_stamp(metadata)[0]  # changes when history is thinned only
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
    return _split_huddle(metadata, "comments")


def with_comments(metadata: dict[str, Any], threads: list[dict[str, Any]]) -> dict[str, Any]:
    """Notebook metadata holding these saved review threads."""
    return _with_huddle(metadata, "comments", threads)


def split_history_stamp(metadata: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """(notebook metadata without the version history stamp, the stamp or None)."""
    return _split_huddle(metadata, "history")


def with_history_stamp(metadata: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    """Notebook metadata holding the version history stamp (``huddle.history``): tells a
    server whose store lost the history that there was one."""
    return _with_huddle(metadata, "history", stamp)


def with_copy_of(metadata: dict[str, Any], original_path: str, username: str) -> dict[str, Any]:
    """Notebook metadata of a personal copy: which notebook it copies and who made it
    (``huddle.copy_of``; the web app says "Your copy of …" with a link to the original).
    Anyone who may edit the copy can change it: the app shows it as a claim, a link inside
    the app and nothing more."""
    return _with_huddle(metadata, "copy_of", {"path": original_path, "by": username})


def saved_only(metadata: dict[str, Any]) -> dict[str, Any]:
    """Notebook metadata without what Huddle keeps in the file only (threads, stamp)."""
    return split_history_stamp(split_comments(metadata)[0])[0]


def _split_huddle(metadata: dict[str, Any], key: str) -> tuple[dict[str, Any], Any]:
    huddle = metadata.get("huddle")
    if not isinstance(huddle, dict) or key not in huddle:
        return metadata, None
    rest = {k: v for k, v in huddle.items() if k != key}
    plain_metadata = {k: v for k, v in metadata.items() if k != "huddle"}
    if rest:
        plain_metadata["huddle"] = rest
    return plain_metadata, huddle[key]


def _with_huddle(metadata: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    huddle = metadata.get("huddle")
    return {**metadata, "huddle": {**(huddle if isinstance(huddle, dict) else {}),
                                   key: value}}
