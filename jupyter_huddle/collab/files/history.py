"""Checks on Yjs histories: a compacted state must replay to exactly the live document."""

from __future__ import annotations

from typing import Any

from pycrdt import Array, Doc, Map, Snapshot, Text

from ..documents.values import plain
from ..sync.codec import Reader
from ..sync.update_inspect import decode_state_vector, read_delete_set

_ROOT_TYPES: tuple[type[Any], ...] = (Map, Array, Text)


def verified_state(doc: Doc[Any]) -> bytes | None:
    """The document's state as one update, or None if replaying it would not give back
    exactly this document (same items, same deletions, same content)."""
    state = doc.get_update()
    replica: Doc[Any] = Doc()
    replica.apply_update(state)
    if decode_state_vector(replica.get_state()) != decode_state_vector(doc.get_state()):
        return None
    if _delete_set(replica) != _delete_set(doc):
        return None
    for name in doc.keys():  # noqa: SIM118 - Doc is not a dict
        root = doc[name]
        kind = type(root) if isinstance(root, _ROOT_TYPES) else None
        if kind is None:
            return None
        if plain(replica.get(name, type=kind)) != plain(root):
            return None
    return state


def _delete_set(doc: Doc[Any]) -> dict[int, list[tuple[int, int]]]:
    return read_delete_set(Reader(Snapshot.from_doc(doc).encode()))
