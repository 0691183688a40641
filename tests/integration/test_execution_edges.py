"""Edge cases of server-side execution (SERVER-EXECUTION.md part (b)), on real ipykernel
kernels, with several authenticated users and real websocket peers.

Jupyter Server names a token-authenticated request's user anew unless its login cookie
comes back: ``huddle.request`` keeps the cookie (user A); ``Actor`` keeps a jar of its own
(user B, C...). ``RoleAuthorizer`` (below) takes a role from a request header so one server
can have an administrator, an executor without ``write`` on kernels, and a reader.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import nbformat
import pytest
from jupyter_server.auth.authorizer import Authorizer
from pycrdt import Array, Map, Text
from traitlets.config import Config

from jupyter_huddle.collab.ids import parse_room_id
from jupyter_huddle.kernels.requests import source_hash
from tests.integration.test_execution import (
    outputs,
    start_session,
    text_of,
    wait_idle,
)
from tests.support.waiting import eventually

EXECUTION_SCHEMA_ID = "https://events.jupyter-huddle.dev/huddle/execution/v1"
ROLE_HEADER = "X-Huddle-Test-Role"

BASE_CONFIG = {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
               "save_retry_delay_s": 0.2, "kernel_watchdog_interval_s": 0.3}


class RoleAuthorizer(Authorizer):
    """Role from a request header: none = everything; ``executor`` = everything except
    ``write`` on kernels; ``reader`` = ``read`` only."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        role = handler.request.headers.get(ROLE_HEADER, "")
        if role == "reader":
            return action == "read"
        if role == "executor":
            return not (resource == "kernels" and action == "write")
        return True


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(BASE_CONFIG)


@pytest.fixture
def restarter_poll_s() -> float | None:
    """Parametrize to make jupyter_client's KernelRestarter poll faster (time_to_dead)."""
    return None


@pytest.fixture
def jp_server_config(huddle_config: dict[str, Any], restarter_poll_s: float | None) -> Config:
    config = Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_huddle": True, "jupyter_server_fileid": True},
            "authorizer_class": f"{__name__}.RoleAuthorizer",
        },
        "HuddleApp": huddle_config,
    })
    if restarter_poll_s is not None:
        config.KernelRestarter.time_to_dead = restarter_poll_s
    return config


# --- helpers ---------------------------------------------------------------------------------


class Actor:
    """Another authenticated user of the same server: its own cookie jar (so its own
    anonymous identity) and optionally a role for ``RoleAuthorizer``."""

    def __init__(self, huddle: Any, role: str | None = None) -> None:
        self.huddle = copy.copy(huddle)
        self.huddle.cookies = {}
        self.headers = {ROLE_HEADER: role} if role else {}

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return await self.huddle.request(method, path, body,
                                         headers={**self.headers, **(headers or {})}, **kwargs)


async def username(who: Any) -> str:
    response = await who.request("GET", "api/me")
    assert response.code == 200, response.body
    return json.loads(response.body)["identity"]["username"]


async def run(who: Any, kernel_id: str, room: str, *cells: Any, **extra: Any) -> dict:
    """Execute as ``who`` (huddle = user A, or an Actor); 202 expected."""
    body = {"document_id": room,
            "cells": [{"cell_id": c} if isinstance(c, str) else c for c in cells], **extra}
    response = await who.request("POST", f"api/kernels/{kernel_id}/execute", body)
    assert response.code == 202, response.body
    return json.loads(response.body)


def request_ids(answer: dict) -> list[str]:
    return [r["request_id"] for r in answer["requests"]]


async def queue_view(who: Any, room: str) -> dict:
    response = await who.request("GET", f"api/huddle/queue/{room}")
    assert response.code == 200, response.body
    return json.loads(response.body)


def by_id(view: dict) -> dict[str, dict]:
    return {r["request_id"]: r for r in view["history"] + view["queue"]}


def server_state(client: Any) -> dict:
    """The server's presence entry (``{"queue": [...], "runs": {...}, "kernel": {...}}``)."""
    for state in client.awareness.values():
        if isinstance(state, dict) and isinstance(state.get("huddle"), dict):
            return state["huddle"]
    return {}


def published_queue(client: Any) -> list[dict]:
    return server_state(client).get("queue", [])


async def wait_published(client: Any, predicate: Callable[[list[dict]], bool],
                         timeout: float = 20) -> None:
    """Wait until the server's published queue satisfies ``predicate``."""
    try:
        await client.wait_for(lambda: predicate(published_queue(client)), timeout)
    except TimeoutError:
        raise AssertionError(f"published queue: {published_queue(client)}; "
                             f"presence: {client.awareness}") from None


# A cell that holds its place in the queue (running) until the test answers its prompt:
# whatever the test does meanwhile (queue, edit, delete, cancel) lands while it runs, by
# construction rather than by a timing window.
GATE = "input('go? ')"


def gated(before: str = "", after: str = "") -> str:
    """A cell that runs ``before``, waits at the gate, then runs ``after``."""
    return "\n".join(part for part in (before, GATE, after) if part)


async def at_gate(client: Any, request_id: str) -> None:
    """Wait until the request is running and waits at its gate (its prompt published)."""
    await wait_published(client, lambda queue: any(
        q["request_id"] == request_id and q.get("input") for q in queue))


async def answer(who: Any, request_id: str, value: str = "go") -> None:
    """Answer the request's ``input()`` as ``who`` (its author, or anyone past the grace)."""
    response = await who.request("POST", f"api/huddle/requests/{request_id}/input",
                                 {"value": value})
    assert response.code == 204, response.body


async def open_gate(who: Any, client: Any, request_id: str) -> None:
    """Let a gated request go on, once it is waiting."""
    await at_gate(client, request_id)
    await answer(who, request_id)


def after_each_frame(client: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` after the client applies each frame it receives (an exact sample
    of what a peer shows, which a task woken by ``wait_for`` could skip)."""
    handle = client._handle

    async def handle_and_sample(frame: bytes) -> None:
        await handle(frame)
        callback()

    client._handle = handle_and_sample


def cell_index(client: Any, cell_id: str) -> int:
    for index, ycell in enumerate(client.cells):
        if ycell.get("id") == cell_id:
            return index
    raise AssertionError(f"no cell {cell_id}")


def states(client: Any) -> list[Any]:
    return [c.get("execution_state") for c in client.cells]


async def all_idle(client: Any, timeout: float = 30) -> None:
    try:
        await client.wait_for(lambda: all(s == "idle" for s in states(client)), timeout)
    except TimeoutError:
        raise AssertionError(f"cells still running: {client.cells.to_py()}") from None


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records
                if r.levelno >= logging.ERROR or r.exc_info]

    def text(self) -> str:
        parts = []
        for r in self.records:
            try:
                parts.append(r.getMessage())
            except Exception:  # a malformed record still counts as text
                parts.append(str(r.msg))
            if r.exc_text:
                parts.append(r.exc_text)
        return "\n".join(parts)


@contextmanager
def captured_logs(*loggers: logging.Logger, level: int | None = None) -> Any:
    """Every record reaching these loggers (optionally lowering their level meanwhile)."""
    handler = Records()
    saved = []
    for logger in loggers:
        logger.addHandler(handler)
        saved.append(logger.level)
        if level is not None:
            logger.setLevel(level)
    try:
        yield handler
    finally:
        for logger, old in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(old)


def huddle_loggers(huddle: Any) -> tuple[logging.Logger, ...]:
    return (logging.getLogger("jupyter_huddle"), huddle.app.log, logging.getLogger())


async def read_saved(path: Any) -> Any:
    """The notebook on disk, or None while it is missing or being written."""
    try:
        return await asyncio.to_thread(nbformat.read, str(path), as_version=4)
    except Exception:  # a save in progress: read again on the next poll
        return None


# --- 1, 2, 3: several users, FIFO, batches ------------------------------------------------


async def test_two_users_run_different_cells_in_fifo_order(huddle, write_notebook):
    write_notebook("two.ipynb", [gated(after="print('from A')"), "print('from B')", "pass"])
    kernel_id = await start_session(huddle, "two.ipynb")
    room, _ = await huddle.room_id("two.ipynb")
    bob = Actor(huddle)
    alice_name, bob_name = await username(huddle), await username(bob)
    assert alice_name != bob_name
    async with huddle.open("two.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        # connect the server's kernel client first (see the connecting test below)
        await run(huddle, kernel_id, room, ids[2])
        await wait_idle(watcher, 2)
        first = await run(huddle, kernel_id, room, ids[0])
        second = await run(bob, kernel_id, room, ids[1])
        assert first["requests"][0]["requested_by"]["username"] == alice_name
        assert second["requests"][0]["requested_by"]["username"] == bob_name
        # everyone sees both: A's running, B's queued behind it, and who asked
        await wait_published(watcher, lambda queue: [
            (q["cell_id"], q["state"], q["requested_by"]["username"]) for q in queue]
            == [(ids[0], "running", alice_name), (ids[1], "queued", bob_name)])
        assert states(watcher)[:2] == ["running", "running"]  # running from enqueue to end
        await open_gate(huddle, watcher, request_ids(first)[0])
        await wait_idle(watcher, 0)
        await wait_idle(watcher, 1)
        assert text_of(watcher, 0) == "go? go\nfrom A\n"  # the gate's prompt and answer
        assert text_of(watcher, 1) == "from B\n"
        assert [watcher.cells[i]["execution_count"] for i in (0, 1)] == [2, 3]
        history = by_id(await queue_view(bob, room))
        a, b = history[request_ids(first)[0]], history[request_ids(second)[0]]
        assert (a["state"], b["state"]) == ("done", "done")
        assert b["started_at"] >= a["finished_at"]  # one at a time, in queue order
        # attribution stays visible to everyone once the runs are over
        await watcher.wait_for(lambda: {
            k: v["requested_by"]["username"]
            for k, v in server_state(watcher).get("runs", {}).items()}
            == {ids[0]: alice_name, ids[1]: bob_name, ids[2]: alice_name})


async def test_a_request_whose_kernel_client_is_connecting_is_in_the_queue(
        huddle, write_notebook, tmp_path, monkeypatch):
    # a kernel that boots only once the test creates a file (an IPython startup file
    # waits for it): connecting to it (the first run on it) lasts until then
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    booted = tmp_path / "boot"
    (startup / "00-slow.py").write_text(
        "import os, time\n"
        "deadline = time.monotonic() + 60\n"
        f"while not os.path.exists({str(booted)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    write_notebook("first.ipynb", ["print('hi')", "print('next')"])
    kernel_id = await start_session(huddle, "first.ipynb")
    room, _ = await huddle.room_id("first.ipynb")
    async with huddle.open("first.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        seen: list[list[tuple[str, str]]] = []
        after_each_frame(watcher, lambda: seen.append(
            [(q["cell_id"], q["state"]) for q in published_queue(watcher)]))
        mine = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        theirs = request_ids(await run(Actor(huddle), kernel_id, room, ids[1]))[0]
        view = await queue_view(huddle, room)
        await wait_published(watcher, lambda queue: [(q["cell_id"], q["state"]) for q in queue]
                             == [(ids[0], "running"), (ids[1], "queued")])
        booted.touch()
        await all_idle(watcher)
        assert text_of(watcher, 0) == "hi\n"  # it did run, once the kernel was up
        assert [q["request_id"] for q in view["queue"]] == [mine, theirs], view
        assert [(ids[0], "running"), (ids[1], "queued")] in seen, seen


async def test_run_all_is_never_interleaved_with_another_users_run(huddle, write_notebook):
    write_notebook("batch.ipynb", [gated(after="print('a0')"), "print('a1')", "print('a2')",
                                   gated(after="print('b')"), "pass"])
    kernel_id = await start_session(huddle, "batch.ipynb")
    room, _ = await huddle.room_id("batch.ipynb")
    bob = Actor(huddle)
    async with huddle.open("batch.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        await run(huddle, kernel_id, room, ids[4])  # connects the server's kernel client
        await wait_idle(watcher, 4)
        # A's Run All first; B asks while A's first cell runs: B's run comes after A's batch
        batch = await run(huddle, kernel_id, room, *ids[:3])
        await at_gate(watcher, request_ids(batch)[0])
        single = await run(bob, kernel_id, room, ids[3])
        await answer(huddle, request_ids(batch)[0])
        await open_gate(bob, watcher, request_ids(single)[0])
        await all_idle(watcher)
        assert [c["execution_count"] for c in watcher.cells][:4] == [2, 3, 4, 5]
        # B first (and still running) when A's Run All arrives: A's whole batch after B
        single2 = await run(bob, kernel_id, room, ids[3])
        await at_gate(watcher, request_ids(single2)[0])
        batch2 = await run(huddle, kernel_id, room, *ids[:3])
        await answer(bob, request_ids(single2)[0])
        await open_gate(huddle, watcher, request_ids(batch2)[0])
        await watcher.wait_for(lambda: watcher.cells[2]["execution_count"] == 9, timeout=30)
        await all_idle(watcher)
        assert [c["execution_count"] for c in watcher.cells][:4] == [7, 8, 9, 6]
        assert [text_of(watcher, i) for i in range(4)] == [  # gates keep prompt and answer
                "go? go\na0\n", "a1\n", "a2\n", "go? go\nb\n"]
        history = by_id(await queue_view(huddle, room))
        for accepted in (batch, single, single2, batch2):
            assert all(history[r]["state"] == "done" for r in request_ids(accepted))
        started = sorted((r for r in history.values() if r["cell_id"] != ids[4]),
                         key=lambda r: r["started_at"])
        order = [r["request_id"] for r in started]
        assert order == (request_ids(batch) + request_ids(single) + request_ids(single2)
                         + request_ids(batch2))


async def test_error_in_a_batch_aborts_only_that_batch(huddle, write_notebook):
    write_notebook("errs.ipynb", [gated(after="1/0"), "print('a-next')", "print('bob runs')"])
    kernel_id = await start_session(huddle, "errs.ipynb")
    room, _ = await huddle.room_id("errs.ipynb")
    bob = Actor(huddle)
    async with huddle.open("errs.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        batch = await run(huddle, kernel_id, room, ids[0], ids[1])
        single = await run(bob, kernel_id, room, ids[2])  # queued behind the batch
        await open_gate(huddle, watcher, request_ids(batch)[0])
        await all_idle(watcher)
        assert outputs(watcher, 0)[-1]["ename"] == "ZeroDivisionError"
        assert outputs(watcher, 1) == []
        assert watcher.cells[1]["execution_count"] is None
        assert text_of(watcher, 2) == "bob runs\n"
        history = by_id(await queue_view(huddle, room))
        assert [history[r]["state"] for r in request_ids(batch)] == ["error", "aborted"]
        assert history[request_ids(single)[0]]["state"] == "done"


# --- 5, 8, 9, 10, 11: the document changes under the queue -------------------------------------


async def test_source_edited_while_queued_runs_the_checked_snapshot(huddle, write_notebook):
    write_notebook("snap.ipynb", [GATE, "print('old')"])
    kernel_id = await start_session(huddle, "snap.ipynb")
    room, _ = await huddle.room_id("snap.ipynb")
    async with huddle.open("snap.ipynb") as alice, huddle.open("snap.ipynb") as bob:
        ids = [c["id"] for c in alice.cells]
        first = await run(huddle, kernel_id, room, ids[0])
        queued = await run(huddle, kernel_id, room,
                           {"cell_id": ids[1], "source_hash": source_hash("print('old')")})
        # B rewrites the cell while A's request waits behind the gate
        with bob.doc.transaction():
            src = bob.source(1)
            del src[0:len(src)]
            src.insert(0, "print('new')")
        await alice.wait_for(lambda: str(alice.source(1)) == "print('new')")
        view = by_id(await queue_view(huddle, room))
        assert view[request_ids(queued)[0]]["state"] == "queued"  # edited while queued
        await open_gate(huddle, alice, request_ids(first)[0])
        await all_idle(alice)
        assert text_of(alice, 1) == "old\n"  # what A saw and the server checked
        assert str(alice.source(1)) == "print('new')"  # B's edit is kept
        entry = by_id(await queue_view(huddle, room))[request_ids(queued)[0]]
        assert entry["state"] == "done"
        assert entry.get("source_changed") is True
        assert "source_changed" not in by_id(await queue_view(huddle, room))[
            request_ids(first)[0]]


async def test_request_records_that_the_source_changed_while_queued(huddle, write_notebook):
    write_notebook("snap2.ipynb", [GATE, "print('old')"])
    kernel_id = await start_session(huddle, "snap2.ipynb")
    room, _ = await huddle.room_id("snap2.ipynb")
    async with huddle.open("snap2.ipynb") as alice, huddle.open("snap2.ipynb") as peer:
        ids = [c["id"] for c in alice.cells]
        gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        queued = await run(huddle, kernel_id, room, ids[1])
        alice.source(1).insert(len("print('old'"), " + ' edited'")
        # a peer has it, so the server has it: edited while queued
        await peer.wait_for(lambda: "edited" in str(peer.source(1)))
        await open_gate(huddle, alice, gate)
        await all_idle(alice)
        entry = by_id(await queue_view(huddle, room))[request_ids(queued)[0]]
        assert entry["state"] == "done"
        assert entry.get("source_changed") is True, entry
        assert text_of(alice, 1) == "old\n"  # the snapshot ran, not the edit


async def test_requeue_replaces_own_entry_and_keeps_other_users(huddle, write_notebook):
    write_notebook("requeue.ipynb", [GATE, "n = globals().get('n', 0) + 1\nprint('run', n)"])
    kernel_id = await start_session(huddle, "requeue.ipynb")
    room, _ = await huddle.room_id("requeue.ipynb")
    bob = Actor(huddle)
    async with huddle.open("requeue.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        a1 = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        b1 = request_ids(await run(bob, kernel_id, room, ids[1]))[0]
        a2 = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        view = await queue_view(huddle, room)
        assert [q["request_id"] for q in view["queue"] if q["state"] == "queued"] == [b1, a2]
        await open_gate(huddle, watcher, gate)
        await all_idle(watcher)
        history = by_id(await queue_view(huddle, room))
        assert history[a1]["state"] == "cancelled"
        assert "replaced" in history[a1]["reason"]
        assert (history[b1]["state"], history[a2]["state"]) == ("done", "done")
        assert text_of(watcher, 1) == "run 2\n"  # B's run and A's latest: twice, not three


async def test_requeue_keeps_the_cell_running_for_peers(huddle, write_notebook):
    """Replacing your own queued run must not flash the cell idle in between."""
    write_notebook("flicker.ipynb", [GATE, "print('x')"])
    kernel_id = await start_session(huddle, "flicker.ipynb")
    room, _ = await huddle.room_id("flicker.ipynb")
    async with huddle.open("flicker.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        seen: list[Any] = []
        after_each_frame(watcher, lambda: seen.append(watcher.cells[1].get("execution_state")))
        gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        await run(huddle, kernel_id, room, ids[1])
        await watcher.wait_for(lambda: watcher.cells[1].get("execution_state") == "running")
        seen.clear()
        await run(huddle, kernel_id, room, ids[1])  # same user, same cell: replaces
        await open_gate(huddle, watcher, gate)
        await all_idle(watcher)
        assert text_of(watcher, 1) == "x\n"
        first_idle = seen.index("idle")
        # between the re-queue and the end of the run, the cell is never shown idle
        assert "running" not in seen[first_idle:], seen
        assert watcher.cells[1]["execution_count"] is not None
        assert seen[-1] == "idle"


async def test_cell_deleted_while_queued_is_cancelled_and_the_queue_goes_on(
        huddle, write_notebook):
    write_notebook("delq.ipynb", [GATE, "print('deleted')", "print('after')"])
    kernel_id = await start_session(huddle, "delq.ipynb")
    room, _ = await huddle.room_id("delq.ipynb")
    with captured_logs(*huddle_loggers(huddle)) as logs:
        async with huddle.open("delq.ipynb") as alice, huddle.open("delq.ipynb") as bob:
            ids = [c["id"] for c in alice.cells]
            gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
            doomed = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
            after = request_ids(await run(huddle, kernel_id, room, ids[2]))[0]
            del bob.cells[1]
            await alice.wait_for(lambda: len(alice.cells) == 2)
            await open_gate(huddle, alice, gate)
            await all_idle(alice)
            assert [c["id"] for c in alice.cells] == [ids[0], ids[2]]
            assert text_of(alice, 1) == "after\n"
            history = by_id(await queue_view(huddle, room))
            assert history[doomed]["state"] == "cancelled"
            assert "deleted" in history[doomed]["reason"]
            assert history[after]["state"] == "done"
    assert logs.errors() == []


async def test_cell_deleted_while_running_kernel_goes_on_outputs_dropped(
        huddle, write_notebook):
    write_notebook("delr.ipynb", [
        gated("print('start', flush=True)", "print('late')\nx = 42"), "print('x is', x)"])
    kernel_id = await start_session(huddle, "delr.ipynb")
    room, _ = await huddle.room_id("delr.ipynb")
    bob = Actor(huddle)
    with captured_logs(*huddle_loggers(huddle)) as logs:
        async with huddle.open("delr.ipynb") as alice, huddle.open("delr.ipynb") as peer:
            ids = [c["id"] for c in alice.cells]
            running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
            nxt = request_ids(await run(bob, kernel_id, room, ids[1]))[0]
            await alice.wait_for(lambda: text_of(alice, 0) == "start\n", timeout=20)
            del peer.cells[0]
            await alice.wait_for(lambda: len(alice.cells) == 1)
            await open_gate(huddle, alice, running)
            await wait_idle(alice, 0)
            assert alice.cells[0]["id"] == ids[1]
            assert text_of(alice, 0) == "x is 42\n"  # the deleted cell's code ran to the end
            assert "late" not in json.dumps(alice.doc.get("cells", type=Array).to_py())
            history = by_id(await queue_view(huddle, room))
            assert history[running]["state"] in ("done", "cancelled", "aborted")
            assert history[nxt]["state"] == "done"
    assert logs.errors() == []


async def test_cell_moved_while_running_outputs_follow_the_id(huddle, write_notebook):
    write_notebook("move.ipynb", [gated("print('start', flush=True)", "print('end')"),
                                  "# second", "# third"])
    kernel_id = await start_session(huddle, "move.ipynb")
    room, _ = await huddle.room_id("move.ipynb")
    async with huddle.open("move.ipynb") as alice, huddle.open("move.ipynb") as mover:
        ids = [c["id"] for c in alice.cells]
        gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        await mover.wait_for(lambda: text_of(mover, 0) == "start\n", timeout=20)
        # JupyterLab moves a cell as delete + insert of a copy with the same id
        with mover.doc.transaction():
            cell = mover.cells[0].to_py()
            del mover.cells[0]
            outs = Array([Map({**o, "text": Text(o["text"])}) if o.get("output_type") == "stream"
                          else Map(o) for o in cell.pop("outputs")])
            clone = Map({**cell, "source": Text(cell["source"]),
                         "metadata": Map(cell["metadata"]), "outputs": outs})
            mover.cells.insert(2, clone)
        await alice.wait_for(lambda: alice.cells[2]["id"] == ids[0])
        await open_gate(huddle, alice, gate)
        index = cell_index(alice, ids[0])
        await wait_idle(alice, index)
        assert text_of(alice, index) == "start\ngo? go\nend\n"
        assert alice.cells[index]["execution_count"] == 1
        assert [outputs(alice, i) for i in range(3) if i != index] == [[], []]
        assert states(alice) == ["idle"] * 3


async def test_a_cell_inserted_above_a_running_one_does_not_misdirect_outputs(
        huddle, write_notebook):
    write_notebook("shift.ipynb", [gated("print('start', flush=True)", "print('end')")])
    kernel_id = await start_session(huddle, "shift.ipynb")
    room, _ = await huddle.room_id("shift.ipynb")
    async with huddle.open("shift.ipynb") as alice, huddle.open("shift.ipynb") as peer:
        cell_id = alice.cells[0]["id"]
        gate = request_ids(await run(huddle, kernel_id, room, cell_id))[0]
        await alice.wait_for(lambda: text_of(alice, 0) == "start\n", timeout=20)
        alice.cells.insert(0, Map({"id": "new-above", "cell_type": "code",
                                   "source": Text("# above"), "metadata": Map(),
                                   "outputs": Array(), "execution_count": None,
                                   "execution_state": "idle"}))
        await peer.wait_for(lambda: len(peer.cells) == 2)  # the server has it
        await open_gate(huddle, alice, gate)
        await wait_idle(alice, 1)
        assert alice.cells[1]["id"] == cell_id
        assert text_of(alice, 1) == "start\ngo? go\nend\n"
        assert outputs(alice, 0) == []


# --- 12: interrupt with a queue -------------------------------------------------------------


@pytest.mark.timing
async def test_interrupt_aborts_what_was_queued_before_and_runs_what_comes_after(
        huddle, write_notebook):
    write_notebook("intr.ipynb", ["import time\nprint('start', flush=True)\ntime.sleep(20)",
                                  "print('before')", "print('after')"])
    kernel_id = await start_session(huddle, "intr.ipynb")
    room, _ = await huddle.room_id("intr.ipynb")
    alice_name = await username(huddle)
    bob = Actor(huddle, role="executor")
    async with huddle.open("intr.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        before = request_ids(await run(bob, kernel_id, room, ids[1]))[0]
        await watcher.wait_for(lambda: text_of(watcher, 0) == "start\n", timeout=20)
        # interrupting needs write on kernels
        refused = await bob.request("POST", f"api/huddle/kernels/{kernel_id}/interrupt")
        assert refused.code == 403
        started = time.monotonic()
        assert (await huddle.request("POST",
                                     f"api/huddle/kernels/{kernel_id}/interrupt")).code == 204
        after = request_ids(await run(bob, kernel_id, room, ids[2]))[0]
        await all_idle(watcher)
        assert time.monotonic() - started < 10
        assert outputs(watcher, 0)[-1]["ename"] == "KeyboardInterrupt"
        assert outputs(watcher, 1) == []
        assert text_of(watcher, 2) == "after\n"
        history = by_id(await queue_view(huddle, room))
        assert history[running]["state"] == "error"
        assert history[before]["state"] == "aborted"
        assert alice_name in history[before]["reason"]  # "interrupted by <A>"
        assert history[after]["state"] == "done"


# --- cancelling and permissions ----------------------------------------------------------------


async def test_cancel_own_and_others_queued_requests(huddle, write_notebook):
    write_notebook("cancel.ipynb", [GATE, "print('a')", "print('b')"])
    kernel_id = await start_session(huddle, "cancel.ipynb")
    room, _ = await huddle.room_id("cancel.ipynb")
    bob = Actor(huddle, role="executor")  # may execute, not write on kernels
    carol = Actor(huddle, role="executor")
    async with huddle.open("cancel.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        mine = request_ids(await run(bob, kernel_id, room, ids[1]))[0]
        alices = request_ids(await run(huddle, kernel_id, room, ids[2]))[0]
        await at_gate(watcher, running)
        # someone else's, without write on kernels: refused, nothing changes
        refused = await bob.request("DELETE", f"api/huddle/requests/{alices}")
        assert refused.code == 403, refused.body
        assert json.loads(refused.body)["message"]
        assert (await carol.request("DELETE", f"api/huddle/requests/{mine}")).code == 403
        # the running request is not "queued": it cannot be cancelled (interrupt instead)
        assert (await huddle.request("DELETE", f"api/huddle/requests/{running}")).code == 400
        assert (await bob.request("DELETE", f"api/huddle/requests/{mine}")).code == 204
        assert (await bob.request("DELETE", f"api/huddle/requests/{mine}")).code == 404
        assert (await huddle.request("DELETE", f"api/huddle/requests/{'f' * 32}")).code == 404
        await answer(huddle, running)
        await all_idle(watcher)
        assert outputs(watcher, 1) == []
        assert watcher.cells[1]["execution_count"] is None
        assert text_of(watcher, 2) == "b\n"
        history = by_id(await queue_view(huddle, room))
        assert history[mine]["state"] == "cancelled"
        assert history[alices]["state"] == "done"
        # with write on kernels (A), cancelling someone else's queued request works
        gate = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        theirs = request_ids(await run(bob, kernel_id, room, ids[1]))[0]
        assert (await huddle.request("DELETE", f"api/huddle/requests/{theirs}")).code == 204
        await open_gate(huddle, watcher, gate)
        await all_idle(watcher)
        assert outputs(watcher, 1) == []
        assert by_id(await queue_view(huddle, room))[theirs]["state"] == "cancelled"


async def test_reader_cannot_execute_answer_or_interrupt_but_sees_the_queue(
        huddle, write_notebook):
    write_notebook("reader.ipynb", ["x = input('go? ')\nprint('got', x)"])
    kernel_id = await start_session(huddle, "reader.ipynb")
    room, _ = await huddle.room_id("reader.ipynb")
    reader = Actor(huddle, role="reader")
    async with huddle.open("reader.ipynb") as watcher:
        cell_id = watcher.cells[0]["id"]
        body = {"document_id": room, "cells": [{"cell_id": cell_id}]}
        refused = await reader.request("POST", f"api/kernels/{kernel_id}/execute", body)
        assert refused.code == 403, refused.body
        assert "run cells" in json.loads(refused.body)["message"]
        assert watcher.cells[0]["execution_state"] == "idle"
        assert (await queue_view(reader, room))["queue"] == []
        request_id = request_ids(await run(huddle, kernel_id, room, cell_id))[0]
        await watcher.wait_for(lambda: any(q.get("input") for q in published_queue(watcher)),
                               timeout=20)
        view = await queue_view(reader, room)
        assert [q["request_id"] for q in view["queue"]] == [request_id]
        assert view["queue"][0]["input"]["prompt"] == "go? "
        refused = await reader.request("POST", f"api/huddle/requests/{request_id}/input",
                                       {"value": "sneaky"})
        assert refused.code == 403
        for action in ("interrupt", "restart"):
            response = await reader.request("POST", f"api/huddle/kernels/{kernel_id}/{action}")
            assert response.code == 403
        assert (await reader.request("DELETE", f"api/huddle/requests/{request_id}")).code == 403
        ok = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                  {"value": "yes"})
        assert ok.code == 204
        await wait_idle(watcher, 0)
        assert text_of(watcher, 0).endswith("got yes\n")


# --- 14: kernel crash ------------------------------------------------------------------------


CRASH_NOTEBOOK = ["import os\nprint(os.getpid())",
                  gated("import os\nprint('dying', flush=True)", "os._exit(1)"),
                  "print('queued behind the crash')"]


async def crash_and_wait(huddle: Any, watcher: Any, kernel_id: str, room: str) -> tuple:
    """Run cell 0 (pid), then the crashing cell 1 with B's cell 2 queued behind it; let
    the kernel die once both are in and its last words shown; wait for every cell to be
    idle. Returns (old pid, crash request, queued request, seconds from the death)."""
    ids = [c["id"] for c in watcher.cells]
    await run(huddle, kernel_id, room, ids[0])
    await wait_idle(watcher, 0)
    old_pid = text_of(watcher, 0).strip()
    crash = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
    behind = request_ids(await run(Actor(huddle), kernel_id, room, ids[2]))[0]
    await watcher.wait_for(lambda: text_of(watcher, 1) == "dying\n", timeout=20)
    await at_gate(watcher, crash)
    started = time.monotonic()
    await answer(huddle, crash)  # it dies now
    await all_idle(watcher, timeout=20)
    return old_pid, crash, behind, time.monotonic() - started


async def runs_again(huddle: Any, watcher: Any, kernel_id: str, room: str) -> None:
    """Run cell 0 until a run succeeds (the restarter polls every few seconds)."""
    async def attempt() -> bool:
        retry = request_ids(await run(huddle, kernel_id, room, watcher.cells[0]["id"]))[0]
        await all_idle(watcher, timeout=30)
        return by_id(await queue_view(huddle, room))[retry]["state"] == "done"

    await eventually(attempt, timeout=30, what="a run on the restarted kernel")


@pytest.mark.timing
async def test_kernel_killed_mid_run_aborts_and_a_new_kernel_takes_over(huddle, write_notebook):
    write_notebook("crash.ipynb", CRASH_NOTEBOOK)
    kernel_id = await start_session(huddle, "crash.ipynb")
    room, _ = await huddle.room_id("crash.ipynb")
    async with huddle.open("crash.ipynb") as watcher:
        old_pid, crash, behind, elapsed = await crash_and_wait(huddle, watcher, kernel_id, room)
        assert elapsed < 10, elapsed  # bounded by the watchdog, not a reply timeout
        history = by_id(await queue_view(huddle, room))
        assert history[crash]["state"] in ("aborted", "error"), history[crash]
        assert history[crash]["reason"]
        assert history[behind]["state"] == "aborted", history[behind]  # as for a restart
        assert (await queue_view(huddle, room))["queue"] == []
        assert outputs(watcher, 2) == []
        assert watcher.cells[2]["execution_count"] is None

        # once the restarter has brought it back, requests run on the new kernel
        await runs_again(huddle, watcher, kernel_id, room)
        new_pid = text_of(watcher, 0).strip()
        assert new_pid
        assert new_pid != old_pid
        assert watcher.cells[0]["execution_count"] == 1  # a new kernel counts from 1


@pytest.mark.parametrize("restarter_poll_s", [4.0])  # its first poll comes after the crash
@pytest.mark.timing
async def test_the_very_next_request_after_a_crash_runs(huddle, write_notebook,
                                                        restarter_poll_s):
    write_notebook("crash2.ipynb", CRASH_NOTEBOOK)
    kernel_id = await start_session(huddle, "crash2.ipynb")
    room, _ = await huddle.room_id("crash2.ipynb")
    async with huddle.open("crash2.ipynb") as watcher:
        old_pid, *_ = await crash_and_wait(huddle, watcher, kernel_id, room)
        try:
            retry = request_ids(await run(huddle, kernel_id, room, watcher.cells[0]["id"]))[0]
            await all_idle(watcher, timeout=30)
            entry = by_id(await queue_view(huddle, room))[retry]
            assert entry["state"] == "done", entry.get("reason")
            assert text_of(watcher, 0).strip() != old_pid
        finally:
            # never tear the server down mid auto-restart (jupyter_client's shutdown_all
            # fails on a kernel whose restart is pending)
            await runs_again(huddle, watcher, kernel_id, room)


FAST_RESTARTER = {**BASE_CONFIG, "kernel_watchdog_interval_s": 2.0}


@pytest.mark.parametrize("huddle_config", [FAST_RESTARTER])
@pytest.mark.parametrize("restarter_poll_s", [0.1])
@pytest.mark.timing
async def test_a_crash_noticed_first_by_the_restarter_does_not_wedge_the_queue(
        huddle, write_notebook, restarter_poll_s):
    """The restarter brings the kernel back (on new ports) before the watchdog's next
    tick: the run is aborted by the restart event, not left waiting for a lost reply."""
    write_notebook("crash3.ipynb", CRASH_NOTEBOOK)
    kernel_id = await start_session(huddle, "crash3.ipynb")
    room, _ = await huddle.room_id("crash3.ipynb")
    async with huddle.open("crash3.ipynb") as watcher:
        old_pid, crash, behind, elapsed = await crash_and_wait(huddle, watcher, kernel_id, room)
        assert elapsed < 2.0, elapsed  # before the watchdog would have looked
        history = by_id(await queue_view(huddle, room))
        assert history[crash]["state"] == "aborted"
        assert history[behind]["state"] == "aborted"
        retry = request_ids(await run(huddle, kernel_id, room, watcher.cells[0]["id"]))[0]
        await all_idle(watcher, timeout=30)
        assert by_id(await queue_view(huddle, room))[retry]["state"] == "done"
        assert text_of(watcher, 0).strip() != old_pid  # the client was rebuilt


# --- 30: big outputs -----------------------------------------------------------------------

CAPS = {**BASE_CONFIG, "max_output_bytes": 1_000_000, "max_execution_output_bytes": 3_000_000}


def notices(outs: list[dict]) -> int:
    text = json.dumps(outs)
    return text.count("output truncated") + text.count("not shown: over the")


BIG_DISPLAY = ("from IPython.display import display\n"
               "display({'text/plain': 'x' * 5_000_000}, raw=True)\nprint('still here')")


@pytest.mark.parametrize("huddle_config", [{**CAPS, "max_execution_output_bytes": 20_000_000}])
async def test_a_5mb_display_output_is_replaced_by_a_notice(huddle, write_notebook):
    write_notebook("big.ipynb", [BIG_DISPLAY, "print('next')"])
    kernel_id = await start_session(huddle, "big.ipynb")
    room, _ = await huddle.room_id("big.ipynb")
    async with huddle.open("big.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        await run(huddle, kernel_id, room, *ids)
        await all_idle(watcher)
        outs = outputs(watcher, 0)
        assert len(json.dumps(outs)) < 10_000
        assert notices(outs) == 1
        assert "not shown: over the 1000000-byte limit" in text_of(watcher, 0)
        assert text_of(watcher, 0).endswith("still here\n")  # the run went on
        assert text_of(watcher, 1) == "next\n"  # and so did the kernel


@pytest.mark.parametrize("huddle_config", [CAPS])
async def test_a_rejected_output_does_not_spend_the_execution_budget(huddle, write_notebook):
    write_notebook("big2.ipynb", [BIG_DISPLAY])
    kernel_id = await start_session(huddle, "big2.ipynb")
    room, _ = await huddle.room_id("big2.ipynb")
    async with huddle.open("big2.ipynb") as watcher:
        await run(huddle, kernel_id, room, watcher.cells[0]["id"])
        await all_idle(watcher)
        assert notices(outputs(watcher, 0)) == 1
        assert text_of(watcher, 0).endswith("still here\n"), text_of(watcher, 0)


@pytest.mark.parametrize("huddle_config", [{**CAPS, "max_execution_output_bytes": 50_000_000}])
async def test_a_5mb_print_is_capped_at_max_output_bytes(huddle, write_notebook):
    write_notebook("bigprint.ipynb", ["print('x' * 5_000_000)\nprint('still here')",
                                      "print('next')"])
    kernel_id = await start_session(huddle, "bigprint.ipynb")
    room, _ = await huddle.room_id("bigprint.ipynb")
    async with huddle.open("bigprint.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        await run(huddle, kernel_id, room, *ids)
        await all_idle(watcher)
        assert text_of(watcher, 1) == "next\n"  # the kernel went on
        outs = outputs(watcher, 0)
        assert notices(outs) == 1
        assert len(json.dumps(outs)) < 1_100_000, len(json.dumps(outs))


@pytest.mark.parametrize("huddle_config", [CAPS])
@pytest.mark.timing
async def test_output_flood_is_capped_once_and_peers_stay_responsive(huddle, write_notebook):
    flood = ("import sys, time\n"
             "chunk = 'y' * 99_999 + '\\n'\n"
             "total = 0\n"
             "end = time.time() + 1.5\n"
             "while time.time() < end:\n"  # ~100 chunks of 100 kB a second, for 1.5 s
             "    sys.stdout.write(chunk); sys.stdout.flush(); total += len(chunk)\n"
             "    time.sleep(0.01)\n"
             "print('flood over')")
    write_notebook("flood.ipynb", [flood, "# notes", "print('next', total > 5_000_000)"])
    kernel_id = await start_session(huddle, "flood.ipynb")
    room, _ = await huddle.room_id("flood.ipynb")
    async with huddle.open("flood.ipynb") as alice, huddle.open("flood.ipynb") as bob:
        ids = [c["id"] for c in alice.cells]
        await run(huddle, kernel_id, room, ids[0])
        next_request = request_ids(await run(huddle, kernel_id, room, ids[2]))[0]
        await alice.wait_for(lambda: len(text_of(alice, 0)) > 0, timeout=20)
        # while the flood runs, B's edits still reach A promptly
        lags = []
        for n in range(5):
            t0 = time.monotonic()
            bob.source(1).insert(len(bob.source(1)), f" {n}")
            await alice.wait_for(lambda n=n: str(alice.source(1)).endswith(f" {n}"),
                                 timeout=5)
            lags.append(time.monotonic() - t0)
        assert alice.cells[0]["execution_state"] == "running"  # all that during the flood
        await all_idle(alice, timeout=60)
        assert max(lags) < 2, lags
        outs = outputs(alice, 0)
        assert notices(outs) == 1, [o.get("text", "")[-200:] for o in outs]
        assert len(json.dumps(outs)) < 3_100_000
        assert alice.cells[0]["execution_count"] == 1  # the cell itself finished
        assert text_of(alice, 2) == "next True\n"  # the kernel went on, many MB later
        assert by_id(await queue_view(huddle, room))[next_request]["state"] == "done"
        assert str(bob.source(1)) == "# notes 0 1 2 3 4"


@pytest.mark.parametrize("huddle_config", [{**CAPS, "max_execution_output_bytes": 500_000}])
async def test_truncation_notice_survives_a_clear_output_animation(huddle, write_notebook):
    write_notebook("anim.ipynb", [
        "from IPython.display import clear_output\n"
        "for i in range(30):\n"
        "    clear_output(wait=True)\n"
        "    print(str(i) * 50_000, flush=True)"])
    kernel_id = await start_session(huddle, "anim.ipynb")
    room, _ = await huddle.room_id("anim.ipynb")
    async with huddle.open("anim.ipynb") as watcher:
        await run(huddle, kernel_id, room, watcher.cells[0]["id"])
        await wait_idle(watcher, 0)
        assert notices(outputs(watcher, 0)) == 1, outputs(watcher, 0)


# --- 32, 33, 34: input() and getpass ----------------------------------------------------------


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "input_grace_s": 1.0}])
async def test_input_only_its_user_answers_until_the_grace_period(huddle, write_notebook):
    write_notebook("ask.ipynb", ["a = input('first? ')\nprint('A said', a)\n"
                                 "b = input('second? ')\nprint('then', b)"])
    kernel_id = await start_session(huddle, "ask.ipynb")
    room, _ = await huddle.room_id("ask.ipynb")
    alice_name = await username(huddle)
    bob = Actor(huddle)
    async with huddle.open("ask.ipynb") as watcher:
        request_id = request_ids(await run(huddle, kernel_id, room, watcher.cells[0]["id"]))[0]

        def prompt() -> dict | None:
            return next((q for q in published_queue(watcher) if q.get("input")), None)

        await watcher.wait_for(lambda: prompt() is not None, timeout=20)
        # everyone sees whose input is awaited
        asking = prompt()
        assert asking is not None
        assert asking["requested_by"]["username"] == alice_name
        assert asking["input"] == {"prompt": "first? ", "password": False}
        asked = time.monotonic()
        refused = await bob.request("POST", f"api/huddle/requests/{request_id}/input",
                                    {"value": "bob's"})
        assert refused.code == 403, refused.body
        assert json.loads(refused.body)["message"]
        ok = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                  {"value": "alice's"})
        assert ok.code == 204
        await watcher.wait_for(lambda: "A said alice's" in text_of(watcher, 0), timeout=20)
        # A does not answer the second prompt: after the grace period B may
        await watcher.wait_for(lambda: (prompt() or {}).get("input", {}).get("prompt")
                               == "second? ", timeout=20)
        assert (await huddle.request(
            "POST", f"api/huddle/requests/{'0' * 32}/input", {"value": "x"})).code == 404

        async def bob_answers() -> bool:
            response = await bob.request("POST", f"api/huddle/requests/{request_id}/input",
                                         {"value": "bob's"})
            assert response.code in (204, 403), response.body
            return response.code == 204

        await eventually(bob_answers, timeout=10, what="B allowed after the grace period")
        assert time.monotonic() - asked >= 1.0
        await wait_idle(watcher, 0)
        assert text_of(watcher, 0).endswith("then bob's\n")
        # no prompt pending any more: answering again is a clear 4xx
        late = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                    {"value": "late"})
        assert late.code in (400, 404, 409)


async def test_getpass_is_flagged_and_the_secret_appears_nowhere(huddle, write_notebook,
                                                                 jp_root_dir):
    secret = "hunter2-Sup3rSecret"
    write_notebook("pw.ipynb", ["import getpass\npw = getpass.getpass('Password: ')\n"
                                "print('length', len(pw))"])
    kernel_id = await start_session(huddle, "pw.ipynb")
    room, _ = await huddle.room_id("pw.ipynb")
    events: list[dict] = []

    async def listener(logger: Any, schema_id: str, data: dict) -> None:
        events.append(data)

    event_logger = huddle.app.event_logger
    event_logger.add_listener(schema_id=EXECUTION_SCHEMA_ID, listener=listener)
    presence_frames: list[str] = []
    try:
        with captured_logs(*huddle_loggers(huddle), level=logging.DEBUG) as logs:
            async with huddle.open("pw.ipynb") as watcher:
                after_each_frame(watcher, lambda: presence_frames.append(
                    json.dumps(watcher.awareness)))
                request_id = request_ids(
                    await run(huddle, kernel_id, room, watcher.cells[0]["id"]))[0]
                await watcher.wait_for(
                    lambda: any(q.get("input") for q in published_queue(watcher)), timeout=20)
                item = next(q for q in published_queue(watcher) if q.get("input"))
                assert item["input"] == {"prompt": "Password: ", "password": True}
                view = await queue_view(huddle, room)
                assert view["queue"][0]["input"]["password"] is True
                ok = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                          {"value": secret})
                assert ok.code == 204
                await wait_idle(watcher, 0)
                assert text_of(watcher, 0).endswith("length 19\n")
                doc_text = json.dumps({"cells": watcher.cells.to_py(),
                                       "meta": watcher.meta.to_py()})
                view_text = json.dumps(await queue_view(huddle, room))

            async def saved_text() -> str | None:
                text = await asyncio.to_thread((jp_root_dir / "pw.ipynb").read_text)
                return text if "length 19" in text else None

            saved = await eventually(saved_text, what="the saved output")
    finally:
        event_logger.remove_listener(schema_id=EXECUTION_SCHEMA_ID, listener=listener)
    assert secret not in doc_text
    assert presence_frames
    assert not [frame for frame in presence_frames if secret in frame]
    assert secret not in view_text
    assert secret not in saved
    assert secret not in json.dumps(events)
    assert secret not in logs.text()
    # the capture did see the server handle the answer
    assert f"requests/{request_id}/input" in logs.text()


# --- 26, 27, 28, 29: display updates ----------------------------------------------------------


async def test_display_updates_across_cells_and_notebooks_on_one_kernel(huddle,
                                                                       write_notebook,
                                                                       jp_root_dir):
    flag = jp_root_dir / "send-the-update"  # created once the thread's cell is idle
    write_notebook("disp_a.ipynb", [
        "from IPython.display import display\n"
        "display('v1', display_id='shared')\n_ = display('other', display_id='other')",
        "from IPython.display import update_display\n"
        "update_display('v2', display_id='shared')",
        "from IPython.display import update_display\n"
        "update_display('ghost', display_id='never-shown')\nprint('done')",
        "import os, threading, time\nfrom IPython.display import update_display\n"
        "def later():\n"
        f"    while not os.path.exists({str(flag)!r}):\n"
        "        time.sleep(0.01)\n"
        "    update_display('from a thread', display_id='other')\n"
        "threading.Thread(target=later).start()"])
    write_notebook("disp_b.ipynb", ["from IPython.display import update_display\n"
                                    "update_display('v3 from b', display_id='shared')"])
    kernel_id = await start_session(huddle, "disp_a.ipynb")
    # a second notebook whose session shares the first one's kernel
    response = await huddle.request("POST", "api/sessions", {
        "path": "disp_b.ipynb", "type": "notebook", "name": "disp_b.ipynb",
        "kernel": {"id": kernel_id}})
    assert response.code == 201, response.body
    assert json.loads(response.body)["kernel"]["id"] == kernel_id
    room_a, _ = await huddle.room_id("disp_a.ipynb")
    room_b, _ = await huddle.room_id("disp_b.ipynb")
    async with huddle.open("disp_a.ipynb") as a, huddle.open("disp_b.ipynb") as b:
        ids = [c["id"] for c in a.cells]
        await run(huddle, kernel_id, room_a, *ids[:3])
        await all_idle(a)
        # updates are flushed with the next write window: wait for it, not for idle
        await a.wait_for(lambda: [o["data"]["text/plain"] for o in outputs(a, 0)]
                         == ["'v2'", "'other'"])
        assert outputs(a, 1) == []  # an update replaces, never appends
        assert outputs(a, 2) == [{"output_type": "stream", "name": "stdout", "text": "done\n"}]
        # the other notebook on the same kernel updates this one's output
        await run(huddle, kernel_id, room_b, b.cells[0]["id"])
        await wait_idle(b, 0)
        assert outputs(b, 0) == []
        await a.wait_for(lambda: outputs(a, 0)[0]["data"]["text/plain"] == "'v3 from b'")
        # an update sent after its cell went idle (from a thread) still lands
        await run(huddle, kernel_id, room_a, ids[3])
        await wait_idle(a, 3)
        flag.touch()
        await a.wait_for(lambda: outputs(a, 0)[1]["data"]["text/plain"] == "'from a thread'")
        assert len(outputs(a, 0)) == 2
        assert outputs(a, 3) == []


# --- 18: room evicted, then reopened ----------------------------------------------------------


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "room_cleanup_delay_s": 0.1}])
async def test_room_evicted_then_reopened_and_executed(huddle, write_notebook, jp_root_dir):
    write_notebook("evict.ipynb", ["print('run', 1)", "print('run', 2)"])
    kernel_id = await start_session(huddle, "evict.ipynb")
    room, _ = await huddle.room_id("evict.ipynb")
    room_id = parse_room_id(room)
    rooms = huddle.extension.rooms
    async with huddle.open("evict.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        await run(huddle, kernel_id, room, ids[0])
        await wait_idle(client, 0)

    async def evicted() -> bool:
        return rooms.get(room_id) is None

    await eventually(evicted, timeout=10, what="the room to be evicted")
    # executing with nobody connected reopens the room from the file
    await run(huddle, kernel_id, room, ids[1])

    async def saved() -> Any:
        nb = await read_saved(jp_root_dir / "evict.ipynb")
        return nb if nb is not None and nb.cells[1].outputs else None

    nb = await eventually(saved, timeout=20, what="the second run in the file")
    assert nb.cells[1].outputs[0]["text"] == "run 2\n"
    assert nb.cells[1].execution_count == 2  # same kernel: the binding survived
    await eventually(evicted, timeout=10, what="the room to be evicted again")
    async with huddle.open("evict.ipynb") as reopened:
        assert text_of(reopened, 1) == "run 2\n"
        await run(huddle, kernel_id, room, ids[0])
        await reopened.wait_for(lambda: reopened.cells[0]["execution_count"] == 3, timeout=20)
        await wait_idle(reopened, 0)
        assert text_of(reopened, 0) == "run 1\n"


# --- 38: attribution ------------------------------------------------------------------------


async def test_attribution_events_carry_the_authenticated_user(huddle, write_notebook):
    write_notebook("attr.ipynb", ["print('a')", "print('b')"])
    kernel_id = await start_session(huddle, "attr.ipynb")
    room, _ = await huddle.room_id("attr.ipynb")
    bob = Actor(huddle)
    alice_name, bob_name = await username(huddle), await username(bob)
    events: list[dict] = []
    got_all = asyncio.Event()

    async def listener(logger: Any, schema_id: str, data: dict) -> None:
        events.append(data)
        if sum(e["action"] == "done" for e in events) == 2:
            got_all.set()

    event_logger = huddle.app.event_logger
    event_logger.add_listener(schema_id=EXECUTION_SCHEMA_ID, listener=listener)
    try:
        async with huddle.open("attr.ipynb") as watcher:
            ids = [c["id"] for c in watcher.cells]
            a = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
            # a client-claimed identity is ignored (JupyterLab body plus spoofed fields)
            spoof = await bob.request("POST", f"api/kernels/{kernel_id}/execute", {
                "cell_id": ids[1], "document_id": room, "client_id": 12345,
                "username": "mallory", "user": {"username": "mallory"}})
            assert spoof.code == 202, spoof.body
            b = request_ids(json.loads(spoof.body))[0]
            assert json.loads(spoof.body)["requests"][0]["requested_by"]["username"] == bob_name
            await all_idle(watcher)
            async with asyncio.timeout(10):
                await got_all.wait()
            await watcher.wait_for(lambda: {
                k: v["requested_by"]["username"]
                for k, v in server_state(watcher).get("runs", {}).items()}
                == {ids[0]: alice_name, ids[1]: bob_name})
    finally:
        event_logger.remove_listener(schema_id=EXECUTION_SCHEMA_ID, listener=listener)
    actions = {(e["request_id"], e["action"]): e for e in events}
    for request_id, name, cell_id in ((a, alice_name, ids[0]), (b, bob_name, ids[1])):
        for action in ("requested", "started", "done"):
            event = actions.get((request_id, action))
            assert event is not None, (action, events)
            assert event["username"] == name
            assert event["cell_id"] == cell_id
            assert event["document_id"] == room
            assert event["kernel_id"] == kernel_id
        assert actions[(request_id, "done")]["execution_count"] in (1, 2)
    assert "mallory" not in json.dumps(events)


async def test_attribution_is_not_saved_by_default(huddle, write_notebook, jp_root_dir):
    write_notebook("noattr.ipynb", ["print('hi')"])
    kernel_id = await start_session(huddle, "noattr.ipynb")
    room, _ = await huddle.room_id("noattr.ipynb")
    name = await username(huddle)
    async with huddle.open("noattr.ipynb") as client:
        await run(huddle, kernel_id, room, client.cells[0]["id"])
        await wait_idle(client, 0)

        async def saved() -> Any:
            nb = await read_saved(jp_root_dir / "noattr.ipynb")
            return nb if nb is not None and nb.cells[0].outputs else None

        nb = await eventually(saved, what="the run in the file")
    assert "huddle" not in nb.cells[0].metadata
    raw = (jp_root_dir / "noattr.ipynb").read_text()
    assert name not in raw
    assert "last_run_by" not in raw
    assert "execution_state" not in raw


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "record_attribution": True}])
async def test_record_attribution_writes_last_run_by(huddle, write_notebook, jp_root_dir):
    write_notebook("withattr.ipynb", ["print('hi')", "print('not run')"])
    kernel_id = await start_session(huddle, "withattr.ipynb")
    room, _ = await huddle.room_id("withattr.ipynb")
    name = await username(huddle)
    async with huddle.open("withattr.ipynb") as client:
        await run(huddle, kernel_id, room, client.cells[0]["id"])
        await wait_idle(client, 0)

        async def saved() -> Any:
            nb = await read_saved(jp_root_dir / "withattr.ipynb")
            return nb if nb is not None and nb.cells[0].metadata.get("huddle") else None

        nb = await eventually(saved, what="attribution in the file")
    assert nb.cells[0].metadata["huddle"]["last_run_by"] == name
    assert nb.cells[0].metadata["huddle"]["last_run_at"] > 0
    assert "huddle" not in nb.cells[1].metadata
    nbformat.validate(nb)


# --- 40: server shutdown mid-run --------------------------------------------------------------


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "save_delay_s": 60,
                                              "max_save_delay_s": 120}])
@pytest.mark.timing
async def test_server_shutdown_mid_run_leaves_cells_idle_and_saves(huddle, write_notebook,
                                                                   jp_root_dir):
    write_notebook("stop.ipynb", [gated("print('before shutdown', flush=True)", "print('never')"),
                                  "print('queued')"])
    kernel_id = await start_session(huddle, "stop.ipynb")
    room, _ = await huddle.room_id("stop.ipynb")
    room_id = parse_room_id(room)
    async with huddle.open("stop.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        await run(Actor(huddle), kernel_id, room, ids[1])
        await client.wait_for(lambda: text_of(client, 0) == "before shutdown\n", timeout=20)
        await at_gate(client, running)
        server_room = huddle.extension.rooms.get(room_id)
        assert server_room is not None
        extension = huddle.extension
        started = time.monotonic()
        async with asyncio.timeout(15):
            await extension.stop_extension()
        assert time.monotonic() - started < 10
        # from here on the server is not used any more
        cells = server_room.document.cells.to_py()
        assert [c.get("execution_state") for c in cells] == ["idle", "idle"], cells
        assert len(extension.execution.dispatchers) == 0
        leftover = [t for t in asyncio.all_tasks() if not t.done()
                    and any(name in repr(t.get_coro())
                            for name in ("KernelDispatcher", "KernelConnection"))]
        assert leftover == []
    nb = nbformat.read(str(jp_root_dir / "stop.ipynb"), as_version=4)
    assert nb.cells[0].outputs
    assert nb.cells[0].outputs[0]["text"] == "before shutdown\n"
    assert nb.cells[1].outputs == []
