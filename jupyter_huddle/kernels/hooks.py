"""The dispatchers' view of the server: the ``DispatcherHooks`` every dispatcher gets."""

from __future__ import annotations

from ..collab.documents.notebook import NotebookDocument
from .client import IopubListener, KernelChannel, StatusListener
from .presence import PresencePublisher
from .requests import ExecutionRequest
from .runs import RunRecorder
from .settings import KernelAccess, RoomAccess


class ServiceHooks:
    """What a dispatcher may reach (``dispatcher.DispatcherHooks``): the open notebooks,
    the kernels, and where its requests' progress and its kernel's status go."""

    def __init__(self, rooms: RoomAccess, kernels: KernelAccess, runs: RunRecorder,
                 presence: PresencePublisher) -> None:
        self.rooms = rooms
        self.kernels = kernels
        self.runs = runs
        self.presence = presence

    def document(self, request: ExecutionRequest) -> NotebookDocument | None:
        """The open notebook the request runs in (None: its room is closed)."""
        room = self.rooms.get(request.room_id)
        document = room.document if room is not None else None
        return document if isinstance(document, NotebookDocument) else None

    def changed(self, request: ExecutionRequest) -> None:
        """The request's state, count or pending input changed: record and publish it."""
        self.runs.changed(request)

    def kernel_status(self, kernel_id: str, status: str) -> None:
        """The kernel's status changed (its dispatcher keeps it): publish it."""
        self.presence.kernel_changed(kernel_id)

    async def kernel_alive(self, kernel_id: str) -> bool:
        """Whether the kernel's process is still running."""
        return await self.kernels.alive(kernel_id)

    async def still_bound(self, request: ExecutionRequest) -> bool:
        """Whether the request's kernel is still its notebook's kernel."""
        return await self.kernels.kernel_for(request.room_id) == request.kernel_id

    async def connect(self, kernel_id: str, on_status: StatusListener,
                      on_any_iopub: IopubListener) -> KernelChannel:
        """A started connection to the kernel."""
        return await self.kernels.connect(kernel_id, on_status, on_any_iopub)
