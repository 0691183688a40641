"""Server-side execution holds bounded state (issue 12), on real ipykernel kernels: queued
cells are capped per notebook (503) and per person (429), refused runs queue nothing, and
what the execution service remembers goes when its request, room or kernel does.

Several tests assert on the service's parts by name (``ExecutionService.dispatchers``,
``ExecutionService.ledger``'s maps, ``presence.pending``, ``KernelDispatcher.registry``):
a leak is invisible through the API (the views filter what they show) until the server
runs out of memory, so the maps themselves are what must be empty.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from jupyter_huddle.collab.ids import parse_room_id
from tests.integration.test_execution import start_session, wait_idle
from tests.integration.test_execution_edges import (
    BASE_CONFIG,
    Actor,
    all_idle,
    answer,
    queue_view,
    run,
    server_state,
    states,
    username,
    wait_published,
)
from tests.support.waiting import eventually

INPUT_CELL = "input('go? ')"  # holds the queue (running) until answered: no sleeps
DISPLAY_CELL = "from IPython.display import display\nh = display('shown', display_id=True)"


@asynccontextmanager
async def kernel(huddle: Any, path: str) -> AsyncIterator[str]:
    """The notebook's kernel (a session), shut down when the test is done with it."""
    kernel_id = await start_session(huddle, path)
    try:
        yield kernel_id
    finally:
        await stop(huddle, kernel_id)


async def stop(huddle: Any, kernel_id: str) -> None:
    response = await huddle.request("DELETE", f"api/kernels/{kernel_id}")
    assert response.code in (204, 404), response.body


async def post_run(who: Any, kernel_id: str, room: str, *cells: str) -> Any:
    """Execute as ``who`` and return the raw response (refusals expected)."""
    body = {"document_id": room, "cells": [{"cell_id": c} for c in cells]}
    return await who.request("POST", f"api/kernels/{kernel_id}/execute", body)


def message(response: Any) -> str:
    return str(json.loads(response.body)["message"])


async def hold_on_input(huddle: Any, client: Any, kernel_id: str, room: str) -> str:
    """Run the input cell (cell 0) as user A and wait until it asks; returns its request."""
    answer = await run(huddle, kernel_id, room, client.cells[0]["id"])
    await wait_published(client, lambda queue: any(q.get("input") for q in queue))
    return str(answer["requests"][0]["request_id"])


async def drained(huddle: Any, room: str) -> None:
    """Wait until nothing is queued or running for the notebook (the server's own view:
    a client may not have seen its cells marked running yet)."""
    async def empty() -> bool:
        return (await queue_view(huddle, room))["queue"] == []

    await eventually(empty, what="the notebook's queue to drain")


def service(huddle: Any) -> Any:
    return huddle.extension.execution


def held_for(huddle: Any, key: Any) -> list[str]:
    """The service's maps that still hold ``key`` (a kernel or room id), by name."""
    execution = service(huddle)
    ledger = execution.ledger
    held = [name for name, found in (
        ("dispatchers", key in execution.dispatchers),
        ("ledger.requests", any(key in (r.room_id, r.kernel_id)
                                for r in ledger.requests.values())),
        ("ledger.leased", key in ledger.leased.values()),
        ("ledger.history", key in ledger.history),
        ("ledger.kernel_rooms", key in ledger.kernel_rooms
         or any(key in rooms for rooms in ledger.kernel_rooms.values())),
        ("presence.pending", key in execution.presence.pending),
    ) if found]
    return held


# --- caps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "max_queued_cells_per_notebook": 3}])
async def test_a_full_notebook_queue_refuses_the_next_run_whole(huddle, write_notebook):
    write_notebook("full.ipynb", [INPUT_CELL, "1", "2", "3", "4"])
    room, _ = await huddle.room_id("full.ipynb")
    bob, carol = Actor(huddle), Actor(huddle)
    async with kernel(huddle, "full.ipynb") as kernel_id, huddle.open("full.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        waiting = await hold_on_input(huddle, client, kernel_id, room)
        await run(bob, kernel_id, room, ids[1], ids[2])  # 3 queued or running: the cap
        before = await queue_view(huddle, room)
        assert len(before["queue"]) == 3

        refused = await post_run(carol, kernel_id, room, ids[3])
        assert refused.code == 503, refused.body
        assert "queue is full" in message(refused)
        assert "at most 3" in message(refused)
        both = await post_run(huddle, kernel_id, room, ids[3], ids[4])
        assert both.code == 503, both.body
        # nothing of either was queued, nor shown as running
        assert (await queue_view(huddle, room))["queue"] == before["queue"]
        assert [states(client)[i] != "running" for i in (3, 4)] == [True, True]
        assert len(service(huddle).ledger.requests) == 3
        # Bob running his queued cell again replaces it: still 3, so it is accepted
        await run(bob, kernel_id, room, ids[2])

        await answer(huddle, waiting)
        await drained(huddle, room)
        await run(carol, kernel_id, room, ids[1], ids[3], ids[4])  # room again
        await drained(huddle, room)
        await all_idle(client)


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "max_queued_cells_per_person": 2}])
async def test_a_person_at_their_cap_is_refused_while_another_is_not(huddle, write_notebook):
    write_notebook("person.ipynb", [INPUT_CELL, "1", "2", "3"])
    room, _ = await huddle.room_id("person.ipynb")
    bob = Actor(huddle)
    alice = await username(huddle)
    async with kernel(huddle, "person.ipynb") as kernel_id, \
            huddle.open("person.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        too_many = await post_run(huddle, kernel_id, room, ids[1], ids[2], ids[3])
        assert too_many.code == 429, too_many.body
        assert "this run has 3 cells" in message(too_many)
        assert "Retry-After" not in too_many.headers  # retrying will never fit

        waiting = await hold_on_input(huddle, client, kernel_id, room)
        await run(huddle, kernel_id, room, ids[1])  # A: 2, at the cap
        refused = await post_run(huddle, kernel_id, room, ids[2])
        assert refused.code == 429, refused.body
        assert "you have 2 cells queued or running" in message(refused)
        assert int(refused.headers["Retry-After"]) >= 1
        await run(huddle, kernel_id, room, ids[1])  # replaces A's queued run: accepted
        await run(bob, kernel_id, room, ids[2], ids[3])  # another person is not refused

        queue = (await queue_view(huddle, room))["queue"]
        mine = [q["cell_id"] for q in queue if q["requested_by"]["username"] == alice]
        assert mine == [ids[0], ids[1]]
        assert len(queue) == 4
        await answer(huddle, waiting)
        await drained(huddle, room)
        await all_idle(client)


# --- release -----------------------------------------------------------------------------------


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "max_recent_runs_per_notebook": 5}])
async def test_recent_runs_stay_bounded_under_many_runs(huddle, write_notebook):
    big = "x = 1  # " + "y" * 20_000  # the code is not what history keeps
    write_notebook("many.ipynb", [big] * 30)
    room, _ = await huddle.room_id("many.ipynb")
    room_id = parse_room_id(room)
    async with kernel(huddle, "many.ipynb") as kernel_id, huddle.open("many.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        for _ in range(2):
            await run(huddle, kernel_id, room, *ids)
            await drained(huddle, room)
        view = await queue_view(huddle, room)
        assert [r["cell_id"] for r in view["history"]] == ids[-5:]
        ledger = service(huddle).ledger
        assert ledger.requests == {}
        assert ledger.leased == {}
        assert len(ledger.history[room_id]) == 5
        assert [r.source for r in ledger.history[room_id]] == [""] * 5
        await client.wait_for(lambda: len(server_state(client).get("runs", {})) == 5
                              and server_state(client).get("queue") == [], timeout=10)


async def test_a_rerun_display_keeps_one_reference_and_a_restart_none(huddle, write_notebook):
    write_notebook("shown.ipynb", [DISPLAY_CELL, INPUT_CELL, "1"])
    room, _ = await huddle.room_id("shown.ipynb")
    async with kernel(huddle, "shown.ipynb") as kernel_id, \
            huddle.open("shown.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        for _ in range(4):
            await run(huddle, kernel_id, room, ids[0])
            await drained(huddle, room)
        registry = service(huddle).dispatchers.get(kernel_id).registry
        assert sum(len(refs) for refs in registry.refs.values()) == 1

        await run(huddle, kernel_id, room, ids[1], ids[2])  # one waits on input, one queued
        await wait_published(client, lambda queue: any(q.get("input") for q in queue))
        response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/restart")
        assert response.code == 204, response.body
        await drained(huddle, room)
        assert registry.refs == {}  # the restarted kernel's display ids are new
        assert service(huddle).ledger.requests == {}
        assert service(huddle).ledger.leased == {}
        assert service(huddle).dispatchers.get(kernel_id).queue == []


async def test_a_shut_down_kernel_leaves_nothing_behind(huddle, write_notebook):
    write_notebook("gone.ipynb", [INPUT_CELL, "1"])
    room, _ = await huddle.room_id("gone.ipynb")
    async with kernel(huddle, "gone.ipynb") as kernel_id, huddle.open("gone.ipynb") as client:
        await hold_on_input(huddle, client, kernel_id, room)
        await run(Actor(huddle), kernel_id, room, client.cells[1]["id"])
        await stop(huddle, kernel_id)

        async def released() -> bool:
            return held_for(huddle, kernel_id) == []

        await eventually(released, what="the shut-down kernel's entries to go")
        await all_idle(client)
        await client.wait_for(lambda: server_state(client).get("kernel", {}).get("status")
                              == "dead", timeout=10)
        view = await queue_view(huddle, room)
        assert view["queue"] == []
        assert {r["state"] for r in view["history"]} == {"aborted"}


async def test_a_closed_room_leaves_nothing_behind(huddle, write_notebook):
    write_notebook("closed.ipynb", [DISPLAY_CELL])
    room, _ = await huddle.room_id("closed.ipynb")
    room_id = parse_room_id(room)
    async with kernel(huddle, "closed.ipynb") as kernel_id:
        async with huddle.open("closed.ipynb") as client:
            await run(huddle, kernel_id, room, client.cells[0]["id"])
            await wait_idle(client, 0)
            assert "ledger.history" in held_for(huddle, room_id)
        # everyone left and the run is over: the room closes (room_cleanup_delay_s)

        async def released() -> bool:
            return (huddle.extension.rooms.get(room_id) is None
                    and held_for(huddle, room_id) == [])

        await eventually(released, what="the closed room's entries to go")
        # the kernel lives on, without references into the closed notebook's outputs
        assert service(huddle).dispatchers.get(kernel_id).registry.refs == {}


async def test_a_kernel_removed_without_a_shutdown_event_is_let_go(huddle, write_notebook):
    """jupyter_server removes a kernel that died and could not be restarted without a
    shutdown event; the service notices on its own."""
    write_notebook("died.ipynb", ["1"])
    room, _ = await huddle.room_id("died.ipynb")
    kernel_id = await start_session(huddle, "died.ipynb")
    manager = huddle.app.kernel_manager
    kernel_manager = manager.get_kernel(kernel_id)
    try:
        async with huddle.open("died.ipynb") as client:
            await run(huddle, kernel_id, room, client.cells[0]["id"])
            await wait_idle(client, 0)
            manager._handle_kernel_died(kernel_id)  # what jupyter_server does then

            async def released() -> bool:
                return kernel_id not in service(huddle).dispatchers

            await eventually(released, what="the dispatcher of the removed kernel to go")
            assert held_for(huddle, kernel_id) == []
    finally:
        await kernel_manager.shutdown_kernel(now=True)  # its process was still running

