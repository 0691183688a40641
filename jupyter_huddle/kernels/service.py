"""Server-side execution: one live kernel per notebook, a visible queue, attribution.

``ExecutionService`` is the API: it checks a request against the live document (the
source the user saw is what runs: ``sources``), queues it on its kernel's dispatcher,
keeps the notebook's room loaded while work is pending, and answers cancel, interrupt,
restart and input. It knows nothing of HTTP: ``server/handlers/execute.py`` adapts it.

The parts it is made of, each in a module of its own:

- ``pool.DispatcherPool``: one ``KernelDispatcher`` per kernel, and their lifetimes;
- ``hooks.ServiceHooks``: the narrow view of the server each dispatcher gets;
- ``runs.RunRecorder``: what becomes of each request (events, cells, history, leases);
- ``presence.PresencePublisher``: the queue and kernel status in the rooms' presence;
- ``ledger.Ledger``: what is remembered per request, notebook and kernel;
- ``sweep.Sweeper``: letting go of what closed rooms and vanished kernels leave.

Everything it holds is bounded or let go of: queued cells are capped per notebook and per
person (``limits``); ``ledger`` says what releases each of its maps; the dispatchers go
with their kernel. Nothing runs before the first request; ``close()`` stops it all.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pycrdt import Map

from ..collab.errors import CollabError, PermissionDenied
from ..collab.ids import DocumentRoomId
from ..collab.sync.connection import UserInfo
from ..collab.sync.room import Room
from . import limits
from .cells import KERNEL
from .dispatcher import KernelDispatcher
from .errors import (
    ExecutionError,
    KernelMismatch,
    UnknownDocument,
    UnknownKernel,
    UnknownRequest,
)
from .hooks import ServiceHooks
from .ledger import Ledger
from .pool import DispatcherPool
from .presence import PresencePublisher
from .requests import ExecutionRequest, RequestState
from .runs import RunRecorder
from .settings import CellRef, EventSink, ExecutionSettings, KernelAccess, RoomAccess
from .sources import checked_sources
from .sweep import Sweeper
from .widgets.service import WidgetService

__all__ = ["CellRef", "ExecutionError", "ExecutionService", "ExecutionSettings"]


class ExecutionService:
    """Runs notebooks' cells on their kernels for everyone in the room (see the module's
    docstring for its parts). ``on_event(action, request)`` gets the audit trail."""

    def __init__(self, rooms: RoomAccess, kernels: KernelAccess, settings: ExecutionSettings,
                 on_event: EventSink | None = None) -> None:
        self.rooms = rooms
        self.kernels = kernels
        self.settings = settings
        # Requests, notebooks' recent runs, leases, kernels' notebooks: see ``ledger``.
        self.ledger = Ledger(settings.history_per_notebook)
        self.dispatchers = DispatcherPool()
        self.presence = PresencePublisher(rooms, self.ledger, self.dispatchers)
        self.runs = RunRecorder(rooms, self.ledger, self.presence,
                                settings.record_attribution, on_event)
        self._hooks = ServiceHooks(rooms, kernels, self.runs, self.presence)
        # Live widgets: each kernel's shared widget state and the pages that watch it.
        self.widgets = WidgetService(settings.widgets, kernels, rooms,
                                     lambda kernel_id: self.ledger.kernel_rooms.get(
                                         kernel_id, set()))
        self.sweeper = Sweeper(settings.sweep_interval_s, rooms, kernels, self.ledger,
                               self.dispatchers, self.presence, self.widgets.kernel_gone)

    # --- executing -------------------------------------------------------------------------

    async def execute(self, kernel_id: str, room_id: DocumentRoomId, cells: list[CellRef],
                      user: UserInfo, batch_id: str | None = None) -> list[ExecutionRequest]:
        """Check and queue cells (in order) to run on the notebook's kernel.

        Raises:
            UnknownKernel, KernelMismatch, UnknownDocument, ExecutionError, StaleSource,
                NotebookQueueFull, PersonQueueFull: the request is refused and nothing is
                queued or changed.
        """
        if not cells:
            raise ExecutionError("no cells to run")
        await self._check_kernel(kernel_id, room_id)
        # early, so a full queue costs no room load and no wait for the source; checked
        # again as the cells are queued (other requests may have come meanwhile)
        self._check_caps(kernel_id, room_id, user, [ref.cell_id for ref in cells])
        try:
            room = await self.rooms.lease(room_id)
        except CollabError as err:
            raise UnknownDocument(f"cannot open {room_id}: {err}") from err
        try:
            sources = await checked_sources(room, cells, self.settings.source_wait_s)
        except BaseException:
            self.rooms.release(room_id)
            raise
        batch = batch_id or uuid.uuid4().hex
        requests = [ExecutionRequest(room_id, ref.cell_id, source, user, kernel_id, batch)
                    for ref, source in zip(cells, sources, strict=True)]
        try:
            self._queue(room, requests)
        finally:
            self.rooms.release(room_id)  # each queued request holds its own lease
        return requests

    async def _check_kernel(self, kernel_id: str, room_id: DocumentRoomId) -> None:
        """Raises: UnknownKernel, KernelMismatch (not the notebook's kernel)."""
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        bound = await self.kernels.kernel_for(room_id)
        if bound != kernel_id:
            # (never the bound kernel's id: a refusal tells nobody what they did not send)
            raise KernelMismatch(
                f"kernel {kernel_id} is not this notebook's kernel"
                + ("; reload to use its current one" if bound else
                   " (it has no kernel session)"))

    def _check_caps(self, kernel_id: str, room_id: DocumentRoomId, user: UserInfo,
                    cell_ids: list[str]) -> None:
        """Raises: NotebookQueueFull, PersonQueueFull (and nothing is queued)."""
        pending = self.ledger.pending(room_id, kernel_id, user.username, cell_ids)
        limits.check(self.settings.queue, pending, len(cell_ids),
                     self.ledger.typical_run_s(room_id))

    def _queue(self, room: Room, requests: list[ExecutionRequest]) -> None:
        """Queue every request or (at a cap) none."""
        room_id, kernel_id = requests[0].room_id, requests[0].kernel_id
        self._check_caps(kernel_id, room_id, requests[0].user, [r.cell_id for r in requests])
        dispatcher = self._dispatcher(kernel_id)
        for request in requests:  # known first, so a replaced run does not flash idle
            self.ledger.register(request)
        cells = {(r.cell_id, r.user.username) for r in requests}
        # Re-running a cell replaces your own earlier queued run of it (not someone else's).
        dispatcher.remove_queued(
            lambda r: r.room_id == room_id and (r.cell_id, r.user.username) in cells,
            RequestState.CANCELLED, "replaced by a newer run of the same cell")
        _mark_running(room, {r.cell_id for r in requests})
        for request in requests:
            # kept loaded until the request finishes
            self.runs.queued(request, leased=self.rooms.pin(room_id))
        dispatcher.submit(requests)
        self.widgets.bind(room_id, kernel_id)
        self.presence.schedule(room_id)
        self.sweeper.schedule()

    def _dispatcher(self, kernel_id: str) -> KernelDispatcher:
        """The kernel's dispatcher, started now if it has none yet."""
        return self.dispatchers.get(kernel_id) or self.dispatchers.add(
            KernelDispatcher(kernel_id, self._hooks, self.settings.dispatcher,
                             self.widgets.hub(kernel_id)))

    # --- cancel, interrupt, restart, input --------------------------------------------------

    def request(self, request_id: str) -> ExecutionRequest:
        """A queued or running request.

        Raises:
            UnknownRequest: there is none with this id (or it finished).
        """
        try:
            return self.ledger.requests[request_id]
        except KeyError:
            raise UnknownRequest(f"no request {request_id}") from None

    def cancel(self, request_id: str, user: UserInfo, may_cancel_others: bool) -> None:
        """Cancel a queued request (to stop a running one, interrupt the kernel).

        Raises:
            UnknownRequest, PermissionDenied, ExecutionError.
        """
        request = self.request(request_id)
        if request.user.username != user.username and not may_cancel_others:
            raise PermissionDenied("only its author or a kernel manager may cancel a request")
        if request.state is not RequestState.QUEUED:
            raise ExecutionError(f"request {request_id} is {request.state.value}, not queued")
        self._dispatcher(request.kernel_id).remove_queued(
            lambda r: r is request, RequestState.CANCELLED, f"cancelled by {user.username}")

    async def interrupt(self, kernel_id: str, user: UserInfo) -> None:
        """Interrupt the running request and abort what was queued before now.

        Raises:
            UnknownKernel.
        """
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        self._abort_queued_before(kernel_id, time.time(), f"interrupted by {user.username}")
        await self.kernels.interrupt(kernel_id)
        self.presence.kernel_action(kernel_id, "interrupt", user)

    async def restart(self, kernel_id: str, user: UserInfo) -> None:
        """Restart the kernel, aborting everything running or queued on it.

        Raises:
            UnknownKernel.
        """
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        self._set_status(kernel_id, "restarting")
        self.presence.kernel_action(kernel_id, "restart", user)
        await self.kernel_restarted(kernel_id, f"the kernel was restarted by {user.username}")
        await self.kernels.restart(kernel_id)
        self._set_status(kernel_id, "idle")

    def answer_input(self, request_id: str, user: UserInfo, value: str,
                     may_execute: bool) -> None:
        """Answer the ``input()`` prompt of a running request.

        Raises:
            UnknownRequest, ExecutionError (no prompt pending), PermissionDenied.
        """
        request = self.request(request_id)
        prompt = request.pending_input
        if request.state is not RequestState.RUNNING or prompt is None:
            raise ExecutionError(f"request {request_id} is not waiting for input")
        if request.user.username != user.username:
            waited = time.time() - prompt.asked_at
            if not may_execute or waited < self.settings.input_grace_s:
                raise PermissionDenied(
                    f"this prompt is for {request.user.display_name or request.user.username}")
        request.pending_input = None
        self._dispatcher(request.kernel_id).send_input(value, prompt)
        self.runs.changed(request)

    # --- what happened to a kernel (by any route: the server tells the service) ----------

    def interrupted(self, kernel_id: str) -> None:
        """Someone interrupted the kernel (any route): what was queued before goes too."""
        self._abort_queued_before(kernel_id, time.time(), "the kernel was interrupted")

    async def kernel_restarted(self, kernel_id: str, reason: str) -> None:
        """The kernel restarted (by anyone, or by itself after a crash): abort everything
        and connect afresh for the next request (ports may have changed)."""
        dispatcher = self.dispatchers.get(kernel_id)
        if dispatcher is not None:
            await dispatcher.reset(reason, status="idle")

    async def kernel_gone(self, kernel_id: str, reason: str) -> None:
        """The kernel shut down: abort its requests and let go of everything held for it."""
        dispatcher = self.dispatchers.pop(kernel_id)
        if dispatcher is not None:
            await dispatcher.close(reason)
        self.widgets.kernel_gone(kernel_id, reason)
        self.presence.kernel_dead(kernel_id, self.ledger.forget_kernel(kernel_id))

    def _abort_queued_before(self, kernel_id: str, moment: float, reason: str) -> None:
        dispatcher = self.dispatchers.get(kernel_id)
        if dispatcher is not None:
            dispatcher.remove_queued(lambda r: r.enqueued_at <= moment, RequestState.ABORTED,
                                     reason)

    def _set_status(self, kernel_id: str, status: str) -> None:
        dispatcher = self.dispatchers.get(kernel_id)
        if dispatcher is not None:
            dispatcher.set_status(status)

    # --- views -------------------------------------------------------------------------------

    def queue_of(self, room_id: DocumentRoomId) -> list[dict[str, Any]]:
        """Queued and running requests of a notebook, in run order."""
        return [r.public() for r in self.dispatchers.active(room_id)]

    def history_of(self, room_id: DocumentRoomId) -> list[dict[str, Any]]:
        """The notebook's recent finished runs, in the order they finished."""
        return [r.public() for r in self.ledger.history.get(room_id, ())]

    # --- lifetime ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Server shutdown: abort everything (cells go idle), close the kernel clients,
        stop the timers (publishing what was pending)."""
        await self.dispatchers.close()
        self.widgets.close()
        self.sweeper.close()
        self.presence.close()


def _mark_running(room: Room, cell_ids: set[str]) -> None:
    """Show the cells as running from the moment they are queued."""
    with room.doc.transaction(origin=KERNEL):
        for ycell in room.document.cells:  # type: ignore[union-attr]
            if isinstance(ycell, Map) and ycell.get("id") in cell_ids:
                ycell["execution_state"] = "running"
