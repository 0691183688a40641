"""Presence relay: who is in a room, their cursors and selections.

The server keeps the latest awareness entry of every client id in a room, remembers which
connection announced it, and so can (a) send a newcomer everyone's state at once, (b) tell
the others the moment a socket closes, instead of leaving a ghost cursor for 30 s, and
(c) refuse a connection that tries to overwrite or remove someone else's presence.

What a client publishes is a claim: its ``user`` is replaced by the server's stamp of who
it is, fields only the server may publish (``SERVER_ONLY_FIELDS``) are dropped, and a
state larger than the room's bound closes the connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from ..errors import FrameTooLarge, ProtocolError
from .codec import Reader, var_bytes, varuint

_NULL = b"null"
# Top-level fields of an awareness state that only the server's own entry may carry: the
# web app reads the run queue, kernel status and presenter from ``huddle``.
SERVER_ONLY_FIELDS = ("huddle",)
# Departed client ids remembered per room (the oldest are forgotten first).
_MAX_DEPARTED = 10_000
# Owner of the server's own awareness entry: no connection can claim it.
_SERVER = object()


@dataclass(slots=True)
class _Entry:
    clock: int
    state: bytes  # the JSON text as sent, or b"null" once removed
    owner: Hashable
    user: str


def _check_state(raw: bytes) -> Any:
    """Peers JSON.parse every state: one that is not a JSON object would break them all."""
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ProtocolError("awareness state is not JSON") from err
    if value is not None and not isinstance(value, dict):
        raise ProtocolError("awareness state is not an object")
    return value


def _stamped(state: bytes, value: Any, stamp: dict[str, Any] | None) -> bytes:
    """The state with the server's idea of who this is as its ``user`` (names and colours
    come from the server, never from what a client claims), and without the fields only
    the server may publish."""
    if not isinstance(value, dict):
        return state
    forged = [name for name in SERVER_ONLY_FIELDS if name in value]
    for name in forged:
        del value[name]
    if stamp is None:
        return _encode(value) if forged else state
    claimed = value.get("user")
    user = dict(stamp)
    if "color" not in user and isinstance(claimed, dict):
        color = claimed.get("color")  # the server has none for this person: theirs, if sane
        if isinstance(color, str) and len(color) <= 64:
            user["color"] = color
    if claimed == user and not forged:
        return state
    value["user"] = user
    return _encode(value)


def _encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode_entries(entries: list[tuple[int, int, bytes]]) -> bytes:
    """Encode (client id, clock, state JSON) triples as one awareness update."""
    parts = [varuint(len(entries))]
    for client_id, clock, state in entries:
        parts += [varuint(client_id), varuint(clock), var_bytes(state)]
    return b"".join(parts)


class AwarenessTable:
    """The awareness entries of one room, with the connection that owns each."""

    def __init__(self, max_ids_per_owner: int, max_state_bytes: int = 64 * 1024) -> None:
        # Both bound what one connection can make every peer store, parse and render.
        self._max_ids_per_owner = max_ids_per_owner
        self._max_state_bytes = max_state_bytes
        self._entries: dict[int, _Entry] = {}
        self._owned: dict[Hashable, set[int]] = {}
        # Client ids whose connection closed, with the clock of their removal: an echo of
        # their last state must not bring them back under someone else's connection.
        self._departed: dict[int, tuple[int, str]] = {}

    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.state != _NULL)

    def apply(self, payload: bytes, owner: Hashable, user: str = "",
              stamp: dict[str, Any] | None = None) -> bytes | None:
        """Apply an awareness update from ``owner``, a connection of ``user``; ``stamp``
        replaces the ``user`` field of its states.

        Returns:
            The update to relay to the other peers (only the accepted entries), or None if
            nothing was accepted.

        Raises:
            ProtocolError: the payload is malformed or holds a state that is not a JSON object.
        """
        accepted, unchanged = self.apply_entries(payload, owner, user, stamp)
        if not accepted:
            return None
        if unchanged:
            return payload
        return encode_entries(accepted)

    def apply_entries(self, payload: bytes, owner: Hashable, user: str = "",
                      stamp: dict[str, Any] | None = None
                      ) -> tuple[list[tuple[int, int, bytes]], bool]:
        """Like ``apply``: the accepted (client id, clock, state) entries, and whether they
        are exactly ``payload`` (so it can be relayed as it came)."""
        accepted: list[tuple[int, int, bytes]] = []
        reader = Reader(payload)
        changed = False
        for _ in range(reader.read_varuint()):
            client_id = reader.read_varuint()
            clock = reader.read_varuint()
            raw = reader.read_bytes()
            if len(raw) > self._max_state_bytes:
                raise FrameTooLarge(f"awareness state of {len(raw)} bytes (at most "
                                    f"{self._max_state_bytes})")
            if self._stale(client_id, clock, raw, user):
                # y-websocket clients send back every presence change they receive: in a
                # class, each change comes back once per student. Drop those before any
                # JSON is parsed.
                continue
            state = _stamped(raw, _check_state(raw), stamp)
            changed = changed or state is not raw
            if self._accept(client_id, clock, state, owner, user):
                accepted.append((client_id, clock, state))
        unchanged = (bool(accepted) and not changed and reader.remaining == 0
                     and len(accepted) == _count(payload))
        return accepted, unchanged

    def _stale(self, client_id: int, clock: int, raw: bytes, user: str) -> bool:
        """An entry no newer than what the table holds, or someone else's echo of a
        departed client's last state: never applied. (The departed person's own new
        connection may bring their state back at its old clock.)"""
        entry = self._entries.get(client_id)
        if entry is None:
            departed_clock, departed_user = self._departed.get(client_id, (-1, ""))
            return clock <= departed_clock and (user != departed_user or not user)
        return clock < entry.clock or (clock == entry.clock and (
            raw != _NULL or entry.state == _NULL))

    def _accept(self, client_id: int, clock: int, state: bytes, owner: Hashable,
                user: str) -> bool:
        entry = self._entries.get(client_id)
        if entry is not None and entry.owner != owner:
            if entry.user != user or not user:
                return False  # another user's presence: not this connection's to change
            # The same user's tab reconnected before its old socket was seen to close:
            # the new connection takes its presence over.
            self._owned.get(entry.owner, set()).discard(client_id)
            self._claim(owner, client_id)
            entry.owner = owner
        if entry is None:
            if state == _NULL:
                # Nothing to remove. y-websocket clients echo every awareness change they
                # apply, so this is often another peer's echo of a departed client's
                # removal: claiming the id for the echoing connection would block that
                # client's presence when it reconnects.
                return False
            self._claim(owner, client_id)
            self._entries[client_id] = _Entry(clock, state, owner, user)
            return True
        is_removal = state == _NULL
        if clock > entry.clock or (clock == entry.clock and is_removal and entry.state != _NULL):
            entry.clock, entry.state = clock, state
            return True
        return False

    def reserve_for_server(self, client_id: int) -> None:
        """Hold ``client_id`` for the server's own entry from the start: no connection can
        claim it before the server first publishes there (and so hide the server's later
        states behind a higher clock, or take the entry away when it leaves)."""
        self._entries.setdefault(client_id, _Entry(0, _NULL, _SERVER, ""))

    def set_server_entry(self, client_id: int, clock: int, state: bytes) -> bytes:
        """Set the server's own entry; return the update to broadcast."""
        self._entries[client_id] = _Entry(clock, state, _SERVER, "")
        return encode_entries([(client_id, clock, state)])

    def _claim(self, owner: Hashable, client_id: int) -> None:
        owned = self._owned.setdefault(owner, set())
        if len(owned) >= self._max_ids_per_owner:
            raise ProtocolError("too many awareness client ids on one connection")
        owned.add(client_id)

    def snapshot(self, keep: Callable[[Hashable], bool] | None = None) -> bytes | None:
        """Every live entry (of the owners ``keep`` accepts, and the server's), for a
        newcomer; None when there is none."""
        live = [(cid, e.clock, e.state) for cid, e in self._entries.items()
                if e.state != _NULL and (keep is None or e.owner is _SERVER or keep(e.owner))]
        return encode_entries(live) if live else None

    def remove_owner(self, owner: Hashable) -> bytes | None:
        """Forget a closed connection's entries; return the removal update for the others."""
        removed = self.remove_owner_entries(owner)
        return encode_entries(removed) if removed else None

    def remove_owner_entries(self, owner: Hashable) -> list[tuple[int, int, bytes]]:
        """Forget a closed connection's entries; return their removals, not yet encoded.

        Each removal is ``(client_id, clock, null state)``, for entries that were not null already.
        """
        removed = []
        for client_id in self._owned.pop(owner, set()):
            entry = self._entries.pop(client_id)
            self._departed[client_id] = (entry.clock + 1, entry.user)
            if len(self._departed) > _MAX_DEPARTED:
                del self._departed[next(iter(self._departed))]
            if entry.state != _NULL:
                removed.append((client_id, entry.clock + 1, _NULL))
        return removed


def _count(payload: bytes) -> int:
    return Reader(payload).read_varuint()
