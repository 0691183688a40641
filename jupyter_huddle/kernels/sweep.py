"""Letting go of what closed rooms and vanished kernels leave behind.

Nothing tells the execution service that a notebook's room closed, and jupyter_server
removes a kernel that died and could not be restarted without a shutdown event; the sweep
looks every ``interval_s`` while anything is held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..collab.documents.notebook import NotebookDocument
from .ledger import Ledger
from .pool import DispatcherPool
from .presence import PresencePublisher
from .settings import KernelAccess, RoomAccess


class Sweeper:
    """Runs the sweep on a timer it owns: scheduled while the ledger or the pool holds
    anything, cancelled by ``close()``."""

    def __init__(self, interval_s: float, rooms: RoomAccess, kernels: KernelAccess,
                 ledger: Ledger, dispatchers: DispatcherPool,
                 presence: PresencePublisher,
                 on_kernel_gone: Callable[[str, str], None] | None = None) -> None:
        self.interval_s = interval_s
        # told of each kernel found gone (its widgets go with it)
        self.on_kernel_gone = on_kernel_gone
        self.rooms = rooms
        self.kernels = kernels
        self.ledger = ledger
        self.dispatchers = dispatchers
        self.presence = presence
        self._handle: asyncio.TimerHandle | None = None

    @property
    def due(self) -> bool:
        """Whether a sweep is scheduled."""
        return self._handle is not None

    def schedule(self) -> None:
        """Sweep in ``interval_s`` (unless a sweep is due already or nothing is held)."""
        if self._handle is None and (self.ledger.history or len(self.dispatchers)):
            self._handle = asyncio.get_running_loop().call_later(self.interval_s, self.sweep)

    def sweep(self) -> None:
        """Forget closed notebooks and retire the dispatchers of kernels that are gone."""
        self._handle = None
        for room_id in self.ledger.idle_rooms():
            if self.rooms.get(room_id) is None:
                self.ledger.forget_room(room_id)
                self.presence.discard(room_id)
        for dispatcher in self.dispatchers:
            kernel_id = dispatcher.kernel_id
            if not dispatcher.requests() and not self.kernels.exists(kernel_id):
                self.dispatchers.retire(kernel_id, "the kernel is gone")
                if self.on_kernel_gone is not None:
                    self.on_kernel_gone(kernel_id, "the kernel is gone")
                self.presence.kernel_dead(kernel_id, self.ledger.forget_kernel(kernel_id))
            else:  # display ids of closed notebooks point at nothing
                dispatcher.registry.retain(self._open_documents(kernel_id))
        self.schedule()

    def close(self) -> None:
        """Cancel the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _open_documents(self, kernel_id: str) -> list[NotebookDocument]:
        rooms = [self.rooms.get(room_id)
                 for room_id in self.ledger.kernel_rooms.get(kernel_id, ())]
        return [room.document for room in rooms
                if room is not None and isinstance(room.document, NotebookDocument)]
