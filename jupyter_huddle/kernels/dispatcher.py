"""One dispatcher per kernel: runs requests one at a time, in the order they were queued,
across every user and every notebook on the kernel.

It owns the server's connection to the kernel and rebuilds it after a restart. Every wait
for a reply is watched: a kernel that dies, restarts or loses a reply aborts the request
within ``watchdog_interval_s`` instead of wedging the queue.

What it needs from the rest of the server is ``DispatcherHooks``, and nothing more; its
worker runs from ``start()`` to ``close()``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..collab.documents.notebook import NotebookDocument
from .client import CONNECTION_LOST, IopubListener, KernelChannel, StatusListener
from .displays import DisplayRegistry
from .errors import UnknownKernel
from .outputs import OutputLimits, OutputWriter
from .requests import ExecutionRequest, InputPrompt, RequestState
from .running import Run
from .widgets.hub import WidgetHub

log = logging.getLogger(__name__)

# What a password answer shows in the output: JupyterLab's mask, never the answer or its length.
PASSWORD_MASK = "········"
# Statuses after which the connection has nothing more to give what runs on it: a gateway
# says on iopub that the kernel is restarting (its auto-restart after a crash, or a restart
# by someone on the gateway) or dead; or the connection itself closed for good. Each maps
# to the reason the running request is aborted with.
_BROKEN = {
    "restarting": "the kernel restarted (it died, or was restarted on its gateway)",
    "dead": "the kernel died",
    CONNECTION_LOST: "the connection to the kernel was lost",
}


@dataclass(frozen=True)
class DispatcherSettings:
    """How a dispatcher writes outputs and watches its kernel."""

    limits: OutputLimits = field(default_factory=OutputLimits)
    # How often a running request checks that its kernel is still alive.
    watchdog_interval_s: float = 2.0
    # The kernel said it is idle for our request but the reply never came: give up after.
    lost_reply_grace_s: float = 5.0
    # How long a request waits for its kernel to come back (an auto-restart after a crash
    # takes a few seconds) before it is aborted.
    connect_timeout_s: float = 30.0


class DispatcherHooks(Protocol):
    """Everything a dispatcher asks of the rest of the server (``hooks.ServiceHooks``)."""

    def document(self, request: ExecutionRequest) -> NotebookDocument | None:
        """The open notebook the request runs in (None: its room is closed)."""

    def changed(self, request: ExecutionRequest) -> None:
        """The request's state, count or pending input changed."""

    def kernel_status(self, kernel_id: str, status: str) -> None:
        """The kernel's status (``dispatcher.status``) changed."""

    async def kernel_alive(self, kernel_id: str) -> bool:
        """Whether the kernel's process is still running."""

    async def still_bound(self, request: ExecutionRequest) -> bool:
        """Whether the request's kernel is still its notebook's kernel."""

    async def connect(self, kernel_id: str, on_status: StatusListener,
                      on_any_iopub: IopubListener) -> KernelChannel:
        """A started connection to the kernel."""


class KernelDispatcher:
    """Runs one kernel's requests one at a time, oldest first. ``start()`` it, then
    ``close()`` it: its worker task lives in between."""

    def __init__(self, kernel_id: str, hooks: DispatcherHooks,
                 settings: DispatcherSettings, widgets: WidgetHub | None = None) -> None:
        self.kernel_id = kernel_id
        self.hooks = hooks
        self.settings = settings
        # The kernel's widgets: its comm messages and captured outputs go there, and it
        # sends through this dispatcher's connection while there is one.
        self.widgets = widgets
        if widgets is not None:
            widgets.has_dispatcher = True
        # Display outputs by id (bounded; cleared when the kernel restarts or goes away).
        self.registry = DisplayRegistry()
        # Waiting requests, oldest first. Bounded by the service's queue caps (per notebook
        # and per person), checked before anything is submitted.
        self.queue: list[ExecutionRequest] = []
        self.running: Run | None = None
        self.status = "unknown"
        self._connection: KernelChannel | None = None
        # One connection at a time: the worker and a reconnection after a broken one.
        self._connect_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker (once; needs the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._work())

    # --- queue ---------------------------------------------------------------------------

    def submit(self, requests: list[ExecutionRequest]) -> None:
        """Queue requests to run after everything already queued."""
        self.queue.extend(requests)
        self._wake.set()

    def requests(self) -> list[ExecutionRequest]:
        """The running request (if any), then the queued ones, in run order."""
        current = [self.running.request] if self.running is not None else []
        return current + list(self.queue)

    def remove_queued(self, predicate: Callable[[ExecutionRequest], bool], state: RequestState,
                      reason: str) -> list[ExecutionRequest]:
        """Take matching queued requests out, finished with ``state``."""
        removed = [r for r in self.queue if predicate(r)]
        self.queue = [r for r in self.queue if not predicate(r)]
        for request in removed:
            request.finish(state, reason)
            self.hooks.changed(request)
        return removed

    def abort_running(self, reason: str) -> None:
        """Abort the running request once it was sent (or when closing)."""
        if self.running is not None and (self.running.sent or self._closing):
            self.running.abort(reason)

    async def reset(self, reason: str, status: str | None = None) -> list[ExecutionRequest]:
        """The kernel restarted (or went away): abort everything, drop the connection
        (a restarted kernel may listen on new ports) and the display ids of the kernel
        that was, and publish ``status``."""
        aborted = self.remove_queued(lambda r: True, RequestState.ABORTED, reason)
        self.abort_running(reason)
        self.registry.clear()
        if self.widgets is not None:
            self.widgets.sender = None
            self.widgets.kernel_reset(reason)
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        if status is not None:
            self.set_status(status)
        return aborted

    def set_status(self, status: str) -> None:
        """The kernel's status as the notebooks show it (the dispatcher is its one record)."""
        self.status = status
        self.hooks.kernel_status(self.kernel_id, status)

    def send_input(self, value: str, prompt: InputPrompt) -> None:
        """Answer the running request's ``input()`` prompt. The prompt and the answer stay
        in the cell's output, as Jupyter's front ends keep them (a password masked)."""
        if self._connection is None:
            return
        if self.running is not None:
            answer = PASSWORD_MASK if prompt.password else value
            self.running.writer.add("stream", {"name": "stdout",
                                               "text": f"{prompt.prompt}{answer}\n"})
        self._connection.input(value)

    async def close(self, reason: str = "the server is shutting down") -> None:
        """Abort everything and stop, letting the running request conclude (its cell goes
        idle) before the worker ends."""
        self._closing = True
        for background in list(self._background):
            background.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.reset(reason)
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- work ------------------------------------------------------------------------------

    async def _work(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self.queue and not self._closing:
                request = self.queue.pop(0)
                try:
                    await self._execute(request)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # never let one request stop the queue
                    log.exception("running %s on kernel %s failed", request.id, self.kernel_id)
                    request.finish(RequestState.ABORTED, f"internal error: {err}")
                    self.hooks.changed(request)

    async def _execute(self, request: ExecutionRequest) -> None:
        run = await self._begin(request)
        if run is None:
            return
        self.running = run  # listed as running while the client connects, too
        self.hooks.changed(request)
        try:
            try:
                connection = await self._connect_when_back()
            except Exception as err:
                run.writer.end(None)
                request.finish(RequestState.ABORTED, f"the kernel is not available: {err}")
                self.hooks.changed(request)
                return
            if run.done.is_set():  # aborted (restart, interrupt...) while connecting
                self._conclude(run)
                return
            try:
                msg_id = connection.execute(request.source, run)
            except Exception as err:  # the channel broke under us: end the run, not the queue
                run.writer.end(None)
                request.finish(RequestState.ABORTED, f"the cell could not be sent: {err}")
                self.hooks.changed(request)
                return
            run.sent = True
            try:
                await self._wait(run)
            finally:
                connection.forget(msg_id)
        finally:
            self.running = None
        self._conclude(run)

    async def _begin(self, request: ExecutionRequest) -> Run | None:
        """Mark the request running and its cell cleared, or finish it (None) when its
        notebook closed, its kernel changed or its cell is gone."""
        document = self.hooks.document(request)
        if document is None:
            self._skip(request, RequestState.CANCELLED, "the notebook is no longer open")
            return None
        if not await self.hooks.still_bound(request):
            self._skip(request, RequestState.ABORTED, "the notebook's kernel changed")
            return None
        writer = OutputWriter(document, request.cell_id, self.registry, self.settings.limits)
        if not writer.begin():
            self._skip(request, RequestState.CANCELLED, "the cell was deleted")
            return None
        request.state = RequestState.RUNNING
        request.started_at = time.time()
        request.source_changed = writer.cell_source() != request.source
        return Run(request, writer, self.hooks.changed)

    def _skip(self, request: ExecutionRequest, state: RequestState, reason: str) -> None:
        request.finish(state, reason)
        self.hooks.changed(request)

    def _conclude(self, run: Run) -> None:
        request = run.request
        reply = run.reply or {}
        if reply.get("execution_count") is not None:
            request.execution_count = reply["execution_count"]
        run.writer.end(request.execution_count if run.reply is not None else None)
        if run.abort_reason:
            request.finish(RequestState.ABORTED, run.abort_reason)
        elif reply.get("status") == "ok":
            request.finish(RequestState.DONE)
        else:
            request.finish(RequestState.ERROR,
                           f"{reply.get('ename', 'error')}: {reply.get('evalue', '')}".strip())
        self.hooks.changed(request)
        if request.state is not RequestState.DONE:
            # Run All stops at an error, as in JupyterLab: only this batch, not other
            # users' requests.
            self.remove_queued(lambda r: r.batch_id == request.batch_id, RequestState.ABORTED,
                               "an earlier cell in the same run did not finish")

    async def _wait(self, run: Run) -> None:
        interval = self.settings.watchdog_interval_s
        while not run.done.is_set():
            try:
                await asyncio.wait_for(run.done.wait(), interval)
            except TimeoutError:
                await self._watch(run)

    async def _watch(self, run: Run) -> None:
        if not await self._alive_unless_done(run):
            run.abort("the kernel died")
            await self.reset("the kernel died", status="dead")
            return
        now, grace = time.monotonic(), self.settings.lost_reply_grace_s
        if run.reply is None and run.idle_at is not None and now - run.idle_at > grace:
            run.abort("the kernel finished but its reply was lost")
        elif (run.idle_at is None and run.reply_at is not None
              and now - max(run.reply_at, run.iopub_at or 0.0) > grace):
            # Replied, and nothing more came for it on iopub for a while: its final "idle"
            # was lost; it is over anyway. (Measured from its last iopub message, not from
            # the reply: outputs still arriving mean the idle is still to come.)
            run.done.set()

    async def _alive_unless_done(self, run: Run) -> bool:
        """Whether the kernel is alive; True as soon as the run ends meanwhile (asking a
        gateway takes an HTTP request, which a gateway gone silent leaves hanging: the run
        must not wait for it once it is over)."""
        check = asyncio.ensure_future(self.hooks.kernel_alive(self.kernel_id))
        ended = asyncio.ensure_future(run.done.wait())
        try:
            await asyncio.wait((check, ended), return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not check.done():
            check.cancel()
            return True
        return bool(check.result())

    async def _connect_when_back(self) -> KernelChannel:
        """Connect, waiting (bounded) for a kernel that is restarting after a crash."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.connect_timeout_s
        while True:
            try:
                return await self._connect()
            except UnknownKernel:
                raise  # it will not come back
            except Exception:
                if loop.time() >= deadline or self._closing:
                    raise
            await asyncio.sleep(self.settings.watchdog_interval_s / 2)

    async def _connect(self) -> KernelChannel:
        async with self._connect_lock:
            if self._connection is None:
                self._connection = await self.hooks.connect(
                    self.kernel_id, self._on_status, self._on_any_iopub)
                if self.widgets is not None:
                    self.widgets.sender = self._connection.send_comm
            return self._connection

    def _on_status(self, status: str) -> None:
        if status in _BROKEN:
            self._broken(status)
        elif status in ("busy", "idle", "starting") and status != self.status:
            self.set_status(status)

    def _broken(self, status: str) -> None:
        """The connection is of no more use (``_BROKEN``): abort what runs and what waits,
        as for a restart (the kernel's state is unknown), drop the connection, and connect
        again in the background so that the status says when the kernel is back."""
        connection = self._connection
        if connection is None or self._closing:
            return
        reason = _BROKEN[status]
        detail = getattr(connection, "lost_reason", None)
        if status == CONNECTION_LOST and detail:
            reason = f"{reason}: {detail}"
        log.warning("kernel %s: %s", self.kernel_id, reason)
        self.abort_running(reason)
        task = asyncio.create_task(self._after_broken(connection, reason, status))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_broken(self, connection: KernelChannel, reason: str, status: str) -> None:
        if self._connection is not connection:
            return  # reset already (a restart through the server)
        await self.reset(reason, status=status)
        if status == "dead":
            return
        try:
            await self._connect_when_back()
        except UnknownKernel as err:
            log.warning("kernel %s: %s", self.kernel_id, err)
            self.set_status("dead")
            return
        except Exception as err:  # still away: the next request tries again (and says so)
            log.info("kernel %s is not back: %s", self.kernel_id, err)
            return
        if self.status == status:  # (a run on the new connection says busy itself)
            self.set_status("idle")

    def _on_any_iopub(self, msg: dict[str, Any]) -> bool:
        """Widget traffic and display updates (routed by display id, whoever's execution
        sent them); True when an Output widget captured the message."""
        msg_type = msg.get("msg_type") or (msg.get("header") or {}).get("msg_type", "")
        content = msg.get("content") or {}
        if self.widgets is not None and self.widgets.on_iopub(msg):
            return True
        if msg_type == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            if display_id:
                self.registry.queue_update(display_id, content.get("data", {}),
                                           content.get("metadata", {}),
                                           self.settings.limits.flush_interval_s)
        return False

