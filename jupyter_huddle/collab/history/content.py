"""A version's content: the notebook split into content-addressed blobs and a manifest.

Each cell is two blobs (the cell without its outputs, and its outputs) and the notebook's
metadata one more; a blob's key is the hash of its JSON, so versions that share a cell
share its blob (a version that changes one cell stores one new blob). The manifest names
the blobs in order, with the cells' ids, and carries the version's line authorship
(``blame``). Blobs and manifests are stored zlib-compressed.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError

MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CellEntry:
    """One cell of a version: its id, and the hashes of its body and outputs."""

    id: str
    body: str
    outputs: str | None  # None: a cell without outputs (markdown, raw)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a version holds, by reference (see the module docstring)."""

    nbformat: int
    nbformat_minor: int
    metadata: str
    cells: tuple[CellEntry, ...]
    # Line authorship when the version was recorded (``blame.encode``), by cell id.
    blame: dict[str, Any] = field(default_factory=dict)

    @property
    def refs(self) -> frozenset[str]:
        """Every blob hash this snapshot refers to."""
        hashes = {self.metadata}
        for cell in self.cells:
            hashes.add(cell.body)
            if cell.outputs is not None:
                hashes.add(cell.outputs)
        return frozenset(hashes)

    def cell(self, cell_id: str) -> CellEntry | None:
        """The entry of the cell with this id, if the version has it."""
        return next((c for c in self.cells if c.id == cell_id), None)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def source_digest(source: str) -> str:
    """A short hash of a cell's source (does the blame recorded with it still apply?)."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def split(notebook: dict[str, Any]) -> tuple[Snapshot, dict[str, bytes]]:
    """A notebook (nbformat dict, unique cell ids) as a snapshot and its blobs (JSON
    bytes, uncompressed), by hash."""
    blobs: dict[str, bytes] = {}

    def keep(value: Any) -> str:
        data = _json_bytes(value)
        digest = _digest(data)
        blobs[digest] = data
        return digest

    cells = []
    for cell in notebook.get("cells") or []:
        body = {k: v for k, v in cell.items() if k not in ("id", "outputs")}
        outputs = keep(cell["outputs"]) if "outputs" in cell else None
        cells.append(CellEntry(str(cell.get("id", "")), keep(body), outputs))
    snapshot = Snapshot(int(notebook.get("nbformat", 4)), int(notebook.get("nbformat_minor", 5)),
                        keep(notebook.get("metadata") or {}), tuple(cells))
    return snapshot, blobs


def assemble(snapshot: Snapshot, blobs: dict[str, Any]) -> dict[str, Any]:
    """The notebook a snapshot describes, from its decoded blobs (``decode_blob``).

    Raises:
        StoreError: a blob it refers to is missing.
    """
    missing = snapshot.refs - blobs.keys()
    if missing:
        raise StoreError(f"version content is missing {len(missing)} blob(s)")
    cells = []
    for entry in snapshot.cells:
        cell = {"id": entry.id, **blobs[entry.body]}
        if entry.outputs is not None:
            cell["outputs"] = blobs[entry.outputs]
        cells.append(cell)
    return {"nbformat": snapshot.nbformat, "nbformat_minor": snapshot.nbformat_minor,
            "metadata": blobs[snapshot.metadata], "cells": cells}


def encode_blob(data: bytes) -> bytes:
    """A blob as stored."""
    return zlib.compress(data, 6)


def decode_blob(stored: bytes) -> Any:
    """A stored blob's JSON value.

    Raises:
        StoreError: it is not a blob (a damaged store).
    """
    try:
        return json.loads(zlib.decompress(stored))
    except (zlib.error, ValueError) as err:
        raise StoreError(f"a stored version blob is damaged: {err}") from err


def encode_manifest(snapshot: Snapshot) -> bytes:
    """A snapshot as stored."""
    value = {"format": MANIFEST_FORMAT, "nbformat": snapshot.nbformat,
             "nbformat_minor": snapshot.nbformat_minor, "metadata": snapshot.metadata,
             "cells": [[c.id, c.body, c.outputs] for c in snapshot.cells],
             "blame": snapshot.blame}
    return zlib.compress(_json_bytes(value), 6)


def decode_manifest(stored: bytes) -> Snapshot:
    """A stored manifest as a snapshot.

    Raises:
        StoreError: it is damaged or of a format this server does not know.
    """
    value = decode_blob(stored)
    if not isinstance(value, dict) or value.get("format") != MANIFEST_FORMAT:
        raise StoreError("a stored version manifest is damaged or of an unknown format")
    try:
        cells = tuple(CellEntry(str(i), str(b), None if o is None else str(o))
                      for i, b, o in value["cells"])
        return Snapshot(int(value["nbformat"]), int(value["nbformat_minor"]),
                        str(value["metadata"]), cells, dict(value.get("blame") or {}))
    except (KeyError, TypeError, ValueError) as err:
        raise StoreError(f"a stored version manifest is damaged: {err}") from err
