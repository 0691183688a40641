"""Server-side execution: one live kernel per notebook, a visible queue, attribution.

The service checks a request against the live document (the source the user saw is what
runs), queues it on its kernel's dispatcher, keeps the notebook's room loaded while work is
pending, and publishes the kernel's status and the queue to everyone in the room through
the server's presence entry. It knows nothing of HTTP: ``server/handlers/execute.py``
adapts it.

Everything it holds is bounded or let go of: queued cells are capped per notebook and per
person (``limits``); what it remembers per request, notebook and kernel is in ``ledger``
(which says what releases each map); the per-kernel dispatchers go with their kernel.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from pycrdt import Map, Text

from ..collab.connection import UserInfo
from ..collab.documents.notebook import NotebookDocument
from ..collab.errors import CollabError, PermissionDenied
from ..collab.ids import DocumentRoomId
from ..collab.room import Room
from . import limits, presence
from .client import KernelConnection
from .dispatcher import KernelDispatcher
from .errors import (
    ExecutionError,
    KernelMismatch,
    StaleSource,
    UnknownDocument,
    UnknownKernel,
    UnknownRequest,
)
from .ledger import Ledger
from .outputs import KERNEL, find_cell
from .requests import ExecutionRequest, RequestState, source_hash
from .settings import CellRef, EventSink, ExecutionSettings, KernelAccess, RoomAccess

__all__ = ["CellRef", "ExecutionError", "ExecutionService", "ExecutionSettings"]

log = logging.getLogger(__name__)


class ExecutionService:
    def __init__(self, rooms: RoomAccess, kernels: KernelAccess, settings: ExecutionSettings,
                 on_event: EventSink | None = None) -> None:
        self.rooms = rooms
        self.kernels = kernels
        self.settings = settings
        self.on_event = on_event
        # One per kernel that ran something here (its queue, client, display ids and
        # status); goes when the kernel shuts down (its event, or the sweep for a kernel
        # removed without one).
        self._dispatchers: dict[str, KernelDispatcher] = {}
        # Requests, notebooks' recent runs, leases, kernels' notebooks: see ``ledger``.
        self.ledger = Ledger(settings.history_per_notebook)
        # Notebooks whose presence changed since the last publish (emptied by each publish).
        self._publish_pending: set[DocumentRoomId] = set()
        self._publish_handle: asyncio.TimerHandle | None = None
        self._last_publish = 0.0
        self._sweep_handle: asyncio.TimerHandle | None = None
        # Kernel clients being closed after the sweep found their kernel gone.
        self._tasks: set[asyncio.Task[None]] = set()

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
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        bound = await self.kernels.kernel_for(room_id)
        if bound != kernel_id:
            # (never the bound kernel's id: a refusal tells nobody what they did not send)
            raise KernelMismatch(
                f"kernel {kernel_id} is not this notebook's kernel"
                + ("; reload to use its current one" if bound else
                   " (it has no kernel session)"))
        # early, so a full queue costs no room load and no wait for the source; checked
        # again as the cells are queued (other requests may have come meanwhile)
        self._check_caps(kernel_id, room_id, user, [ref.cell_id for ref in cells])
        try:
            room = await self.rooms.lease(room_id)
        except CollabError as err:
            raise UnknownDocument(f"cannot open {room_id}: {err}") from err
        try:
            sources = await self._checked_sources(room, cells)
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

    def _check_caps(self, kernel_id: str, room_id: DocumentRoomId, user: UserInfo,
                    cell_ids: list[str]) -> None:
        """Raises: NotebookQueueFull, PersonQueueFull (and nothing is queued)."""
        pending = self.ledger.pending(room_id, kernel_id, user.username, cell_ids)
        limits.check(self.settings.queue, pending, len(cell_ids),
                     self.ledger.typical_run_s(room_id))

    async def _checked_sources(self, room: Room, refs: list[CellRef]) -> list[str]:
        """The sources to run, each checked against the hash the user sent."""
        document = room.document
        if not isinstance(document, NotebookDocument):
            raise UnknownDocument(f"{room.id} is not a notebook")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.source_wait_s
        while True:
            cells = {c.get("id"): c for c in document.cells if isinstance(c, Map)}
            sources = [self._source(cells, room, ref) for ref in refs]
            stale = [ref for ref, source in zip(refs, sources, strict=True)
                     if ref.source_hash is not None and source_hash(source) != ref.source_hash]
            if not stale:
                return sources
            if loop.time() >= deadline:
                raise StaleSource(f"cell {stale[0].cell_id} changed since you ran it; its "
                                  "source is not the one you saw")
            await self._next_change(room, deadline - loop.time())

    @staticmethod
    def _source(cells: dict[Any, Any], room: Room, ref: CellRef) -> str:
        ycell = cells.get(ref.cell_id)
        if ycell is None:
            raise ExecutionError(f"no cell {ref.cell_id} in {room.id}")
        if ycell.get("cell_type") != "code":
            raise ExecutionError(f"cell {ref.cell_id} is not a code cell")
        text = ycell.get("source")
        return str(text) if isinstance(text, Text) else str(text or "")

    @staticmethod
    async def _next_change(room: Room, timeout: float) -> None:
        changed = asyncio.Event()

        def listener(_update: bytes, _origin: object) -> None:
            changed.set()

        room.add_change_listener(listener)
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            room.remove_change_listener(listener)

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
        wanted = {r.cell_id for r in requests}
        with room.doc.transaction(origin=KERNEL):
            for ycell in room.document.cells:  # type: ignore[union-attr]
                if isinstance(ycell, Map) and ycell.get("id") in wanted:
                    ycell["execution_state"] = "running"
        for request in requests:
            # kept loaded until the request finishes
            self.ledger.link(request, leased=self.rooms.pin(room_id))
            self._emit("requested", request)
        dispatcher.submit(requests)
        self._schedule_publish(room_id)
        self._schedule_sweep()

    # --- cancel, interrupt, restart, input --------------------------------------------------

    def request(self, request_id: str) -> ExecutionRequest:
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
        """Interrupt the running request and abort what was queued before now."""
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        now = time.time()
        dispatcher = self._dispatchers.get(kernel_id)
        if dispatcher is not None:
            dispatcher.remove_queued(lambda r: r.enqueued_at <= now, RequestState.ABORTED,
                                     f"interrupted by {user.username}")
        await self.kernels.interrupt(kernel_id)

    async def restart(self, kernel_id: str, user: UserInfo) -> None:
        if not self.kernels.exists(kernel_id):
            raise UnknownKernel(f"no kernel {kernel_id}")
        self._set_status(kernel_id, "restarting")
        await self.kernel_restarted(kernel_id, f"the kernel was restarted by {user.username}")
        await self.kernels.restart(kernel_id)
        self._set_status(kernel_id, "idle")

    def interrupted(self, kernel_id: str) -> None:
        """Someone interrupted the kernel (any route): what was queued before goes too."""
        now = time.time()
        dispatcher = self._dispatchers.get(kernel_id)
        if dispatcher is not None:
            dispatcher.remove_queued(lambda r: r.enqueued_at <= now, RequestState.ABORTED,
                                     "the kernel was interrupted")

    async def kernel_restarted(self, kernel_id: str, reason: str) -> None:
        """The kernel restarted (by anyone, or by itself after a crash): abort everything
        and connect afresh for the next request (ports may have changed)."""
        dispatcher = self._dispatchers.get(kernel_id)
        if dispatcher is not None:
            await dispatcher.reset(reason, status="idle")

    async def kernel_gone(self, kernel_id: str, reason: str) -> None:
        """The kernel shut down: abort its requests and let go of everything held for it."""
        dispatcher = self._dispatchers.pop(kernel_id, None)
        if dispatcher is not None:
            await dispatcher.close(reason)
        self._forget_kernel(kernel_id)

    def _forget_kernel(self, kernel_id: str) -> None:
        # Its notebooks are told now: from here on nothing remembers the kernel to publish.
        for room_id in self.ledger.forget_kernel(kernel_id):
            room = self.rooms.get(room_id)
            if room is not None:
                room.set_server_state(kernel={"id": kernel_id, "status": "dead"})

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
        self._dispatcher(request.kernel_id).send_input(value)
        self.changed(request)

    # --- views -------------------------------------------------------------------------------

    def queue_of(self, room_id: DocumentRoomId) -> list[dict[str, Any]]:
        """Queued and running requests of a notebook, in run order, then recent history."""
        active = [r.public() for d in self._dispatchers.values() for r in d.requests()
                  if r.room_id == room_id]
        return active

    def history_of(self, room_id: DocumentRoomId) -> list[dict[str, Any]]:
        """The notebook's recent finished runs, in the order they finished."""
        return [r.public() for r in self.ledger.history.get(room_id, ())]

    # --- dispatcher hooks ----------------------------------------------------------------------

    def document(self, request: ExecutionRequest) -> Any:
        room = self.rooms.get(request.room_id)
        return room.document if room is not None else None

    def changed(self, request: ExecutionRequest) -> None:
        if request.state.finished:
            self._finished(request)
        elif request.state is RequestState.RUNNING and request.started_at is not None:
            self._emit("started", request)
        self._schedule_publish(request.room_id)

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
        if room is not None and self.settings.record_attribution and request.started_at:
            self._record_attribution(room, request)
        self._emit(request.state.value, request)
        leased = self.ledger.finish(request)
        if leased is not None:
            self.rooms.release(leased)

    def _record_attribution(self, room: Room, request: ExecutionRequest) -> None:
        with room.doc.transaction(origin=KERNEL):
            _, ycell = find_cell(room.document, request.cell_id)  # type: ignore[arg-type]
            metadata = ycell.get("metadata") if isinstance(ycell, Map) else None
            if isinstance(metadata, Map):
                metadata["huddle"] = {"last_run_by": request.user.username,
                                      "last_run_at": request.finished_at}

    def kernel_status(self, kernel_id: str, status: str) -> None:
        """The dispatcher's status changed (it keeps it): tell the kernel's notebooks."""
        for room_id in self.ledger.kernel_rooms.get(kernel_id, set()):
            self._schedule_publish(room_id)

    def _set_status(self, kernel_id: str, status: str) -> None:
        dispatcher = self._dispatchers.get(kernel_id)
        if dispatcher is not None:
            dispatcher.set_status(status)

    async def kernel_alive(self, kernel_id: str) -> bool:
        return await self.kernels.alive(kernel_id)

    async def still_bound(self, request: ExecutionRequest) -> bool:
        return await self.kernels.kernel_for(request.room_id) == request.kernel_id

    async def connect(self, kernel_id: str, on_status: Callable[[str], None],
                      on_any_iopub: Callable[[str, dict[str, Any]], None]) -> KernelConnection:
        return await self.kernels.connect(kernel_id, on_status, on_any_iopub)

    # --- internals -------------------------------------------------------------------------------

    def _dispatcher(self, kernel_id: str) -> KernelDispatcher:
        dispatcher = self._dispatchers.get(kernel_id)
        if dispatcher is None:
            dispatcher = KernelDispatcher(kernel_id, self, self.settings.dispatcher)
            self._dispatchers[kernel_id] = dispatcher
        return dispatcher

    def _emit(self, action: str, request: ExecutionRequest) -> None:
        if self.on_event is not None:
            try:
                self.on_event(action, request)
            except Exception:  # the audit trail must not break execution
                log.exception("emitting the %s event for %s failed", action, request.id)

    def _schedule_publish(self, room_id: DocumentRoomId) -> None:
        """Publish to the room's peers: at once after a quiet spell, then at most once per
        ``PRESENCE_INTERVAL_S`` (a Run All of 200 cells changes the queue 400 times; every
        peer gets a handful of small frames, not 400 copies of the whole queue)."""
        self._publish_pending.add(room_id)
        if self._publish_handle is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_publish + presence.PRESENCE_INTERVAL_S - loop.time()
        self._publish_handle = loop.call_later(max(wait, 0.0), self._publish)

    def _publish(self) -> None:
        self._publish_handle = None
        self._last_publish = asyncio.get_running_loop().time()
        pending, self._publish_pending = self._publish_pending, set()
        for room_id in pending:
            room = self.rooms.get(room_id)
            if room is not None:
                room.set_server_state(**self._presence(room_id))

    def _presence(self, room_id: DocumentRoomId) -> dict[str, Any]:
        active = [r for d in self._dispatchers.values() for r in d.requests()
                  if r.room_id == room_id]
        return presence.fields(active, self.ledger.history.get(room_id, ()), self._dispatchers)

    # --- releasing what closed rooms and vanished kernels leave ------------------------------

    def _schedule_sweep(self) -> None:
        if self._sweep_handle is None and (self.ledger.history or self._dispatchers):
            self._sweep_handle = asyncio.get_running_loop().call_later(
                self.settings.sweep_interval_s, self._sweep)

    def _sweep(self) -> None:
        """Let go of what is held for notebooks whose room closed (nothing tells the service)
        and for kernels removed without a shutdown event (one that died and could not be
        restarted); runs every ``sweep_interval_s`` while anything is held."""
        self._sweep_handle = None
        for room_id in self.ledger.idle_rooms():
            if self.rooms.get(room_id) is None:
                self.ledger.forget_room(room_id)
                self._publish_pending.discard(room_id)
        for kernel_id, dispatcher in list(self._dispatchers.items()):
            if not dispatcher.requests() and not self.kernels.exists(kernel_id):
                del self._dispatchers[kernel_id]
                self._spawn(dispatcher.close("the kernel is gone"))
                self._forget_kernel(kernel_id)
            else:  # display ids of closed notebooks point at nothing
                dispatcher.registry.retain(self._open_documents(kernel_id))
        self._schedule_sweep()

    def _open_documents(self, kernel_id: str) -> list[NotebookDocument]:
        rooms = [self.rooms.get(room_id)
                 for room_id in self.ledger.kernel_rooms.get(kernel_id, ())]
        return [room.document for room in rooms
                if room is not None and isinstance(room.document, NotebookDocument)]

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Server shutdown: abort everything (cells go idle), close the kernel clients."""
        for dispatcher in list(self._dispatchers.values()):
            await dispatcher.close()
        self._dispatchers.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        if self._publish_handle is not None:
            self._publish_handle.cancel()
            self._publish()
