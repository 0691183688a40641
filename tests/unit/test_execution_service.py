"""ExecutionService on real rooms and fake kernels: the queue across users, cancel,
interrupt, restart, input, the watchdog, presence, and letting go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.errors import PermissionDenied
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.connection import UserInfo
from jupyter_huddle.collab.sync.room import Room
from jupyter_huddle.kernels.dispatcher import DispatcherSettings
from jupyter_huddle.kernels.errors import (
    ExecutionError,
    KernelMismatch,
    NotebookQueueFull,
    StaleSource,
    UnknownDocument,
    UnknownKernel,
    UnknownRequest,
)
from jupyter_huddle.kernels.limits import QueueLimits
from jupyter_huddle.kernels.requests import ExecutionRequest, RequestState, source_hash
from jupyter_huddle.kernels.service import CellRef, ExecutionService, ExecutionSettings
from tests.support.documents import code_notebook
from tests.support.fake_kernels import FakeKernels, FakeRooms, Signal

ROOM = DocumentRoomId("json", "notebook", "nb")
CLOSED_ROOM = DocumentRoomId("json", "notebook", "closed")
ADA, BOB = UserInfo("ada", "Ada"), UserInfo("bob", "Bob")
SETTINGS = ExecutionSettings(
    dispatcher=DispatcherSettings(watchdog_interval_s=0.02, lost_reply_grace_s=0.05,
                                  connect_timeout_s=0.3),
    source_wait_s=0.05, sweep_interval_s=60)


class WatchedRoom(Room):
    """A room that notifies a signal whenever the server publishes its presence."""

    def __init__(self, room_id: DocumentRoomId, document: NotebookDocument,
                 signal: Signal) -> None:
        super().__init__(room_id, document, CollabSettings())
        self.signal = signal

    def set_server_state(self, **fields: Any) -> None:
        super().set_server_state(**fields)
        self.signal.notify()


class Env:
    """A service, its fake kernel k1 bound to ROOM, the room, and what it emitted."""

    def __init__(self, settings: ExecutionSettings) -> None:
        self.signal = Signal()
        self.kernels = FakeKernels()
        self.kernel = self.kernels.add("k1", ROOM, CLOSED_ROOM)
        self.rooms = FakeRooms()
        self.events: list[tuple[str, str, str]] = []
        self.service = ExecutionService(self.rooms, self.kernels, settings, self.on_event)
        self.room: Room

    def on_event(self, action: str, request: ExecutionRequest) -> None:
        self.events.append((action, request.cell_id, request.user.username))
        self.signal.notify()

    async def run(self, *cells: str, user: UserInfo = ADA, kernel: str = "k1",
                  room: DocumentRoomId = ROOM, **hashes: str) -> list[ExecutionRequest]:
        refs = [CellRef(c, hashes.get(c)) for c in cells]
        return await self.service.execute(kernel, room, refs, user)

    async def finished(self, *requests: ExecutionRequest) -> None:
        await self.signal.wait_for(lambda: all(r.state.finished for r in requests),
                                   what=f"{[r.cell_id for r in requests]} to finish")

    def document(self) -> NotebookDocument:
        assert isinstance(self.room.document, NotebookDocument)
        return self.room.document

    def cell(self, index: int) -> Any:
        return self.document().cells[index]

    def text(self, index: int) -> str:
        return "".join(o.get("text", "") for o in self.cell(index)["outputs"].to_py())

    def states(self) -> list[str]:
        return [c.get("execution_state") for c in self.document().cells]

    def queue(self) -> list[tuple[str, str, str]]:
        return [(q["cell_id"], q["state"], q["requested_by"]["username"])
                for q in self.service.queue_of(ROOM)]

    async def published(self, predicate: Any) -> dict[str, Any]:
        """The room's server presence, once it satisfies ``predicate``."""
        state: dict[str, Any] = await self.signal.wait_for(
            lambda: self.room.server_state if predicate(self.room.server_state) else None,
            what="the published presence")
        return state


@asynccontextmanager
async def serving(*sources: str, **settings: Any) -> AsyncIterator[Env]:
    """A service over one open notebook of these cells, closed afterwards."""
    env = Env(replace(SETTINGS, **settings))
    async with WatchedRoom(ROOM, code_notebook(*sources), env.signal) as room:
        env.room = env.rooms.add(room)
        try:
            yield env
        finally:
            await env.service.close()


# --- queue ------------------------------------------------------------------------------------


async def test_cells_run_in_queue_order_across_users_and_everyone_sees_the_queue() -> None:
    async with serving("hold", "b", "c") as env:
        first = await env.run("c0")
        second = await env.run("c1", user=BOB)
        third = await env.run("c2")
        run = await env.kernel.running("hold")
        assert env.queue() == [("c0", "running", "ada"), ("c1", "queued", "bob"),
                               ("c2", "queued", "ada")]
        assert env.states() == ["running"] * 3  # from the moment they are queued
        await env.published(lambda s: [(q["cell_id"], q["state"]) for q in s.get("queue", [])]
                            == [("c0", "running"), ("c1", "queued"), ("c2", "queued")])
        run.finish()
        await env.finished(*first, *second, *third)
        assert env.kernel.codes == ["hold", "b", "c"]
        assert [r.execution_count for r in (*first, *second, *third)] == [1, 2, 3]
        assert [env.text(i) for i in (1, 2)] == ["b\n", "c\n"]
        assert env.states() == ["idle"] * 3
        assert env.queue() == []
        history = env.service.history_of(ROOM)
        assert [(h["cell_id"], h["state"]) for h in history] == [
            ("c0", "done"), ("c1", "done"), ("c2", "done")]
        assert [(a, c) for a, c, _ in env.events if c == "c1"] == [
            ("requested", "c1"), ("started", "c1"), ("done", "c1")]
        state = await env.published(lambda s: s.get("queue") == [])
        assert {c: r["requested_by"]["username"] for c, r in state["runs"].items()} == {
            "c0": "ada", "c1": "bob", "c2": "ada"}
        assert env.rooms.held[ROOM] == 0  # every request let go of its lease


async def test_refused_requests_queue_nothing() -> None:
    async with serving("x") as env:
        env.kernels.add("k2")
        with pytest.raises(ExecutionError, match="no cells"):
            await env.service.execute("k1", ROOM, [], ADA)
        with pytest.raises(UnknownKernel):
            await env.run("c0", kernel="nope")
        with pytest.raises(KernelMismatch) as mismatch:
            await env.run("c0", kernel="k2")
        assert "k1" not in str(mismatch.value)  # names nothing the asker did not send
        with pytest.raises(UnknownDocument):
            await env.run("c0", room=CLOSED_ROOM)
        with pytest.raises(ExecutionError, match="no cell"):
            await env.run("c0", "c9")
        with pytest.raises(StaleSource):
            await env.run("c0", c0=source_hash("not what it says"))
        assert env.service.ledger.requests == {}
        assert len(env.service.dispatchers) == 0
        assert env.events == []
        assert env.states() == ["idle"]
        assert sum(env.rooms.held.values()) == 0


async def test_the_source_the_user_saw_is_awaited_then_runs() -> None:
    async with serving("x = 1") as env:
        # the edit travels on the document socket and may arrive after the request
        source = env.cell(0)["source"]
        asyncio.get_running_loop().call_later(0.01, source.insert, 5, "; y")
        [request] = await env.run("c0", c0=source_hash("x = 1; y"))
        await env.finished(request)
        assert env.kernel.codes == ["x = 1; y"]


async def test_a_queue_at_its_cap_refuses_the_whole_run() -> None:
    async with serving("hold", "b", "c", queue=QueueLimits(max_per_notebook=2)) as env:
        await env.run("c0")
        await env.run("c1", user=BOB)
        with pytest.raises(NotebookQueueFull):
            await env.run("c2")
        assert [c for c, _, _ in env.queue()] == ["c0", "c1"]
        assert env.states()[2] == "idle"


async def test_a_failing_cell_stops_its_batch_only() -> None:
    async with serving("1/0", "never", "bob's") as env:
        batch = await env.run("c0", "c1")
        other = await env.run("c2", user=BOB)
        await env.finished(*batch, *other)
        assert [r.state for r in batch] == [RequestState.ERROR, RequestState.ABORTED]
        assert other[0].state is RequestState.DONE
        assert env.kernel.codes == ["1/0", "bob's"]
        assert env.cell(1)["execution_count"] is None
        assert env.states() == ["idle"] * 3


async def test_running_a_cell_again_replaces_your_queued_run_not_others() -> None:
    async with serving("hold", "x") as env:
        await env.run("c0")
        [mine] = await env.run("c1")
        [theirs] = await env.run("c1", user=BOB)
        [again] = await env.run("c1")
        assert (mine.state, mine.reason) == (RequestState.CANCELLED,
                                             "replaced by a newer run of the same cell")
        assert env.queue()[1:] == [("c1", "queued", "bob"), ("c1", "queued", "ada")]
        assert env.states()[1] == "running"  # never shown idle in between
        (await env.kernel.running("hold")).finish()
        await env.finished(theirs, again)
        assert env.kernel.codes == ["hold", "x", "x"]


# --- cancel, interrupt, restart ------------------------------------------------------------


async def test_cancel_a_queued_request() -> None:
    async with serving("hold", "a", "b") as env:
        [running] = await env.run("c0")
        [mine] = await env.run("c1")
        [bobs] = await env.run("c2", user=BOB)
        await env.kernel.running("hold")
        with pytest.raises(PermissionDenied):
            env.service.cancel(mine.id, BOB, may_cancel_others=False)
        with pytest.raises(ExecutionError, match="not queued"):
            env.service.cancel(running.id, ADA, may_cancel_others=True)
        with pytest.raises(UnknownRequest):
            env.service.cancel("f" * 32, ADA, may_cancel_others=True)
        env.service.cancel(mine.id, ADA, may_cancel_others=False)
        env.service.cancel(bobs.id, ADA, may_cancel_others=True)
        assert (mine.state, mine.reason) == (RequestState.CANCELLED, "cancelled by ada")
        assert bobs.state is RequestState.CANCELLED
        assert env.states() == ["running", "idle", "idle"]
        with pytest.raises(UnknownRequest):  # finished: no longer a request to act on
            env.service.cancel(mine.id, ADA, may_cancel_others=False)
        assert env.kernel.current is not None
        env.kernel.current.finish()
        await env.finished(running)
        assert env.kernel.codes == ["hold"]


async def test_interrupt_aborts_what_was_queued_before_and_runs_what_comes_after() -> None:
    async with serving("hold", "before", "after") as env:
        [running] = await env.run("c0")
        [before] = await env.run("c1", user=BOB)
        await env.kernel.running("hold")
        await env.service.interrupt("k1", ADA)
        [after] = await env.run("c2", user=BOB)
        await env.finished(running, before, after)
        assert env.kernels.actions == [("interrupt", "k1")]
        assert running.state is RequestState.ERROR
        assert running.reason.startswith("KeyboardInterrupt")
        assert (before.state, before.reason) == (RequestState.ABORTED, "interrupted by ada")
        assert after.state is RequestState.DONE
        assert env.kernel.codes == ["hold", "after"]
        with pytest.raises(UnknownKernel):
            await env.service.interrupt("nope", ADA)


async def test_an_interrupt_by_another_route_aborts_what_was_queued() -> None:
    async with serving("hold", "before") as env:
        [running] = await env.run("c0")
        [before] = await env.run("c1")
        await env.kernel.running("hold")
        env.service.interrupted("k1")
        assert (before.state, before.reason) == (RequestState.ABORTED,
                                                 "the kernel was interrupted")
        assert running.state is RequestState.RUNNING  # the kernel interrupts it itself


async def test_restart_aborts_everything_and_counts_start_again() -> None:
    async with serving("hold", "a", "b") as env:
        [running] = await env.run("c0")
        queued = await env.run("c1", "c2", user=BOB)
        await env.kernel.running("hold")
        await env.service.restart("k1", ADA)
        await env.finished(running, *queued)
        reason = "the kernel was restarted by ada"
        assert [(r.state, r.reason) for r in (running, *queued)] == [
            (RequestState.ABORTED, reason)] * 3
        assert env.kernels.actions == [("restart", "k1")]
        assert env.states() == ["idle"] * 3
        await env.published(lambda s: s.get("kernel") == {"id": "k1", "status": "idle"})
        [fresh] = await env.run("c1")
        await env.finished(fresh)
        assert fresh.execution_count == 1  # a new kernel counts from 1
        assert len(env.kernels.channels) == 2  # connected afresh (ports may change)


async def test_everyone_in_the_room_is_told_who_restarted_or_interrupted_the_kernel() -> None:
    async with serving("a") as env:
        [done] = await env.run("c0")
        await env.finished(done)
        await env.service.restart("k1", BOB)
        state = await env.published(lambda s: "kernel_action" in s)
        action = state["kernel_action"]
        assert (action["action"], action["by"]) == (
            "restart", {"username": "bob", "display_name": "Bob"})
        await env.service.interrupt("k1", ADA)
        state = await env.published(
            lambda s: s.get("kernel_action", {}).get("action") == "interrupt")
        assert state["kernel_action"]["by"]["username"] == "ada"
        assert state["kernel_action"]["at"] >= action["at"]


async def test_the_runs_a_failure_stopped_name_their_batch_in_presence() -> None:
    async with serving("1/0", "never") as env:
        batch = await env.run("c0", "c1")
        await env.finished(*batch)
        state = await env.published(lambda s: len(s.get("runs", {})) == 2)
        failed, skipped = state["runs"]["c0"], state["runs"]["c1"]
        assert (failed["state"], skipped["state"]) == ("error", "aborted")
        assert failed["batch"] == skipped["batch"] == batch[0].batch_id[:16]
        assert skipped["reason"] == "an earlier cell in the same run did not finish"


async def test_a_kernel_restarted_by_anyone_aborts_everything() -> None:
    async with serving("hold", "a") as env:
        requests = await env.run("c0", "c1")
        await env.kernel.running("hold")
        await env.service.kernel_restarted("k1", "the kernel restarted")
        await env.finished(*requests)
        assert {r.reason for r in requests} == {"the kernel restarted"}


# --- input -----------------------------------------------------------------------------------


async def test_input_is_answered_by_whoever_ran_the_cell() -> None:
    async with serving("input:Name? ") as env:
        [asking] = await env.run("c0")
        await env.signal.wait_for(lambda: asking.pending_input is not None)
        assert env.service.queue_of(ROOM)[0]["input"] == {"prompt": "Name? ",
                                                          "password": False}
        await env.published(lambda s: [q.get("input") for q in s.get("queue", [])]
                            == [{"prompt": "Name? ", "password": False}])
        with pytest.raises(PermissionDenied, match="Ada"):
            env.service.answer_input(asking.id, BOB, "Bob", may_execute=True)
        env.service.answer_input(asking.id, ADA, "Ada", may_execute=True)
        with pytest.raises(ExecutionError, match="not waiting"):
            env.service.answer_input(asking.id, ADA, "again", may_execute=True)
        await env.finished(asking)
        assert asking.state is RequestState.DONE
        # The prompt and the answer stay in the output, as in Jupyter.
        assert env.text(0) == "Name? Ada\ngot Ada\n"
        assert env.kernel.inputs == ["Ada"]
        with pytest.raises(UnknownRequest):
            env.service.answer_input(asking.id, ADA, "late", may_execute=True)


async def test_after_the_grace_period_anyone_who_may_execute_answers() -> None:
    async with serving("input:go? ", input_grace_s=0) as env:
        [asking] = await env.run("c0")
        await env.signal.wait_for(lambda: asking.pending_input is not None)
        with pytest.raises(PermissionDenied):
            env.service.answer_input(asking.id, BOB, "no", may_execute=False)
        env.service.answer_input(asking.id, BOB, "yes", may_execute=True)
        await env.finished(asking)
        assert env.text(0) == "go? yes\ngot yes\n"


async def test_a_password_answer_is_masked_in_the_output() -> None:
    async with serving("password:Password: ") as env:
        [asking] = await env.run("c0")
        await env.signal.wait_for(lambda: asking.pending_input is not None)
        assert env.service.queue_of(ROOM)[0]["input"] == {"prompt": "Password: ",
                                                          "password": True}
        env.service.answer_input(asking.id, ADA, "hunter2", may_execute=True)
        await env.finished(asking)
        assert env.kernel.inputs == ["hunter2"]  # the kernel gets the answer itself
        assert env.text(0) == "Password: ········\ngot it\n"


# --- the watchdog ------------------------------------------------------------------------------


async def test_a_lost_reply_is_noticed_by_the_watchdog() -> None:
    async with serving("lose reply", "next") as env:
        [lost] = await env.run("c0")
        [nxt] = await env.run("c1", user=BOB)
        await env.finished(lost, nxt)
        assert (lost.state, lost.reason) == (RequestState.ABORTED,
                                             "the kernel finished but its reply was lost")
        assert nxt.state is RequestState.DONE
        assert [h["state"] for h in env.service.history_of(ROOM)] == ["aborted", "done"]


async def test_a_kernel_that_dies_aborts_the_queue_and_shows_dead() -> None:
    async with serving("die", "behind") as env:
        [dying] = await env.run("c0")
        [behind] = await env.run("c1", user=BOB)
        await env.finished(dying, behind)
        assert {dying.reason, behind.reason} == {"the kernel died"}
        await env.published(lambda s: s.get("kernel") == {"id": "k1", "status": "dead"})


# --- attribution, letting go, lifetime ------------------------------------------------------


async def test_attribution_is_written_only_when_configured() -> None:
    async with serving("x", record_attribution=True) as env:
        [request] = await env.run("c0", user=BOB)
        await env.finished(request)
        assert env.cell(0)["metadata"]["huddle"]["last_run_by"] == "bob"
    async with serving("x") as env:
        [request] = await env.run("c0", user=BOB)
        await env.finished(request)
        assert "huddle" not in env.cell(0)["metadata"]


async def test_a_kernel_shut_down_leaves_nothing_behind() -> None:
    async with serving("hold", "a") as env:
        requests = await env.run("c0", "c1")
        await env.kernel.running("hold")
        await env.service.kernel_gone("k1", "the kernel was shut down")
        assert [r.state for r in requests] == [RequestState.ABORTED] * 2
        assert "k1" not in env.service.dispatchers
        assert env.service.ledger.kernel_rooms == {}
        assert env.service.ledger.requests == {}
        assert env.room.server_state["kernel"] == {"id": "k1", "status": "dead"}
        assert env.states() == ["idle", "idle"]


async def test_the_sweep_forgets_closed_notebooks_and_vanished_kernels() -> None:
    async with serving("x") as env:
        [request] = await env.run("c0")
        await env.finished(request)
        assert env.service.sweeper.due
        env.service.sweeper.sweep()  # the room is open and the kernel there: nothing goes
        assert ROOM in env.service.ledger.history
        assert "k1" in env.service.dispatchers
        del env.rooms.rooms[ROOM]  # the room closed
        del env.kernels.kernels["k1"]  # removed without a shutdown event
        env.service.sweeper.sweep()
        assert env.service.ledger.history == {}
        assert env.service.ledger.kernel_rooms == {}
        assert len(env.service.dispatchers) == 0
        assert not env.service.sweeper.due  # nothing held: no timer


async def test_nothing_starts_before_the_first_request_and_close_stops_everything() -> None:
    tasks = asyncio.all_tasks()
    async with serving("hold", "queued") as env:
        assert asyncio.all_tasks() - tasks <= {t for t in asyncio.all_tasks()
                                               if "Room" in repr(t.get_coro())}
        assert not env.service.sweeper.due
        requests = await env.run("c0", "c1")
        await env.kernel.running("hold")
        assert env.service.sweeper.due
        await env.service.close()
        assert [r.state for r in requests] == [RequestState.ABORTED] * 2
        assert {r.reason for r in requests} == {"the server is shutting down"}
        assert env.states() == ["idle", "idle"]
        assert len(env.service.dispatchers) == 0
        assert not env.service.sweeper.due
        assert env.service.presence.pending == set()
        assert env.rooms.held[ROOM] == 0
        assert not [t for t in asyncio.all_tasks() if "KernelDispatcher" in repr(t.get_coro())]
