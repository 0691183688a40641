"""The execution fields of the server's presence entry in a notebook's room: the queue,
the recent runs and the kernel's status, published to everyone in the room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..collab.ids import DocumentRoomId
from ..collab.sync.connection import UserInfo
from .ledger import Ledger
from .pool import DispatcherPool
from .requests import ExecutionRequest, RequestState
from .settings import RoomAccess

# Presence is sent to every peer on every change: keep it small and not too frequent.
PRESENCE_INTERVAL_S = 0.1
PRESENCE_QUEUE = 50
PRESENCE_RUNS = 200


def brief(request: ExecutionRequest) -> dict[str, Any]:
    """A request as shown in presence (the REST queue view has the full record)."""
    info: dict[str, Any] = {
        "request_id": request.id,
        "cell_id": request.cell_id,
        "state": request.state.value,
        "requested_by": {"username": request.user.username,
                         "display_name": request.user.display_name or request.user.username},
    }
    if request.execution_count is not None:
        info["execution_count"] = request.execution_count
    if request.pending_input is not None:
        info["input"] = {"prompt": request.pending_input.prompt,
                         "password": request.pending_input.password}
    if request.reason:
        info["reason"] = request.reason[:200]
    if request.state in (RequestState.ERROR, RequestState.ABORTED):
        # which Run all it was part of: the page names the cell whose failure stopped the rest
        info["batch"] = request.batch_id[:16]
    return info


def kernel_action(action: str, user: UserInfo, at: float) -> dict[str, Any]:
    """Someone restarted or interrupted the kernel, as shown in presence: every page in the
    room tells its user who did (a restart loses everyone's variables)."""
    return {"action": action, "at": round(at, 3),
            "by": {"username": user.username,
                   "display_name": user.display_name or user.username}}


def fields(active: list[ExecutionRequest], finished: Iterable[ExecutionRequest],
           status_of: Callable[[str], str]) -> dict[str, Any]:
    """One notebook's queue (``active``, in run order), its recent runs (``finished``,
    oldest first) and its kernel's status (``status_of(kernel_id)``; "unknown" is not
    shown), kept small (sent to every peer)."""
    recent = list(finished)[-PRESENCE_RUNS:]
    result: dict[str, Any] = {
        "queue": [brief(r) for r in active[:PRESENCE_QUEUE]],
        "queued_more": max(len(active) - PRESENCE_QUEUE, 0),
        "runs": {r.cell_id: brief(r) for r in recent},
    }
    # the kernel of its latest request (a notebook may have changed kernels)
    latest = max(active, key=lambda r: r.enqueued_at) if active else (
        recent[-1] if recent else None)
    status = status_of(latest.kernel_id) if latest is not None else "unknown"
    if latest is not None and status != "unknown":
        result["kernel"] = {"id": latest.kernel_id, "status": status}
    return result


class PresencePublisher:
    """Publishes notebooks' queues, runs and kernel status into their rooms' server
    presence: at once after a quiet spell, then at most once per ``PRESENCE_INTERVAL_S``
    (a Run All of 200 cells changes the queue 400 times; every peer gets a handful of
    small frames, not 400 copies of the whole queue).

    Its one timer is scheduled as changes come and cancelled by ``close()``.
    """

    def __init__(self, rooms: RoomAccess, ledger: Ledger, dispatchers: DispatcherPool) -> None:
        self.rooms = rooms
        self.ledger = ledger
        self.dispatchers = dispatchers
        # Notebooks whose presence changed since the last publish (emptied by each publish;
        # a closed notebook's entry goes with ``discard``).
        self.pending: set[DocumentRoomId] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._last_publish = 0.0

    def schedule(self, room_id: DocumentRoomId) -> None:
        """The notebook's queue, runs or kernel changed: publish it soon."""
        self.pending.add(room_id)
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_publish + PRESENCE_INTERVAL_S - loop.time()
        self._handle = loop.call_later(max(wait, 0.0), self.publish)

    def kernel_changed(self, kernel_id: str) -> None:
        """The kernel's status changed: publish every notebook that was told of it."""
        for room_id in self.ledger.kernel_rooms.get(kernel_id, set()):
            self.schedule(room_id)

    def kernel_dead(self, kernel_id: str, room_ids: Iterable[DocumentRoomId]) -> None:
        """Tell these notebooks now that the kernel is gone (nothing remembers it to
        publish later)."""
        for room_id in room_ids:
            room = self.rooms.get(room_id)
            if room is not None:
                room.set_server_state(kernel={"id": kernel_id, "status": "dead"})

    def kernel_action(self, kernel_id: str, action: str, user: UserInfo) -> None:
        """Tell the notebooks of the kernel now who restarted or interrupted it."""
        entry = kernel_action(action, user, time.time())
        for room_id in self.ledger.kernel_rooms.get(kernel_id, set()):
            room = self.rooms.get(room_id)
            if room is not None:
                room.set_server_state(kernel_action=entry)

    def discard(self, room_id: DocumentRoomId) -> None:
        """The notebook's room closed: nothing to publish there."""
        self.pending.discard(room_id)

    def publish(self) -> None:
        """Publish every pending notebook now."""
        self._handle = None
        self._last_publish = asyncio.get_running_loop().time()
        pending, self.pending = self.pending, set()
        for room_id in pending:
            room = self.rooms.get(room_id)
            if room is not None:
                room.set_server_state(**self.fields_of(room_id))

    def fields_of(self, room_id: DocumentRoomId) -> dict[str, Any]:
        """The notebook's execution fields as they are now."""
        return fields(self.dispatchers.active(room_id), self.ledger.history.get(room_id, ()),
                      self.dispatchers.status)

    def close(self) -> None:
        """Cancel the timer, publishing what it was waiting to publish."""
        if self._handle is not None:
            self._handle.cancel()
            self.publish()
