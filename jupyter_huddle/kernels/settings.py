"""What the execution service is configured with and what it needs from the server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..collab.ids import DocumentRoomId
from ..collab.sync.room import Room
from .client import IopubListener, KernelChannel, StatusListener
from .dispatcher import DispatcherSettings
from .limits import QueueLimits
from .requests import ExecutionRequest
from .widgets.settings import WidgetSettings


class RoomAccess(Protocol):
    """The server's rooms (``collab.manager.RoomManager``)."""

    async def lease(self, room_id: DocumentRoomId) -> Room:
        """The room, loaded and kept open until ``release``.

        Raises:
            CollabError: it cannot be opened.
        """

    def pin(self, room_id: DocumentRoomId) -> bool:
        """Keep an open room loaded until ``release``; False if it is not open."""

    def release(self, room_id: DocumentRoomId) -> None:
        """Let go of one ``lease`` or ``pin``."""

    def get(self, room_id: Any) -> Room | None:
        """The room if it is open."""


class KernelAccess(Protocol):
    """The server's kernels and sessions (jupyter_server's managers, adapted)."""

    def exists(self, kernel_id: str) -> bool:
        """Whether the kernel manager has this kernel."""

    async def kernel_for(self, room_id: DocumentRoomId) -> str | None:
        """The kernel of the notebook's session (what JupyterLab shows), if any."""

    async def alive(self, kernel_id: str) -> bool:
        """Whether the kernel's process is running."""

    async def interrupt(self, kernel_id: str) -> None:
        """Interrupt what the kernel is running."""

    async def restart(self, kernel_id: str) -> None:
        """Restart the kernel (returns once it is back)."""

    async def connect(self, kernel_id: str, on_status: StatusListener,
                      on_any_iopub: IopubListener) -> KernelChannel:
        """A started connection of the server's own to the kernel."""


EventSink = Callable[[str, ExecutionRequest], None]


@dataclass(frozen=True)
class CellRef:
    """A cell to run, as a request names it."""

    cell_id: str
    # SHA-256 (hex) of the source the user saw; None (JupyterLab's executor sends none)
    # means "the source as it is now".
    source_hash: str | None = None


@dataclass(frozen=True)
class ExecutionSettings:
    """Everything the execution service is configured with (built once by the app)."""

    dispatcher: DispatcherSettings = field(default_factory=DispatcherSettings)
    # How long a mismatching hash may wait for the user's edit to arrive (it travels on the
    # document socket, the request on HTTP: "type then Shift+Enter" races).
    source_wait_s: float = 2.0
    # After this long without an answer from the user who ran it, anyone allowed to
    # execute may answer an input() prompt (the owner may have left).
    input_grace_s: float = 60.0
    # Finished requests kept per open notebook for the queue view and presence ("who ran
    # this"), newest last. Protects memory from a notebook run over and over: older runs
    # are dropped (and a kept run holds no source).
    history_per_notebook: int = 200
    # Caps on queued cells per notebook and per person.
    queue: QueueLimits = field(default_factory=QueueLimits)
    # How often the service looks for notebooks whose room closed and kernels removed
    # without a shutdown event, to let go of what it holds for them.
    sweep_interval_s: float = 10.0
    record_attribution: bool = False
    # Live widgets: bounds of the state kept per kernel and of what pages may send.
    widgets: WidgetSettings = field(default_factory=WidgetSettings)
