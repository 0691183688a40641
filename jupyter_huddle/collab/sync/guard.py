"""What only the server writes: whole roots (review comments) and keys of ``state``.

Clients must not write them: authorship and times are stamped by the server. A peer's
update can mix a legitimate edit with a change to a protected root, and an update cannot
be partly refused before it is applied, so the room applies it and then undoes, in the
same breath, whatever it did to the protected roots: an undo manager scoped to those
roots and tracking only peers' transactions. The peers then receive the net result, in
which the forged change never shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pycrdt import Doc, Map, UndoManager

from ..origins import ServerOrigin

_MISSING = object()


class ProtectedRoots:
    """Undoes whatever a peer's update did to the server-only roots (review comments)."""

    message = "Comments are changed through the comments API only; that change was undone."

    def __init__(self, doc: Doc[Any], names: tuple[str, ...]) -> None:
        self.names = names
        self._undo = UndoManager(scopes=[doc.get(name, type=Map) for name in names],
                                 capture_timeout_millis=0)

    def track(self, peer: object) -> None:
        """Watch this peer's transactions (the server's own writes are never tracked)."""
        self._undo.include_origin(peer)

    def before(self, peer: object) -> None:
        """Nothing to prepare: every peer is tracked from the moment it joins."""

    def revert(self, peer: object = None) -> bool:
        """Undo what tracked transactions did to the protected roots; True if anything."""
        touched = self._undo.can_undo()
        while self._undo.can_undo():
            self._undo.undo()
        self._undo.clear()
        return bool(touched)


# Keys of the ``state`` map that only the server writes: where the file is, what was saved
# last, and why a save failed. Clients read them ("Save failed: ..." is shown to everyone).
SERVER_STATE_KEYS = ("path", "hash", "save_error")


class ServerState:
    """Keys of a document's ``state`` map a peer must not change, checked around each of
    its updates. Legitimate clients write two keys there, and only in one shape:
    JupyterLab sets ``dirty`` (a boolean) with every edit and after saving, and its
    docprovider sets ``document_id`` to the room's own id. Anything else a peer writes to
    those keys, and any write to ``SERVER_STATE_KEYS``, is put back as it was, in the same
    breath (the others receive only the net result)."""

    names = ("the document's save state",)
    message = "The save state is the server's to write; that change was undone."

    def __init__(self, doc: Doc[Any], room_id: str) -> None:
        self._doc = doc
        self._state: Map[Any] = doc.get("state", type=Map)
        self._accept: Mapping[str, Callable[[Any], bool]] = {
            **{key: _never for key in SERVER_STATE_KEYS},
            "dirty": lambda value: isinstance(value, bool),
            "document_id": lambda value: value == room_id,
        }
        self._before: dict[str, Any] = {}

    def before(self, peer: object) -> None:
        """Note the guarded keys' values before this peer's update is applied."""
        state = self._state
        self._before = {key: state.get(key, _MISSING) for key in self._accept}

    def revert(self, peer: object = None) -> bool:
        """Put back what the peer changed and may not; True if anything."""
        state = self._state
        wrong = {}
        for key, old in self._before.items():
            now = state.get(key, _MISSING)
            if now != old and not self._accept[key](now):
                wrong[key] = old
        if not wrong:
            return False
        with self._doc.transaction(origin=ServerOrigin.SAVE_STATE):
            for key, old in wrong.items():
                if old is _MISSING:
                    del state[key]
                else:
                    state[key] = old
        return True


def _never(value: Any) -> bool:
    return False
