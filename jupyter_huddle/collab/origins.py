"""Transaction origins: who made a change to a document.

Every write to a room's document runs in a transaction tagged with one of these, or with
the ``Connection`` of the client whose update it applies. Persistence, saving, broadcast
and attribution decide from the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from pycrdt import Doc, TransactionEvent


class ServerOrigin(Enum):
    """What on the server made a change (a client's change carries its ``Connection`` instead)."""

    # Content read from the file when a room opens: already on disk, so not a reason to save.
    LOAD = "load"
    # Bookkeeping after a save (``state.dirty``, ``state.hash``): not a reason to save again.
    SAVE_STATE = "save-state"
    # Server fixes of client-made states (a notebook left with no cells): saved like edits.
    REPAIR = "repair"
    # Path changes after a rename.
    RENAME = "rename"
    # History replayed from the update store: already stored, already saved or not.
    STORE = "store"
    # Changes made to the file outside Huddle, merged into the live document.
    FILE = "file"
    # Outputs, counts and execution state written by the server's kernel client.
    KERNEL = "kernel"
    # Review threads written for the comments API (saved into the file's metadata too).
    COMMENTS = "comments"

    @property
    def marks_dirty(self) -> bool:
        """Whether changes with this origin leave the file unsaved (and so schedule a save)."""
        return self in (ServerOrigin.REPAIR, ServerOrigin.KERNEL, ServerOrigin.COMMENTS)

    @property
    def persisted(self) -> bool:
        """Whether changes with this origin go into the update log (replays do not)."""
        return self is not ServerOrigin.STORE


@dataclass(frozen=True, slots=True)
class PersonOrigin:
    """A change the server makes on someone's behalf through the API (a restore from the
    version history): attributed to them, saved like their edits. ``token`` is unique per
    action, so an undo can take back exactly that one."""

    username: str
    display_name: str
    action: str
    token: str


def event_origin(doc: Doc[Any], event: TransactionEvent) -> object:
    """The origin object of the transaction that produced ``event``.

    pycrdt hands observers only the origin's hash; the object lives in ``Doc._origins``
    for the duration of the transaction (reading ``Transaction.origin`` from inside an
    observer fails because the transaction is mutably borrowed).
    """
    origin_hash = event.transaction.origin()  # type: ignore[attr-defined]  # missing in stubs
    if origin_hash is None:
        return None
    return doc._origins.get(origin_hash)


def deep_event_origin(event: Any) -> object:
    """The origin object of the transaction behind a deep-observer event (a cell's text or
    outputs changed): there pycrdt hands the object itself."""
    try:
        return event.transaction.origin
    except Exception:  # a transaction already gone: nobody to attribute it to
        return None
