"""Peers held apart from a room because their copy belongs to another history.

Such a peer (see ``stale``) is not among the room's peers: it receives nothing of the
room but its state vector, so its answer (SyncStep2) is everything its copy holds; nothing
it sends is applied or relayed. Its copy is handed on once that answer arrives, or after
``wait_s`` without one; then the peer is closed (by whoever took the copy), and until its
socket is gone nothing it sends counts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from pycrdt import merge_updates

from . import codec
from .connection import Connection

# Told what a held peer's copy holds (None: it sent nothing in time), and whether its
# session named the old history (else only its copy did); closes the peer.
CopyHandler = Callable[[Connection, bytes | None, bool], None]


@dataclass(eq=False)
class _Held:
    peer: Connection
    timer: asyncio.TimerHandle
    by_session: bool
    updates: list[bytes] = field(default_factory=list)
    held_bytes: int = 0
    # Its copy was handed on: until its socket closes, whatever it sends is ignored.
    released: bool = False


class HeldPeers:
    """Peers held apart from a room until their copy of an older history is handed on.

    ``on_copy`` receives each copy (see ``CopyHandler``); ``wait_s`` bounds the wait for it.
    """

    def __init__(self, on_copy: CopyHandler, wait_s: float, max_bytes: int) -> None:
        self._on_copy = on_copy
        self._wait_s = wait_s
        # What one held peer may hand in before its copy is taken as it stands: a client
        # that never answers with its copy cannot fill memory with updates meanwhile.
        self._max_bytes = max_bytes
        self._held: dict[int, _Held] = {}

    def __contains__(self, peer: Connection) -> bool:
        return peer.id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, peer: Connection, state_vector: bytes, by_session: bool,
             copy: bytes | None = None) -> None:
        """Hold ``peer`` and ask for its copy (``state_vector``: the room's), unless its
        ``copy`` came already."""
        if peer.id in self._held:
            return
        timer = asyncio.get_running_loop().call_later(self._wait_s, self._release, peer.id)
        self._held[peer.id] = held = _Held(peer, timer, by_session)
        if copy is not None:
            held.updates.append(copy)
            self._release(peer.id)
            return
        peer.send(codec.encode_sync_step1(state_vector))

    def handle(self, peer: Connection, message: codec.Message) -> None:
        """A frame from a held peer: its copy (and whatever it typed since) is kept, the
        rest is ignored."""
        held = self._held.get(peer.id)
        if held is None:
            return
        match message:
            case codec.SaveRequest(request_id):
                # nothing of its copy is saved; a client waiting for an answer gets one
                peer.send(codec.encode_raw(json.dumps(
                    {"type": "save", "responseTo": request_id, "status": "failed"})))
            case _ if held.released:
                pass
            case codec.SyncStep2(update) | codec.SyncUpdate(update):
                held.updates.append(update)
                held.held_bytes += len(update)
                if isinstance(message, codec.SyncStep2) or held.held_bytes >= self._max_bytes:
                    self._release(peer.id)  # its answer to our state vector: the copy
            case _:
                pass

    def forget(self, peer: Connection) -> None:
        """The peer's socket closed (before its copy came, or after)."""
        held = self._held.pop(peer.id, None)
        if held is not None:
            held.timer.cancel()

    def close(self) -> None:
        """Hand on every held peer's copy now, as far as it came (the room is closing)."""
        for peer_id in list(self._held):
            self._release(peer_id)
        self._held.clear()

    def _release(self, peer_id: int) -> None:
        held = self._held.get(peer_id)
        if held is None or held.released:
            return
        held.released = True
        held.timer.cancel()
        updates = [u for u in held.updates if u != codec.EMPTY_UPDATE]
        copy = (merge_updates(*updates) if len(updates) > 1 else updates[0]) if updates else None
        self._on_copy(held.peer, copy, held.by_session)
