"""KernelDispatcher with a fake kernel: order, batches, input, and the watchdog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.sync.connection import UserInfo
from jupyter_huddle.kernels.dispatcher import DispatcherSettings, KernelDispatcher
from jupyter_huddle.kernels.requests import ExecutionRequest, RequestState
from tests.support.documents import code_notebook
from tests.support.fake_kernels import FakeKernel, FakeKernels, Signal

ROOM = DocumentRoomId("json", "notebook", "nb")
KERNEL = "k1"
FAST = DispatcherSettings(watchdog_interval_s=0.02, lost_reply_grace_s=0.05,
                          connect_timeout_s=0.3)


class Hooks:
    """``DispatcherHooks`` over one notebook and the fake kernels; records every call."""

    def __init__(self, kernels: FakeKernels, document: NotebookDocument | None) -> None:
        self.kernels = kernels
        self.doc = document
        self.bound = True
        self.changes: list[tuple[str, RequestState]] = []
        self.statuses: list[str] = []
        self.signal = Signal()

    def document(self, request: ExecutionRequest) -> NotebookDocument | None:
        return self.doc

    def changed(self, request: ExecutionRequest) -> None:
        self.changes.append((request.cell_id, request.state))
        self.signal.notify()

    def kernel_status(self, kernel_id: str, status: str) -> None:
        self.statuses.append(status)
        self.signal.notify()

    async def kernel_alive(self, kernel_id: str) -> bool:
        return await self.kernels.alive(kernel_id)

    async def still_bound(self, request: ExecutionRequest) -> bool:
        return self.bound

    async def connect(self, kernel_id: str, on_status: Any, on_any_iopub: Any) -> Any:
        return await self.kernels.connect(kernel_id, on_status, on_any_iopub)

    async def finished(self, *requests: ExecutionRequest) -> None:
        await self.signal.wait_for(lambda: all(r.state.finished for r in requests),
                                   what=f"{[r.cell_id for r in requests]} to finish")

    async def running(self, request: ExecutionRequest) -> None:
        await self.signal.wait_for(lambda: request.state is RequestState.RUNNING,
                                   what=f"{request.cell_id} to run")


def request(cell: str, source: str, batch: str = "b1", who: str = "ada") -> ExecutionRequest:
    return ExecutionRequest(ROOM, cell, source, UserInfo(who), KERNEL, batch)


def text(doc: NotebookDocument, index: int) -> str:
    return "".join(o.get("text", "") for o in doc.cells[index]["outputs"].to_py())


class Setup:
    def __init__(self, sources: tuple[str, ...]) -> None:
        self.kernels = FakeKernels()
        self.kernel: FakeKernel = self.kernels.add(KERNEL, ROOM)
        self.doc = code_notebook(*sources)
        self.hooks = Hooks(self.kernels, self.doc)
        self.dispatcher = KernelDispatcher(KERNEL, self.hooks, FAST)

    def submit(self, *requests: ExecutionRequest) -> list[ExecutionRequest]:
        self.dispatcher.submit(list(requests))
        return list(requests)


@asynccontextmanager
async def started(*sources: str) -> AsyncIterator[Setup]:
    """A started dispatcher on a notebook of these cells (four by default), closed after."""
    made = Setup(sources or ("x",) * 4)
    made.dispatcher.start()
    try:
        yield made
    finally:
        await made.dispatcher.close()


async def test_requests_run_one_at_a_time_in_the_order_queued() -> None:
    async with started("a", "b", "c", "d") as setup:
        requests = setup.submit(request("c0", "a"), request("c1", "b", batch="b2", who="bob"))
        requests += setup.submit(request("c2", "c"), request("c3", "d", batch="b3"))
        await setup.hooks.finished(*requests)
        assert setup.kernel.codes == ["a", "b", "c", "d"]
        assert [r.execution_count for r in requests] == [1, 2, 3, 4]
        assert [r.state for r in requests] == [RequestState.DONE] * 4
        began = [cell for cell, state in setup.hooks.changes if state is RequestState.RUNNING]
        assert began == ["c0", "c1", "c2", "c3"]
        spans = [(r.started_at or 0.0, r.finished_at or 0.0) for r in requests]
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(3))  # one at a time
        assert [text(setup.doc, i) for i in range(4)] == ["a\n", "b\n", "c\n", "d\n"]
        assert [setup.doc.cells[i]["execution_count"] for i in range(4)] == [1, 2, 3, 4]
        assert setup.dispatcher.requests() == []


async def test_a_failing_cell_stops_its_batch_and_only_its_batch() -> None:
    async with started() as setup:
        failing, rest = request("c0", "1/0"), request("c1", "never")
        other = request("c2", "bob's", batch="b2", who="bob")
        after = request("c3", "later", batch="b3")
        setup.submit(failing, rest)
        setup.submit(other)
        setup.submit(after)
        await setup.hooks.finished(failing, rest, other, after)
        assert failing.state is RequestState.ERROR
        assert failing.reason == "ZeroDivisionError: division by zero"
        assert rest.state is RequestState.ABORTED
        assert "earlier cell" in rest.reason
        assert (other.state, after.state) == (RequestState.DONE, RequestState.DONE)
        assert setup.kernel.codes == ["1/0", "bob's", "later"]
        assert setup.doc.cells[0]["outputs"].to_py()[0]["ename"] == "ZeroDivisionError"


async def test_queued_requests_are_removed_by_predicate() -> None:
    async with started() as setup:
        held = request("c0", "hold")
        mine, theirs = request("c1", "mine", batch="b2"), request("c2", "theirs", who="bob")
        setup.submit(held, mine, theirs)
        run = await setup.kernel.running("hold")
        removed = setup.dispatcher.remove_queued(lambda r: r is mine, RequestState.CANCELLED,
                                                 "cancelled by ada")
        assert removed == [mine]
        assert (mine.state, mine.reason) == (RequestState.CANCELLED, "cancelled by ada")
        assert setup.dispatcher.requests() == [held, theirs]
        run.finish()
        await setup.hooks.finished(held, theirs)
        assert setup.kernel.codes == ["hold", "theirs"]


async def test_input_is_asked_then_answered() -> None:
    async with started() as setup:
        asking = request("c0", "input:Name? ")
        setup.submit(asking)
        await setup.hooks.signal.wait_for(lambda: asking.pending_input is not None)
        assert asking.pending_input is not None
        assert asking.pending_input.prompt == "Name? "
        assert asking.pending_input.password is False
        assert ("c0", RequestState.RUNNING) in setup.hooks.changes  # the prompt was published
        setup.dispatcher.send_input("Ada", asking.pending_input)
        await setup.hooks.finished(asking)
        assert asking.state is RequestState.DONE
        assert asking.pending_input is None
        assert setup.kernel.inputs == ["Ada"]
        assert text(setup.doc, 0) == "Name? Ada\ngot Ada\n"


async def test_a_lost_reply_is_noticed_by_the_watchdog_and_the_queue_goes_on() -> None:
    async with started() as setup:
        lost, nxt = request("c0", "lose reply"), request("c1", "next", batch="b2")
        setup.submit(lost, nxt)
        await setup.hooks.finished(lost, nxt)
        assert lost.state is RequestState.ABORTED
        assert lost.reason == "the kernel finished but its reply was lost"
        assert nxt.state is RequestState.DONE
        assert setup.doc.cells[0]["execution_state"] == "idle"


async def test_a_reply_without_its_final_idle_still_ends_the_run() -> None:
    async with started() as setup:
        replied = request("c0", "lose idle")
        setup.submit(replied)
        await setup.hooks.finished(replied)
        assert replied.state is RequestState.DONE
        assert replied.execution_count == 1


async def test_outputs_still_arriving_after_the_reply_keep_the_run_open() -> None:
    """A flood of output is read slower than the kernel wrote it: its reply (shell) comes
    long before the last outputs and the final idle (iopub). As long as they keep coming,
    the idle is not lost, and not one line is dropped."""
    async with started() as setup:
        flood = request("c0", "hold")
        setup.submit(flood)
        run = await setup.kernel.running("hold")
        run.reply()
        grace = FAST.lost_reply_grace_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 4 * grace
        lines = 0
        while loop.time() < deadline:  # outputs for four graces, one every half grace
            run.stdout(f"{lines}\n")
            lines += 1
            await asyncio.sleep(grace / 2)  # the kernel's pace, not a wait for the test
        assert not flood.state.finished, flood.state  # still running
        run.idle()
        await setup.hooks.finished(flood)
        assert flood.state is RequestState.DONE
        assert text(setup.doc, 0) == "".join(f"{i}\n" for i in range(lines))


async def test_a_dead_kernel_aborts_the_run_and_the_queue() -> None:
    async with started() as setup:
        dying, behind = request("c0", "die"), request("c1", "behind", batch="b2", who="bob")
        setup.submit(dying, behind)
        await setup.hooks.finished(dying, behind)
        assert (dying.state, dying.reason) == (RequestState.ABORTED, "the kernel died")
        assert (behind.state, behind.reason) == (RequestState.ABORTED, "the kernel died")
        assert setup.dispatcher.status == "dead"
        assert setup.hooks.statuses[-1] == "dead"
        assert setup.kernels.channels[0].closed
        assert [setup.doc.cells[i]["execution_state"] for i in (0, 1)] == ["idle", "idle"]


async def test_a_cell_that_cannot_be_sent_is_aborted_and_left_idle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's channel raising on send ends that run (its cell idle, not 'running'
    forever) and the queue goes on."""
    async with started() as setup:
        broken = setup.kernels

        async def connect(kernel_id: str, on_status: Any, on_any_iopub: Any) -> Any:
            channel = await broken.connect(kernel_id, on_status, on_any_iopub)
            sent = channel.execute

            def execute(code: str, listener: Any) -> str:
                if code == "unsendable":
                    raise RuntimeError("socket closed")
                return sent(code, listener)

            monkeypatch.setattr(channel, "execute", execute)
            return channel

        monkeypatch.setattr(setup.hooks, "connect", connect)
        first, second = request("c0", "unsendable"), request("c1", "print('after')")
        setup.submit(first, second)
        await setup.hooks.finished(first, second)
        assert first.state is RequestState.ABORTED
        assert "could not be sent: socket closed" in (first.reason or "")
        assert second.state is RequestState.DONE
        assert [setup.doc.cells[i]["execution_state"] for i in (0, 1)] == ["idle", "idle"]


async def test_reset_aborts_everything_and_the_next_run_connects_afresh() -> None:
    async with started() as setup:
        held, queued = request("c0", "hold"), request("c1", "queued", who="bob", batch="b2")
        setup.submit(held, queued)
        await setup.hooks.running(held)
        aborted = await setup.dispatcher.reset("the kernel was restarted by ada", status="idle")
        assert aborted == [queued]
        await setup.hooks.finished(held)
        assert {r.reason for r in (held, queued)} == {"the kernel was restarted by ada"}
        assert setup.dispatcher.status == "idle"
        setup.kernel.restart()
        again = request("c0", "again", batch="b3")
        setup.submit(again)
        await setup.hooks.finished(again)
        assert again.execution_count == 1
        assert len(setup.kernels.channels) == 2
        assert setup.kernels.channels[0].closed


async def test_a_kernel_coming_back_is_waited_for() -> None:
    async with started() as setup:
        setup.kernels.failing_connects = 2
        first = request("c0", "first")
        setup.submit(first)
        await setup.hooks.finished(first)
        assert first.state is RequestState.DONE
        assert setup.kernels.failing_connects == 0


async def test_a_kernel_that_never_comes_back_aborts_the_run() -> None:
    async with started() as setup:
        setup.kernels.failing_connects = 1000
        first = request("c0", "first")
        setup.submit(first)
        await setup.hooks.finished(first)
        assert first.state is RequestState.ABORTED
        assert first.reason.startswith("the kernel is not available")
        assert setup.doc.cells[0]["execution_state"] == "idle"


async def test_closed_notebook_changed_kernel_and_deleted_cell_skip_the_run() -> None:
    async with started() as setup:
        setup.hooks.bound = False
        moved = request("c0", "x")
        setup.submit(moved)
        await setup.hooks.finished(moved)
        assert (moved.state, moved.reason) == (RequestState.ABORTED,
                                               "the notebook's kernel changed")
        setup.hooks.bound = True
        gone = request("no-such-cell", "x")
        setup.submit(gone)
        await setup.hooks.finished(gone)
        assert (gone.state, gone.reason) == (RequestState.CANCELLED, "the cell was deleted")
        setup.hooks.doc = None
        closed = request("c0", "x")
        setup.submit(closed)
        await setup.hooks.finished(closed)
        assert closed.reason == "the notebook is no longer open"
        assert setup.kernel.codes == []


async def test_close_aborts_the_running_request_and_ends_the_worker() -> None:
    made = Setup(("x", "y"))
    made.dispatcher.start()
    held, queued = request("c0", "hold"), request("c1", "y")
    made.submit(held, queued)
    await made.hooks.running(held)
    async with asyncio.timeout(5):
        await made.dispatcher.close()
    assert (held.state, queued.state) == (RequestState.ABORTED, RequestState.ABORTED)
    assert [made.doc.cells[i]["execution_state"] for i in (0, 1)] == ["idle", "idle"]
    assert not [t for t in asyncio.all_tasks() if "KernelDispatcher" in repr(t.get_coro())]


async def test_nothing_runs_before_start_and_an_unstarted_dispatcher_closes() -> None:
    tasks = asyncio.all_tasks()
    made = Setup(("x",))
    waiting = request("c0", "x")
    made.submit(waiting)
    assert asyncio.all_tasks() == tasks  # constructing starts nothing
    await made.dispatcher.close()
    assert (waiting.state, waiting.reason) == (RequestState.ABORTED,
                                               "the server is shutting down")
    assert made.kernel.codes == []


async def test_display_updates_are_routed_by_display_id() -> None:
    async with started() as setup:
        shows = request("c0", "hold")
        setup.submit(shows)
        run = await setup.kernel.running("hold")
        run.send("display_data", {"data": {"text/plain": "v1"}, "metadata": {},
                                  "transient": {"display_id": "d"}})
        run.send("update_display_data", {"data": {"text/plain": "v2"}, "metadata": {},
                                          "transient": {"display_id": "d"}})
        assert list(setup.dispatcher.registry.pending) == ["d"]  # waits for the flush window
        setup.dispatcher.registry.flush()
        assert setup.doc.cells[0]["outputs"].to_py() == [
            {"output_type": "display_data", "data": {"text/plain": "v2"}, "metadata": {}}]
        run.finish()
        await setup.hooks.finished(shows)
