"""The run history: what becomes of each request as it is queued, starts and finishes.

A queued request is linked to its notebook in the ledger (and holds a lease on its room);
as it starts an event is emitted; as it finishes its cell is put back to idle if it never
ran, attribution is written if configured, an event is emitted, it moves into its
notebook's history and its lease goes. Every change is published to the room's presence.
"""

from __future__ import annotations

import logging

from pycrdt import Map

from ..collab.sync.room import Room
from .cells import KERNEL, find_cell
from .ledger import Ledger
from .presence import PresencePublisher
from .requests import ExecutionRequest, RequestState
from .settings import EventSink, RoomAccess

log = logging.getLogger(__name__)


class RunRecorder:
    """Records requests' progress (in the ledger, the document and the audit events) and
    has it published."""

    def __init__(self, rooms: RoomAccess, ledger: Ledger, presence: PresencePublisher,
                 record_attribution: bool, on_event: EventSink | None) -> None:
        self.rooms = rooms
        self.ledger = ledger
        self.presence = presence
        self.record_attribution = record_attribution
        self.on_event = on_event

    def queued(self, request: ExecutionRequest, leased: bool) -> None:
        """The request is queued (``leased``: it keeps its room loaded until it ends)."""
        self.ledger.link(request, leased=leased)
        self.emit("requested", request)

    def changed(self, request: ExecutionRequest) -> None:
        """The request started, finished, or its count or pending input changed."""
        if request.state.finished:
            self._finished(request)
        elif request.state is RequestState.RUNNING and request.started_at is not None:
            self.emit("started", request)
        self.presence.schedule(request.room_id)

    def emit(self, action: str, request: ExecutionRequest) -> None:
        """Send an audit event (its failure never breaks execution)."""
        if self.on_event is not None:
            try:
                self.on_event(action, request)
            except Exception:  # the audit trail must not break execution
                log.exception("emitting the %s event for %s failed", action, request.id)

    def _finished(self, request: ExecutionRequest) -> None:
        if not self.ledger.is_active(request):
            return  # already concluded
        room = self.rooms.get(request.room_id)
        if room is not None and request.started_at is None:
            # Never ran: its cell was marked running when it was queued.
            with room.doc.transaction(origin=KERNEL):
                _, ycell = find_cell(room.document, request.cell_id)  # type: ignore[arg-type]
                if isinstance(ycell, Map) and not self.ledger.still_queued(request):
                    ycell["execution_state"] = "idle"
        if room is not None and self.record_attribution and request.started_at:
            self._record_attribution(room, request)
        self.emit(request.state.value, request)
        leased = self.ledger.finish(request)
        if leased is not None:
            self.rooms.release(leased)

    @staticmethod
    def _record_attribution(room: Room, request: ExecutionRequest) -> None:
        with room.doc.transaction(origin=KERNEL):
            _, ycell = find_cell(room.document, request.cell_id)  # type: ignore[arg-type]
            metadata = ycell.get("metadata") if isinstance(ycell, Map) else None
            if isinstance(metadata, Map):
                metadata["huddle"] = {"last_run_by": request.user.username,
                                      "last_run_at": request.finished_at}
