"""Telling a peer's copy of the document from another history of it, before it is merged.

A peer's first state vector that shares no client with the room's history, while holding
something, may be a copy from before the history was rebuilt (see ``stale``). Its answer
(SyncStep2) then waits for its first update: if that brings content of the document's own
kind (cells, text), the peer is held apart (``HeldPeers``) and nothing of it is merged;
otherwise (a client that set up its metadata before its first sync) it is merged and the
peer answered as any other. Peers whose session names an older history are held at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..documents.base import SharedDocument
from . import codec
from .connection import Connection
from .held import CopyHandler, HeldPeers
from .stale import foreign_history, holds_content
from .update_inspect import KnownState, check_leading_count, decode_state_vector

log = logging.getLogger(__name__)

# How long a held peer's copy, or a vetted peer's first update, is waited for (a client
# answers our state vector at once).
STALE_COPY_WAIT_S = 5.0


class HistoryVetting:
    """The room's checks on peers' first state vectors, and the peers it holds apart.

    ``leave`` takes a peer out of the room (to be held instead), ``apply`` merges a peer's
    update, ``answer`` sends a peer its SyncStep2.
    """

    def __init__(self, document: SharedDocument | None, known: KnownState,
                 on_copy: CopyHandler, *, max_copy_bytes: int,
                 leave: Callable[[Connection], None],
                 apply: Callable[[Connection, bytes], None],
                 answer: Callable[[Connection, bytes], None]) -> None:
        self._document = document
        self._known = known
        self._leave = leave
        self._apply = apply
        self._answer = answer
        self.held = HeldPeers(on_copy, STALE_COPY_WAIT_S, max_copy_bytes)
        # Peers whose first state vector was checked.
        self._vetted: set[int] = set()
        # Peers whose state vector shares nothing with this history: their SyncStep1 is
        # answered once their first update shows what their copy holds (peer id -> the
        # state vector, and the timer that answers it anyway).
        self._unanswered: dict[int, tuple[bytes, asyncio.TimerHandle]] = {}

    def hold(self, peer: Connection, by_session: bool = True) -> None:
        """Hold a peer apart at once (its session names an older history)."""
        self.held.hold(peer, self._known.state, by_session)

    def holds(self, peer: Connection) -> bool:
        """Whether ``peer`` is held apart: its frames go to ``handle_held``."""
        return peer in self.held

    def handle_held(self, peer: Connection, message: codec.Message) -> None:
        """A frame from a held peer (see ``HeldPeers.handle``)."""
        self.held.handle(peer, message)

    def first_sync(self, peer: Connection, state_vector: bytes) -> bool:
        """Vet a peer's SyncStep1; False: its answer waits for its first update."""
        if self._document is None or peer.id in self._vetted:
            return True
        self._vetted.add(peer.id)
        check_leading_count(state_vector, "state vector")
        if not foreign_history(decode_state_vector(state_vector),
                               decode_state_vector(self._known.state)):
            return True
        timer = asyncio.get_running_loop().call_later(
            STALE_COPY_WAIT_S, self.settle, peer, None)
        self._unanswered[peer.id] = (state_vector, timer)
        return False

    def waiting(self, peer: Connection) -> bool:
        """Whether the peer's next update decides what its copy is (``settle``)."""
        return peer.id in self._unanswered

    def settle(self, peer: Connection, update: bytes | None) -> None:
        """The first update of a peer whose copy shares nothing with this history (None:
        none came in time): hold it apart if it brings content, else merge and answer."""
        pending = self._unanswered.pop(peer.id, None)
        if pending is None or peer.closed:
            return
        state_vector, timer = pending
        timer.cancel()
        if update is not None and self._document is not None and holds_content(
                update, self._document):
            log.warning("holding %r apart: its copy is another history", peer)
            self._leave(peer)
            self.held.hold(peer, self._known.state, by_session=False, copy=update)
            return
        if update is not None:
            self._apply(peer, update)
        self._answer(peer, state_vector)

    def forget(self, peer: Connection) -> None:
        """The peer's socket closed."""
        self._vetted.discard(peer.id)
        unanswered = self._unanswered.pop(peer.id, None)
        if unanswered is not None:
            unanswered[1].cancel()
        self.held.forget(peer)

    def close(self) -> None:
        """The room is closing: hand on every held copy, stop every timer."""
        for _, timer in self._unanswered.values():
            timer.cancel()
        self._unanswered.clear()
        self.held.close()
