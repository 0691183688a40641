"""Read what a Yjs update would change, without applying it.

A read-only peer must not change the document, but its SyncStep2 reply always carries its
whole delete set, so "non-empty" does not mean "an edit". An update changes nothing when
every struct it carries is already known (by client clock) and every deletion in it is
already in the document's delete set.

The answer only decides whether the peer is told "your edit was refused" (the update is
never applied either way), and a peer chooses what it sends, so the check must cost no more
than the frame is worth. All of it runs in yrs, linear in the update: ``get_update(u, sv)``
sheds the structs the document already has, ``IdSet.decode`` reads the delete set and
``IdMap.diff_with`` removes what the document already deleted. The document's side (state
vector and delete set) is read once per document version (``KnownState``, which the room
invalidates on every transaction: pure deletions do not change the state vector). An update
larger than ``MAX_INSPECTED_BYTES`` is not compared at all (see ``changes_document``).
"""

from __future__ import annotations

from typing import Any

from pycrdt import ContentAttribute, Doc, IdMap, IdSet, Snapshot, get_update

from ..errors import ProtocolError
from .codec import Reader

StateVector = dict[int, int]
# client id -> sorted, merged list of (start clock, end clock) ranges
DeleteSet = dict[int, list[tuple[int, int]]]

# Beyond this size an update from a read-only peer is not compared with the document. yrs
# reads about 20 MB/s of fragmented delete set on the reference machine, so this keeps the
# worst frame near 25 ms; an honest read-only client's SyncStep2 reply is its delete set,
# about 4 bytes per deleted range: 128 000 separate deletions fit.
MAX_INSPECTED_BYTES = 512 * 1024

# IdMap needs an attribute on every range it holds (an empty list is a no-op).
_IN_UPDATE = [ContentAttribute("update", True)]


def check_leading_count(payload: bytes, what: str) -> None:
    """Refuse an update or state vector whose first count promises more entries than it
    has bytes for (every entry takes at least two).

    yrs sizes its allocations from that count: five bytes claiming 2**28 entries would cost
    half a gigabyte and block the server before failing.

    Raises:
        ProtocolError: the count cannot be right.
    """
    reader = Reader(payload)
    count = reader.read_varuint()
    if count > reader.remaining // 2:
        raise ProtocolError(f"{what} claims {count} entries in {reader.remaining} bytes")


def read_state_vector(reader: Reader) -> StateVector:
    """Read a state vector (client id -> clock) at the reader's position.

    Raises:
        ProtocolError: the data is truncated or a varuint is over-long.
    """
    count = reader.read_varuint()
    vector: StateVector = {}
    for _ in range(count):
        client = reader.read_varuint()
        vector[client] = reader.read_varuint()
    return vector


def decode_state_vector(data: bytes) -> StateVector:
    """Decode an encoded state vector into client id -> clock.

    Raises:
        ProtocolError: the data is truncated or a varuint is over-long.
    """
    return read_state_vector(Reader(data))


def read_delete_set(reader: Reader) -> DeleteSet:
    """A delete set as Python data (for history checks; frames use ``KnownState``)."""
    clients = reader.read_varuint()
    result: DeleteSet = {}
    for _ in range(clients):
        client = reader.read_varuint()
        ranges = []
        for _ in range(reader.read_varuint()):
            clock = reader.read_varuint()
            length = reader.read_varuint()
            ranges.append((clock, clock + length))
        result[client] = _merge(ranges)
    return result


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class KnownState:
    """A document's state vector and delete set, read once per version of the document.

    The owner calls ``invalidate`` after every transaction that changed the document.
    """

    __slots__ = ("_deletes", "_doc", "_state")

    def __init__(self, doc: Doc[Any]) -> None:
        self._doc = doc
        self._state: bytes | None = None
        self._deletes: IdSet | None = None

    def invalidate(self) -> None:
        """Forget the cached state vector and delete set (the document changed)."""
        self._state = None
        self._deletes = None

    @property
    def state(self) -> bytes:
        """The document's encoded state vector, read once per version."""
        if self._state is None:
            self._state = self._doc.get_state()
        return self._state

    @property
    def deletes(self) -> IdSet:
        """The document's delete set, read once per version."""
        if self._deletes is None:
            # A snapshot is the delete set followed by the state vector; decode reads the first.
            self._deletes = IdSet.decode(Snapshot.from_doc(self._doc).encode())
        return self._deletes


def changes_document(update: bytes, doc: Doc[Any] | KnownState) -> bool:
    """Whether applying ``update`` to ``doc`` would change it.

    Pass the room's ``KnownState`` rather than the ``Doc`` to read the document's side once
    per version. An update above ``MAX_INSPECTED_BYTES`` is judged by its first count
    alone: one that carries structs is taken as a change, a delete-only one (what honest
    read-only clients send, their delete set) as none.

    Raises:
        ProtocolError: the update is not a valid Yjs v1 update.
    """
    check_leading_count(update, "update")
    known = doc if isinstance(doc, KnownState) else KnownState(doc)
    reader = Reader(update)
    carries_structs = reader.read_varuint() != 0
    if len(update) > MAX_INSPECTED_BYTES:
        return carries_structs
    try:
        if carries_structs:
            # Keep only the structs the document does not have (and the delete set).
            update = get_update(update, known.state)
            reader = Reader(update)
            if reader.read_varuint() != 0:
                return True
        deletes = IdSet.decode(update[len(update) - reader.remaining:])
    except ValueError as err:  # yrs raises plain errors on undecodable bytes
        raise ProtocolError(f"invalid update: {err}") from err
    return _deletes_anything_new(deletes, known.deletes)


def _deletes_anything_new(deletes: IdSet, known: IdSet) -> bool:
    unknown = IdMap.from_set(deletes, _IN_UPDATE)
    if unknown.is_empty():
        return False
    unknown.diff_with(known)
    return not unknown.is_empty()
