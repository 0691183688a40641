"""Read what a Yjs update would change, without applying it.

A read-only peer must not change the document, but its SyncStep2 reply always carries its
whole delete set, so "non-empty" does not mean "an edit". An update changes nothing when
every struct it carries is already known (by client clock) and every deletion in it is
already in the document's delete set. Both are read from lib0 encodings that pycrdt gives
us: the update's state vector, its delete set (``get_update(u, get_state(u))`` keeps only
the delete set) and the document's snapshot (delete set, then state vector).
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Snapshot, get_state, get_update

from .codec import Reader
from .errors import ProtocolError

StateVector = dict[int, int]
# client id -> sorted, merged list of (start clock, end clock) ranges
DeleteSet = dict[int, list[tuple[int, int]]]


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
    count = reader.read_varuint()
    vector: StateVector = {}
    for _ in range(count):
        client = reader.read_varuint()
        vector[client] = reader.read_varuint()
    return vector


def decode_state_vector(data: bytes) -> StateVector:
    return read_state_vector(Reader(data))


def read_delete_set(reader: Reader) -> DeleteSet:
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


def _covered(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(lo <= start and end <= hi for lo, hi in ranges)


def update_delete_set(update: bytes) -> DeleteSet | None:
    """The delete set an update carries; None if it also carries structs it cannot shed
    (items whose dependencies are missing: such an update changes any document)."""
    only_deletes = get_update(update, get_state(update))
    reader = Reader(only_deletes)
    if reader.read_varuint() != 0:
        return None
    return read_delete_set(reader)


def document_delete_set(doc: Doc[Any]) -> DeleteSet:
    return read_delete_set(Reader(Snapshot.from_doc(doc).encode()))


def changes_document(update: bytes, doc: Doc[Any]) -> bool:
    """Whether applying ``update`` to ``doc`` would change it.

    Raises:
        ProtocolError: the update is not a valid Yjs v1 update.
    """
    try:
        update_state = get_state(update)
    except Exception as err:  # yrs raises plain exceptions on undecodable bytes
        raise ProtocolError(f"invalid update: {err}") from err
    update_sv = decode_state_vector(update_state)
    doc_sv = decode_state_vector(doc.get_state())
    if any(clock > doc_sv.get(client, 0) for client, clock in update_sv.items()):
        return True
    deletes = update_delete_set(update)
    if deletes is None:
        return True
    known = document_delete_set(doc)
    for client, ranges in deletes.items():
        known_ranges = known.get(client, [])
        if not all(_covered(known_ranges, start, end) for start, end in ranges):
            return True
    return False
