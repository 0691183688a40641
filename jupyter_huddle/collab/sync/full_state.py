"""The answer to a SyncStep1, encoded once per version of the document and shared.

Every peer that opens a document asks for what it lacks; most lack everything. Answering
each with ``doc.get_update(sv)`` made one private copy of the document per peer: 30 sockets
that never read, on a 40 MB notebook, held 1.2 GB. The room instead encodes its full state
once per version and sends that same bytes object to every peer that needs most of it (a
peer's outbox counts a shared frame once, see ``connection.Outbox``).

Encoding costs about 3 ms per MB, so a large document (over ``SMALL_STATE_BYTES``) is not
re-encoded at every version: peers get the last full state and its *tail*, the changes
since (a second shared frame, cheap to recompute per version); the full state is encoded
again once its tail passes 1/``TAIL_FRACTION`` of it, so a reader that asks again and
again while others type costs one encode per eighth of a document typed, not one per
keystroke. A peer that already has that full state (its state vector covers it: a tab that
reconnects) gets only the tail. A peer of a small document that has most of it gets a diff
of its own, as before: that costs at most a small document.

Deciding costs no more than reading the peer's state vector, which is bounded by its frame.
The cached frames are dropped once every peer they were sent to has left, or when nobody
asked for them in ``IDLE_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from ..errors import ProtocolError
from .codec import MessageType, Reader, SyncType, varuint
from .update_inspect import StateVector, decode_state_vector

# Below this (encoded) size a document is encoded again at every version, and a peer
# that has part of it gets a diff of its own.
SMALL_STATE_BYTES = 1024 * 1024
# A large document's full state is encoded again when its tail passes this fraction of it.
TAIL_FRACTION = 8
# A peer's state vector may name this many clients the document does not know (its own
# edits that were refused) before it is read as "knows nothing we know".
EXTRA_CLIENTS = 64
# Cached frames nobody asked for in this long are dropped (the peers they served have
# them, or left).
IDLE_S = 10.0

EMPTY_STATE_VECTOR = b"\x00"
_STEP2 = bytes((MessageType.SYNC, SyncType.STEP2))


@dataclass(frozen=True, slots=True)
class SyncAnswer:
    """SyncStep2 frames for one peer; ``shared``: the same bytes go to other peers."""

    frames: tuple[bytes, ...]
    shared: bool


def sync_step2(update: bytes) -> bytes:
    """A SyncStep2 frame, copying the update once (a large document is tens of MB)."""
    return b"".join((_STEP2, varuint(len(update)), update))


class FullState:
    """A document's full state as SyncStep2 frames, kept while they serve.

    The room calls ``changed`` after every transaction that changed the document.
    """

    def __init__(self, doc: Doc[Any], clock: Callable[[], float] = time.monotonic) -> None:
        self._doc = doc
        self._clock = clock
        self._version = 0
        self._changed_bytes = 0  # update bytes since the full state was encoded
        self._full: bytes | None = None
        self._full_version = -1
        self._full_sv = EMPTY_STATE_VECTOR
        self._full_clients: StateVector = {}
        self._tail: bytes | None = None
        self._tail_version = -1
        self._used = clock()
        # Peers sent the cached frames (connection ids).
        self._served: set[int] = set()

    def changed(self, update_bytes: int) -> None:
        """Record a change of ``update_bytes`` to the document; the cached frames are now stale."""
        self._version += 1
        self._changed_bytes += update_bytes

    @property
    def cached_bytes(self) -> int:
        """Bytes held by the cached full-state and tail frames."""
        return len(self._full or b"") + len(self._tail or b"")

    @property
    def size_estimate(self) -> int:
        """About how large the encoded document is (0 before it was first encoded)."""
        return 0 if self._full is None else len(self._full) + self._changed_bytes

    def answer(self, state_vector: bytes, peer: int | None = None) -> SyncAnswer:
        """What a peer with ``state_vector`` needs (``peer``: its connection id).

        Raises:
            ProtocolError: the state vector cannot be read.
        """
        answer = self._answer(state_vector)
        if answer.shared and peer is not None:
            self._served.add(peer)
        return answer

    def left(self, peer: int) -> int:
        """A peer left; drop the frames if they served only peers that are gone. Returns
        the bytes released."""
        if peer not in self._served:
            return 0
        self._served.discard(peer)
        return 0 if self._served else self.drop()

    def _answer(self, state_vector: bytes) -> SyncAnswer:
        self._used = self._clock()
        if state_vector == EMPTY_STATE_VECTOR:
            return self._everything()
        if self._full is None:
            self._encode()
        known = _read_bounded(state_vector, len(self._full_clients) + EXTRA_CLIENTS)
        if known is None:
            return self._everything()  # it names more clients than the document has
        if self.size_estimate < SMALL_STATE_BYTES:
            return self._diff(state_vector, known)
        if all(known.get(client, 0) >= clock for client, clock in self._full_clients.items()):
            return SyncAnswer((self._current_tail(),), shared=True)
        return self._everything()

    def drop(self) -> int:
        """Forget the cached frames; how many bytes they were."""
        released = self.cached_bytes
        self._served.clear()
        self._full = self._tail = None
        self._full_version = self._tail_version = -1
        self._full_clients = {}
        return released

    def expire(self, now: float | None = None) -> int:
        """Drop the frames if nobody asked for them in ``IDLE_S``; bytes released."""
        idle = (self._clock() if now is None else now) - self._used
        return self.drop() if self._full is not None and idle >= IDLE_S else 0

    def _everything(self) -> SyncAnswer:
        full = self._refresh()
        if self._full_version == self._version:
            return SyncAnswer((full,), shared=True)
        return SyncAnswer((full, self._current_tail()), shared=True)

    def _refresh(self) -> bytes:
        """The full state, encoded again if it is stale and either small or outgrown by
        its tail."""
        full = self._full
        if full is None or self._full_version == self._version:
            return full if full is not None else self._encode()
        if self.size_estimate < SMALL_STATE_BYTES:
            return self._encode()
        if len(self._current_tail()) * TAIL_FRACTION > len(full):
            return self._encode()
        return full

    def _encode(self) -> bytes:
        self._tail, self._tail_version = None, -1
        self._served.clear()  # the peers served so far hold the frames being replaced
        self._full = sync_step2(self._doc.get_update())
        self._full_sv = self._doc.get_state()
        self._full_clients = decode_state_vector(self._full_sv)
        self._full_version = self._version
        self._changed_bytes = 0
        return self._full

    def _current_tail(self) -> bytes:
        """Everything since the full state (its delete set, at least), for this version."""
        if self._tail is None or self._tail_version != self._version:
            self._tail = sync_step2(self._doc.get_update(self._full_sv))
            self._tail_version = self._version
        return self._tail

    def _diff(self, state_vector: bytes, known: StateVector) -> SyncAnswer:
        """A diff of its own, unless the peer lacks most of what the full state holds (by
        clock: cheap, and checked against the diff's size once made)."""
        total = sum(self._full_clients.values())
        missing = sum(max(clock - known.get(client, 0), 0)
                      for client, clock in self._full_clients.items())
        if missing * 2 > total:
            return self._everything()
        try:
            update = self._doc.get_update(state_vector)
        except Exception as err:  # yrs rejects undecodable state vectors with a plain error
            raise ProtocolError(f"invalid state vector: {err}") from err
        if len(update) * 2 > self.size_estimate:
            return self._everything()  # most of the document: share it
        return SyncAnswer((sync_step2(update),), shared=False)


def _read_bounded(state_vector: bytes, limit: int) -> StateVector | None:
    """The state vector, or None if it names more than ``limit`` clients.

    Raises:
        ProtocolError: it is truncated.
    """
    reader = Reader(state_vector)
    count = reader.read_varuint()
    if count > limit:
        return None
    vector: StateVector = {}
    for _ in range(count):
        client = reader.read_varuint()
        vector[client] = reader.read_varuint()
    return vector
