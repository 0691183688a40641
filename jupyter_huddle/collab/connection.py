"""One peer of a room, seen from the core: who it is, what it may do, and its send queue.

The transport (a Tornado websocket in ``server/``, an in-memory pipe in tests) drains the
outbox; the core only ever appends to it, so one slow peer never blocks a broadcast.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class Outbox:
    """A bounded FIFO of frames waiting to be written to one peer.

    The bound is in bytes and protects the server's memory from a peer that reads slower
    than the room writes. The first frame is always accepted, whatever its size, so a
    large document can still be sent to a peer with an empty queue.
    """

    max_bytes: int
    _frames: deque[bytes] = field(default_factory=deque)
    _bytes: int = 0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: bytes) -> bool:
        """Queue a frame; False if the queue is full (the caller cuts the peer off)."""
        if self._frames and self._bytes + len(frame) > self.max_bytes:
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._ready.set()
        return True

    def take_all(self) -> list[bytes]:
        frames = list(self._frames)
        self._frames.clear()
        self._bytes = 0
        self._ready.clear()
        return frames

    async def wait(self) -> None:
        await self._ready.wait()


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

    def send(self, frame: bytes) -> None:
        """Send or queue a frame, or cut the peer off if it has fallen too far behind."""
        if self.closed:
            return
        if not (self._fast is not None and not self.outbox and self._fast(frame)) and (
            not self.outbox.put(frame)
        ):
            self.close(CloseCode.TRY_AGAIN_LATER, "client too slow: send queue full")
            return
        self.last_sent = asyncio.get_running_loop().time()

    def close(self, code: int, reason: str) -> None:
        """Ask the transport to close; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.outbox.take_all()
        self._on_close(code, reason)
