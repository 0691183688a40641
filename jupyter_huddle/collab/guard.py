"""Roots of a document that only the server writes (review comments).

Clients must not write them: authorship and times are stamped by the server. A peer's
update can mix a legitimate edit with a change to a protected root, and an update cannot
be partly refused before it is applied, so the room applies it and then undoes, in the
same breath, whatever it did to the protected roots: an undo manager scoped to those
roots and tracking only peers' transactions. The peers then receive the net result, in
which the forged change never shows.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Map, UndoManager


class ProtectedRoots:
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
