"""One peer of a room, seen from the core: who it is, what it may do, and its send queue.

The transport (a Tornado websocket in ``server/``, an in-memory pipe in tests) drains the
outbox; the core only ever appends to it, so one slow peer never blocks a broadcast. The
outbox's bound covers what the transport still holds too (the transport reports it), and a
peer that stops taking bytes is found by ``Outbox.stalled_for``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .close_codes import CloseCode

_connection_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The authenticated identity behind a connection (never what the client claims)."""

    username: str
    display_name: str = ""
    color: str | None = None
    # Set for someone who came through a share link (collab.access.Guest).
    guest_id: str | None = None
    initials: str = ""

    @property
    def presence(self) -> dict[str, Any]:
        """The ``user`` field of this person's awareness states, as the server stamps it
        (the fields of Jupyter's identity model that collaborators display)."""
        name = self.display_name or self.username
        initials = self.initials or "".join(p[0] for p in name.split()[:2]).upper()
        stamp: dict[str, Any] = {"username": self.username, "name": name,
                                 "display_name": name, "initials": initials}
        if self.color:
            stamp["color"] = self.color
        return stamp


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a connection may do in its room, decided once when it joins."""

    read: bool = True
    write: bool = False
    # May lock and unlock cells, and edit locked ones (owners).
    manage: bool = False


CloseCallback = Callable[[int, str], None]
# Writes a frame to the peer at once if it can (returns False to have it queued instead).
FastPath = Callable[[bytes], bool]
# What the transport holds for the peer: (bytes handed to it and not yet written to the
# socket, bytes written so far). The core bounds everything held for a peer, and sees
# whether the peer reads, without knowing what the transport is.
Backlog = Callable[[], tuple[int, int]]


class Outbox:
    """Everything held for one peer: frames waiting here, and what the transport took and
    has not sent yet.

    The bound (``max_bytes``) protects the server's memory from a peer that reads slower
    than the room writes, and covers both. A *shared* frame (the room's full state: one
    bytes object for every peer that asks) costs nothing more for one more peer, so a
    peer's first shared frame is free of charge (an honest client asks for the document
    once per connection); any later one (a second version, or the same one asked for again)
    counts its size. A peer that holds nothing takes one frame of any size (a large
    document or paste must still reach it), so what a peer pins is at most its first
    shared frame plus ``max(max_bytes, its largest frame)``.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0  # queued here
        self._charged = 0  # queued here, counted against the bound
        # Handed to the transport since it was last seen empty (it holds at most the last
        # fast-path frame and one batch: see ``server/handlers/room.py``).
        self._flight_bytes = 0
        self._flight_charged = 0
        self._free_used = False  # the first shared frame went out free of charge
        self._dropped = 0
        self._backlog: Backlog | None = None
        self._taken = 0  # bytes handed over: progress when the transport has no probe
        self._waiting_since: float | None = None
        self._progress_mark = 0
        self._ready = asyncio.Event()

    @property
    def queued_bytes(self) -> int:
        """Bytes queued here, not yet taken by the transport."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def attach_backlog(self, backlog: Backlog) -> None:
        """Let the transport report what it holds for this peer (see ``Backlog``)."""
        self._backlog = backlog

    def held_bytes(self) -> int:
        """Every byte this peer made the server hold (queued, in flight, or dropped on
        close), as last recorded: what its departure may give back."""
        return self._bytes + self._flight_bytes + self._dropped

    def transport_idle(self) -> bool:
        """Whether the transport has written everything it took for this peer."""
        return self._unsent() == 0

    def put(self, frame: bytes, shared: bool = False) -> bool:
        """Queue a frame; False if the peer would hold more than ``max_bytes`` (the caller
        cuts it off)."""
        unsent = self._unsent()
        charge = self._charge(frame, shared)
        held = self._charged + min(unsent, self._flight_charged)
        if (self._frames or unsent) and held + charge > self.max_bytes:
            return False
        self._free_used = self._free_used or shared
        self._frames.append(frame)
        self._bytes += len(frame)
        self._charged += charge
        self._ready.set()
        return True

    def handed(self, frame: bytes, shared: bool = False) -> None:
        """Record a frame the transport took at once (its fast path, when it was idle)."""
        self._flight_charged += self._charge(frame, shared)
        self._free_used = self._free_used or shared
        self._flight_bytes += len(frame)
        self._taken += len(frame)

    def _charge(self, frame: bytes, shared: bool) -> int:
        return 0 if shared and not self._free_used else len(frame)

    def take_all(self) -> list[bytes]:
        """Everything queued, for the transport to write (it is then in flight)."""
        self._unsent()
        frames = list(self._frames)
        self._flight_bytes += self._bytes
        self._flight_charged += self._charged
        self._taken += self._bytes
        self._frames.clear()
        self._bytes = self._charged = 0
        self._ready.clear()
        return frames

    def clear(self) -> None:
        """Drop what is queued (the peer is cut off)."""
        self._dropped += self._bytes
        self._frames.clear()
        self._bytes = self._charged = 0
        self._ready.clear()

    async def wait(self) -> None:
        """Wait until a frame is queued."""
        await self._ready.wait()

    def stalled_for(self, now: float) -> float:
        """Seconds this peer has had bytes waiting without taking any of them (0 while it
        takes some: a slow reader that keeps reading is not stalled)."""
        unsent = self._unsent()
        sent = self._backlog()[1] if self._backlog is not None else self._taken
        if not self._frames and not unsent:
            self._waiting_since = None
            return 0.0
        if self._waiting_since is None or sent != self._progress_mark:
            self._waiting_since, self._progress_mark = now, sent
            return 0.0
        return now - self._waiting_since

    def _unsent(self) -> int:
        """What the transport has not sent yet; forgets what it did send once it is empty."""
        unsent = self._backlog()[0] if self._backlog is not None else 0
        if not unsent and self._flight_bytes:
            self._flight_bytes = self._flight_charged = 0
        return unsent


class Connection:
    """A peer in a room. Created by the transport, handed to ``Room.join``."""

    def __init__(
        self,
        *,
        user: UserInfo,
        permissions: Permissions,
        max_queue_bytes: int,
        on_close: CloseCallback,
        session_id: str | None = None,
    ) -> None:
        self.id = next(_connection_ids)
        self.user = user
        # Stamped into every presence state this peer sends: built once, not per message.
        self.presence = user.presence
        self.permissions = permissions
        self.session_id = session_id
        self.outbox = Outbox(max_queue_bytes)
        self._on_close = on_close
        self._fast: FastPath | None = None
        self.closed = False
        # Seconds on the event loop clock; the room's keep-alive reads it.
        self.last_sent = asyncio.get_running_loop().time()

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.user.username!r}>"

    def attach_fast_path(self, fast: FastPath) -> None:
        """Let the transport take frames at once while the peer keeps up.

        Fan-out to hundreds of peers then costs one write per peer per update, with no
        queue and no task wake-up; only a peer that falls behind gets its frames queued
        (and, past ``max_queue_bytes``, is cut off).
        """
        self._fast = fast

    def attach_backlog(self, backlog: Backlog) -> None:
        """Let the transport report what it still holds, so the bound covers it."""
        self.outbox.attach_backlog(backlog)

    def send(self, frame: bytes, *, shared: bool = False) -> None:
        """Send or queue a frame, or cut the peer off if it has fallen too far behind.

        ``shared``: the same bytes object goes to many peers and stays referenced by the
        room anyway (the cached full state), see ``Outbox``.
        """
        if self.closed:
            return
        box = self.outbox
        if self._fast is not None and not box and box.transport_idle() and self._fast(frame):
            box.handed(frame, shared)
        elif not box.put(frame, shared):
            self.close(CloseCode.TRY_AGAIN_LATER, "client too slow: send queue full")
            return
        self.last_sent = asyncio.get_running_loop().time()

    def close(self, code: int, reason: str) -> None:
        """Ask the transport to close; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.outbox.clear()
        self._on_close(code, reason)
