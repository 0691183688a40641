"""What the execution service remembers about requests, notebooks and kernels.

Every map here is bounded or let go of, and says which:

- ``requests``: queued and running requests by id. One goes as it finishes; how many there
  can be is capped per notebook and per person (``limits``).
- ``leased``: the room each unfinished request keeps loaded. Goes as the request finishes.
- ``history``: each notebook's finished requests, the last ``history_per_notebook``, with
  no source. A notebook's goes when its room closes (``forget_room``).
- ``kernel_rooms``: the notebooks told of each kernel's status. A kernel's entry goes when
  it shuts down (``forget_kernel``), a notebook in it when its room closes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..collab.ids import DocumentRoomId
from . import limits
from .requests import ExecutionRequest

# Recent runs averaged for a Retry-After estimate.
TYPICAL_RUN_SAMPLE = 20


class Ledger:
    """The maps the module's docstring lists, and the queries on them."""

    def __init__(self, history_per_notebook: int) -> None:
        self.history_per_notebook = history_per_notebook
        self.requests: dict[str, ExecutionRequest] = {}
        self.leased: dict[str, DocumentRoomId] = {}
        self.history: dict[DocumentRoomId, deque[ExecutionRequest]] = {}
        self.kernel_rooms: dict[str, set[DocumentRoomId]] = {}

    # --- requests ----------------------------------------------------------------------------

    def register(self, request: ExecutionRequest) -> None:
        """Know the request by its id (from just before it is queued)."""
        self.requests[request.id] = request

    def link(self, request: ExecutionRequest, leased: bool) -> None:
        """The request is queued: its room is told of its kernel (and leased for it)."""
        if leased:
            self.leased[request.id] = request.room_id
        self.kernel_rooms.setdefault(request.kernel_id, set()).add(request.room_id)

    def is_active(self, request: ExecutionRequest) -> bool:
        """Whether the request is known and not concluded yet."""
        return request.id in self.requests

    def still_queued(self, request: ExecutionRequest) -> bool:
        """Another request for the same cell is still waiting or running."""
        return any(r is not request and r.room_id == request.room_id
                   and r.cell_id == request.cell_id and not r.state.finished
                   for r in self.requests.values())

    def finish(self, request: ExecutionRequest) -> DocumentRoomId | None:
        """Move a finished request into its notebook's history; returns the room whose
        lease it held (to release), if any."""
        self.requests.pop(request.id, None)
        # Who ran what and when, not the code: 200 runs of a 1 MB cell would otherwise
        # hold 200 MB for one notebook.
        request.source = ""
        history = self.history.get(request.room_id)
        if history is None:
            history = deque(maxlen=self.history_per_notebook)
            self.history[request.room_id] = history
        history.append(request)
        return self.leased.pop(request.id, None)

    # --- caps --------------------------------------------------------------------------------

    def pending(self, room_id: DocumentRoomId, kernel_id: str, username: str,
                cell_ids: Iterable[str]) -> limits.Pending:
        """What the queue caps count for a new request (see ``limits.count_pending``)."""
        return limits.count_pending(self.requests.values(), room_id, kernel_id, username,
                                    cell_ids)

    def typical_run_s(self, room_id: DocumentRoomId) -> float:
        """Mean length of the notebook's recent runs (1 s if it has none)."""
        recent = list(self.history.get(room_id, ()))[-TYPICAL_RUN_SAMPLE:]
        runs = [r.finished_at - r.started_at for r in recent
                if r.started_at is not None and r.finished_at is not None]
        return sum(runs) / len(runs) if runs else 1.0

    # --- letting go --------------------------------------------------------------------------

    def idle_rooms(self) -> set[DocumentRoomId]:
        """Notebooks remembered that have nothing queued or running."""
        known = set(self.history).union(*self.kernel_rooms.values())
        return known - {r.room_id for r in self.requests.values()}

    def forget_room(self, room_id: DocumentRoomId) -> None:
        """The notebook's room closed: its history and kernel links go."""
        self.history.pop(room_id, None)
        for kernel_id, room_ids in list(self.kernel_rooms.items()):
            room_ids.discard(room_id)
            if not room_ids:
                del self.kernel_rooms[kernel_id]

    def forget_kernel(self, kernel_id: str) -> set[DocumentRoomId]:
        """The kernel is gone: returns the notebooks that were told of it."""
        return self.kernel_rooms.pop(kernel_id, set())
