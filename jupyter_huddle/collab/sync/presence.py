"""A room's presence: relaying peers' awareness changes, and the server's own entry.

Presence changes go on at once in a small room (a cursor must move now) and in batches in
a large one (more than ``awareness_batch_above_peers`` peers), where read-only peers (a
class watching) get the presence of those who may edit, and departures, but not each
other's cursors: that traffic would grow with the square of the class. The server's own
entry (kernel status, run queue, presenter) has an awareness client id of its own that
only this object writes; every joiner is told which one it is.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from ..settings import CollabSettings
from . import codec
from .awareness import AwarenessTable, encode_entries
from .connection import Connection

Broadcast = Callable[[bytes, Connection | None], None]


class PresenceRelay:
    """Presence for the peers of one room (``peers``: the room's own table, read live)."""

    def __init__(self, peers: dict[int, Connection], settings: CollabSettings,
                 broadcast: Broadcast) -> None:
        self._peers = peers
        self._settings = settings
        self._broadcast = broadcast
        self.table = AwarenessTable(settings.max_awareness_ids_per_connection,
                                    settings.max_awareness_state_bytes)
        self.server_client_id = random.getrandbits(31)
        self.table.reserve_for_server(self.server_client_id)
        self._server_clock = 0
        self._server_state: dict[str, Any] = {}
        # Changes waiting for the next batch (large rooms):
        # client id -> (clock, state, whether read-only peers get it too)
        self._batch: dict[int, tuple[int, bytes, bool]] = {}
        self._flush: asyncio.TimerHandle | None = None

    def close(self) -> None:
        """The room is closing: no batch goes out any more."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def snapshot_for(self, peer: Connection) -> bytes | None:
        """Everyone's presence for a joining peer (in a large room, a read-only peer gets
        only the presence of those who may edit); None if there is none."""
        large = self._large()
        return self.table.snapshot(None if peer.permissions.write or not large
                                   else self._is_writer)

    def name_peer(self, peer: Connection) -> None:
        """A joining peer's name as this room shows it (in the people list and on its
        cursor): when someone else here has the same name (Jupyter names anonymous users
        after a few dozen moons), it becomes "Name 2" (the next free number); another tab
        of the same person keeps the name that person has here."""
        name = peer.presence.get("name")
        if not isinstance(name, str):
            return
        taken: set[object] = set()
        for other in self._peers.values():
            if other is peer:
                continue
            if other.user.username == peer.user.username:
                peer.presence = other.presence
                return
            taken.add(other.presence.get("name"))
        if name not in taken:
            return
        n = 2
        while f"{name} {n}" in taken:
            n += 1
        peer.presence = {**peer.presence, "name": f"{name} {n}", "display_name": f"{name} {n}"}

    def apply(self, peer: Connection, payload: bytes) -> None:
        """A peer's awareness frame: accept what it may set, and send that on."""
        entries, unchanged = self.table.apply_entries(
            payload, peer.id, peer.user.username, peer.presence)
        self.relay(entries, peer, payload if unchanged else None)

    def remove_peer(self, peer_id: int) -> None:
        """A peer left: its presence goes, for everyone, at once or in the next batch."""
        self.relay(self.table.remove_owner_entries(peer_id), None, None)

    def relay(self, entries: list[tuple[int, int, bytes]], sender: Connection | None,
              as_sent: bytes | None) -> None:
        """Send accepted presence changes on (``as_sent``: the sender's frame, when it can
        be relayed as it came)."""
        if not entries:
            return
        if not self._large():
            frame = as_sent if as_sent is not None else encode_entries(entries)
            self._broadcast(codec.encode_awareness(frame), sender)
            return
        to_all = sender is None or sender.permissions.write
        for client_id, clock, state in entries:
            self._batch[client_id] = (clock, state, to_all)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(
                self._settings.awareness_batch_ms / 1000, self._send_batch)

    def set_server_state(self, **fields: Any) -> None:
        """Publish server-owned presence fields to every peer (and to later joiners)."""
        changed = {k: v for k, v in fields.items() if self._server_state.get(k) != v}
        if not changed:
            return
        self._server_state.update(changed)
        self._server_clock += 1
        state = json.dumps({"huddle": self._server_state}, separators=(",", ":")).encode()
        payload = self.table.set_server_entry(self.server_client_id, self._server_clock, state)
        self._broadcast(codec.encode_awareness(payload), None)

    @property
    def server_state(self) -> dict[str, Any]:
        """A copy of the server-owned presence fields published with ``set_server_state``."""
        return dict(self._server_state)

    def _is_writer(self, owner: object) -> bool:
        peer = self._peers.get(owner) if isinstance(owner, int) else None
        return peer is not None and peer.permissions.write

    def _large(self) -> bool:
        return len(self._peers) > self._settings.awareness_batch_above_peers

    def _send_batch(self) -> None:
        self._flush = None
        batch, self._batch = self._batch, {}
        if not batch:
            return
        everything = codec.encode_awareness(encode_entries(
            [(cid, clock, state) for cid, (clock, state, _) in batch.items()]))
        shared = [(cid, clock, state) for cid, (clock, state, to_all) in batch.items() if to_all]
        for_readers = (codec.encode_awareness(encode_entries(shared)) if len(shared) < len(batch)
                       else everything) if shared else None
        for peer in list(self._peers.values()):
            frame = everything if peer.permissions.write else for_readers
            if frame is not None:
                peer.send(frame)
