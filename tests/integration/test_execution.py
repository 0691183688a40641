"""Server-side execution on real ipykernel kernels, seen by real websocket clients."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_huddle.kernels.requests import source_hash


@pytest.fixture
def huddle_config():
    return {"save_delay_s": 0.2, "max_save_delay_s": 1, "room_cleanup_delay_s": 0.5,
            "kernel_watchdog_interval_s": 0.5}


async def start_session(huddle, path: str) -> str:
    response = await huddle.request("POST", "api/sessions", {
        "path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}})
    assert response.code == 201, response.body
    return json.loads(response.body)["kernel"]["id"]


async def execute(huddle, kernel_id: str, document_id: str, *cells, **extra):
    body = {"document_id": document_id,
            "cells": [{"cell_id": c} if isinstance(c, str) else c for c in cells], **extra}
    return await huddle.request("POST", f"api/kernels/{kernel_id}/execute", body)


def outputs(client, index: int) -> list[dict]:
    return client.cells[index]["outputs"].to_py()


def text_of(client, index: int) -> str:
    return "".join(o.get("text", "") for o in outputs(client, index)
                   if o["output_type"] == "stream")


async def wait_idle(client, index: int, timeout: float = 30) -> None:
    try:
        await client.wait_for(lambda: client.cells[index].get("execution_state") == "idle"
                              and client.cells[index].get("execution_count") is not None,
                              timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"cell {index} not done: {client.cells[index].to_py()}; "
                             f"presence: {client.awareness}") from None


async def test_run_a_cell_and_every_client_sees_the_output(huddle, write_notebook):
    write_notebook("run.ipynb", ["print('hello', 6 * 7)"])
    kernel_id = await start_session(huddle, "run.ipynb")
    room, _ = await huddle.room_id("run.ipynb")
    async with huddle.open("run.ipynb") as a, huddle.open("run.ipynb") as b:
        cell_id = a.cells[0]["id"]
        response = await execute(huddle, kernel_id, room, cell_id)
        assert response.code == 202, response.body
        body = json.loads(response.body)
        assert body["requests"][0]["requested_by"]["username"]
        await wait_idle(b, 0)
        assert text_of(b, 0) == "hello 42\n"
        assert b.cells[0]["execution_count"] == 1
        assert a.cells[0]["metadata"]["trusted"] is True
        # the queue view shows who ran it
        queue = json.loads((await huddle.request("GET", f"api/huddle/queue/{room}")).body)
        assert queue["queue"] == []
        assert queue["history"][-1]["state"] == "done"


async def test_jupyterlab_body_and_bad_requests(huddle, write_notebook):
    write_notebook("bad.ipynb", ["1 + 1"])
    kernel_id = await start_session(huddle, "bad.ipynb")
    room, _ = await huddle.room_id("bad.ipynb")
    async with huddle.open("bad.ipynb") as client:
        cell_id = client.cells[0]["id"]
        # JupyterLab's server-side executor body
        ok = await huddle.request("POST", f"api/kernels/{kernel_id}/execute",
                                  {"cell_id": cell_id, "document_id": room})
        assert ok.code == 202
        await wait_idle(client, 0)
        cases = [
            (await execute(huddle, "nope", room, cell_id), 404),
            (await execute(huddle, kernel_id, room, "no-such-cell"), 400),
            (await execute(huddle, kernel_id, "json:notebook:missing", cell_id), 409),
            (await execute(huddle, kernel_id, "JupyterLab:globalAwareness", cell_id), 400),
            (await execute(huddle, kernel_id, room, {"cell_id": cell_id,
                                                      "source_hash": "0" * 64}), 409),
            (await huddle.request("POST", f"api/kernels/{kernel_id}/execute",
                                  raw_body=b"not json"), 400),
        ]
        for response, status in cases:
            assert response.code == status, response.body
            assert json.loads(response.body)["message"]
        assert client.cells[0]["execution_count"] == 1  # nothing else ran


async def test_source_hash_of_what_the_user_saw(huddle, write_notebook):
    write_notebook("hash.ipynb", ["x = 1"])
    kernel_id = await start_session(huddle, "hash.ipynb")
    room, _ = await huddle.room_id("hash.ipynb")
    async with huddle.open("hash.ipynb") as client:
        cell_id = client.cells[0]["id"]
        # type, then run at once: the request may beat the edit; it waits for it
        client.source(0).insert(len("x = 1"), "; print(x + 1)")
        response = await execute(huddle, kernel_id, room, {
            "cell_id": cell_id, "source_hash": source_hash("x = 1; print(x + 1)")})
        assert response.code == 202, response.body
        await wait_idle(client, 0)
        assert text_of(client, 0) == "2\n"


async def test_stream_outputs_coalesce_and_progress_bars_end_as_one_line(huddle, write_notebook):
    code = ("import sys\n"
            "for i in range(300): print(i, flush=True)\n"
            "for i in range(101): sys.stdout.write(f'\\r{i}%'); sys.stdout.flush()\n"
            "print(flush=True)\n"
            "sys.stderr.write('oops\\n'); sys.stderr.flush()\n"
            "print('after')")
    write_notebook("stream.ipynb", [code])
    kernel_id = await start_session(huddle, "stream.ipynb")
    room, _ = await huddle.room_id("stream.ipynb")
    async with huddle.open("stream.ipynb") as client:
        updates = 0

        def count(_event):
            nonlocal updates
            updates += 1

        client.doc.observe(count)
        assert (await execute(huddle, kernel_id, room, client.cells[0]["id"])).code == 202
        await wait_idle(client, 0)
        outs = outputs(client, 0)
        assert [o["name"] for o in outs] == ["stdout", "stderr", "stdout"]
        lines = outs[0]["text"].split("\n")
        assert lines[:300] == [str(i) for i in range(300)]
        assert lines[300] == "100%"
        assert outs[1]["text"] == "oops\n"
        assert outs[2]["text"] == "after\n"
        assert updates < 150, updates  # batched: far fewer updates than 400 messages


async def test_error_stops_the_rest_of_the_batch(huddle, write_notebook):
    write_notebook("err.ipynb", ["1/0", "print('never')"])
    kernel_id = await start_session(huddle, "err.ipynb")
    room, _ = await huddle.room_id("err.ipynb")
    async with huddle.open("err.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        assert (await execute(huddle, kernel_id, room, *ids)).code == 202
        await wait_idle(client, 0)
        await client.wait_for(lambda: client.cells[1].get("execution_state") == "idle")
        assert outputs(client, 0)[0]["ename"] == "ZeroDivisionError"
        assert outputs(client, 1) == []
        history = json.loads((await huddle.request("GET", f"api/huddle/queue/{room}")).body)
        states = [(r["cell_id"], r["state"]) for r in history["history"]]
        assert states == [(ids[0], "error"), (ids[1], "aborted")]


async def test_interrupt_and_restart(huddle, write_notebook):
    write_notebook("long.ipynb", ["import time\nprint('started', flush=True)\n"
                                  "for i in range(100): time.sleep(0.1)",
                                  "print('queued')"])
    kernel_id = await start_session(huddle, "long.ipynb")
    room, _ = await huddle.room_id("long.ipynb")
    async with huddle.open("long.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        await execute(huddle, kernel_id, room, ids[0])
        await execute(huddle, kernel_id, room, ids[1])
        await client.wait_for(lambda: text_of(client, 0) == "started\n", timeout=30)
        response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/interrupt")
        assert response.code == 204
        await wait_idle(client, 0)
        assert outputs(client, 0)[-1]["ename"] == "KeyboardInterrupt"
        await client.wait_for(lambda: client.cells[1].get("execution_state") == "idle")
        assert outputs(client, 1) == []  # queued before the interrupt: aborted

        await execute(huddle, kernel_id, room, ids[0])
        await client.wait_for(lambda: text_of(client, 0) == "started\n", timeout=30)
        response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/restart")
        assert response.code == 204
        await client.wait_for(lambda: client.cells[0].get("execution_state") == "idle",
                              timeout=30)
        assert (await execute(huddle, kernel_id, room, ids[1])).code == 202
        await wait_idle(client, 1)
        assert text_of(client, 1) == "queued\n"
        assert client.cells[1]["execution_count"] == 1  # counts start again


async def test_update_display_and_clear_output(huddle, write_notebook):
    first = ("from IPython.display import display, clear_output\n"
             "h = display('first', display_id=True)")
    second = "h.update('second')"
    frames = ("import time\n"
              "for i in range(5):\n"
              "    clear_output(wait=True); print('frame', i); time.sleep(0.05)")
    write_notebook("disp.ipynb", [first, second, frames])
    kernel_id = await start_session(huddle, "disp.ipynb")
    room, _ = await huddle.room_id("disp.ipynb")
    async with huddle.open("disp.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        shown_counts = []

        async def watch_frames() -> None:
            # sample what a peer shows after every update it receives
            while True:
                seen = client.frames_received
                await client.wait_for(lambda seen=seen: client.frames_received > seen)
                shown_counts.append(len(client.cells[2]["outputs"]))

        watcher = asyncio.create_task(watch_frames())
        await execute(huddle, kernel_id, room, *ids)
        await wait_idle(client, 2)
        watcher.cancel()
        assert outputs(client, 0)[0]["data"]["text/plain"] == "'second'"
        assert len(outputs(client, 0)) == 1
        assert outputs(client, 1) == []
        assert text_of(client, 2) == "frame 4\n"
        # clear_output(wait=True): no peer ever saw the cell empty mid-run
        started = shown_counts.index(1) if 1 in shown_counts else 0
        assert 0 not in shown_counts[started:]


async def test_input_is_answered_by_the_user_who_ran_the_cell(huddle, write_notebook):
    write_notebook("input.ipynb", ["name = input('Your name? ')\nprint('hi', name)"])
    kernel_id = await start_session(huddle, "input.ipynb")
    room, _ = await huddle.room_id("input.ipynb")
    async with huddle.open("input.ipynb") as client:
        response = await execute(huddle, kernel_id, room, client.cells[0]["id"])
        request_id = json.loads(response.body)["requests"][0]["request_id"]

        def prompt():
            for state in client.awareness.values():
                for item in (state.get("huddle") or {}).get("queue", []):
                    if item.get("input"):
                        return item
            return None

        await client.wait_for(lambda: prompt() is not None, timeout=20)
        assert prompt()["input"]["prompt"] == "Your name? "
        answer = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                      {"value": "Ada"})
        assert answer.code == 204
        await wait_idle(client, 0)
        # The prompt and the answer stay in the output, as in Jupyter.
        assert text_of(client, 0) == "Your name? Ada\nhi Ada\n"


async def test_run_survives_every_client_leaving(huddle, write_notebook, jp_root_dir):
    # the cell waits for an answer the test gives once every client has left
    write_notebook("away.ipynb", ["input('go? ')\nprint('done while away')"])
    kernel_id = await start_session(huddle, "away.ipynb")
    room, _ = await huddle.room_id("away.ipynb")
    async with huddle.open("away.ipynb") as client:
        response = await execute(huddle, kernel_id, room, client.cells[0]["id"])
        request_id = json.loads(response.body)["requests"][0]["request_id"]
        await client.wait_for(lambda: any(
            item.get("input") for state in client.awareness.values()
            for item in (state.get("huddle") or {}).get("queue", [])))
    # every browser closed mid-run; the room is leased, so the run finishes and is saved
    answer = await huddle.request("POST", f"api/huddle/requests/{request_id}/input",
                                  {"value": "go"})
    assert answer.code == 204, answer.body
    import nbformat

    async with asyncio.timeout(20):
        while True:
            nb = nbformat.read(str(jp_root_dir / "away.ipynb"), as_version=4)
            # (the prompt and answer are written first; the run's print follows)
            if nb.cells[0].outputs and "done while away" in nb.cells[0].outputs[0]["text"]:
                break
            await asyncio.sleep(0.1)  # polling the file under a deadline
    assert nb.cells[0].outputs[0]["text"] == "go? go\ndone while away\n"
    assert nb.cells[0].execution_count == 1
    async with huddle.open("away.ipynb") as reopened:
        assert text_of(reopened, 0) == "go? go\ndone while away\n"
        assert reopened.cells[0]["execution_state"] == "idle"


@pytest.mark.timing
async def test_flushed_flood_arrives_whole_even_when_the_server_lags(huddle, write_notebook):
    """20 000 flushed lines: past ZMQ's default queue of 1000 the kernel would drop output
    for a lagging reader (and a dropped final status would hang the run). The server reads
    them for seconds after the kernel's reply came on the shell channel: the run stays open
    while they come (it was once ended 5 s after the reply, losing the rest)."""
    write_notebook("flood.ipynb", ["for i in range(20000): print(f'{i:05d}' + 'x' * 40, "
                                   "flush=True)", "print('next')"])
    kernel_id = await start_session(huddle, "flood.ipynb")
    room, _ = await huddle.room_id("flood.ipynb")
    async with huddle.open("flood.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        assert (await execute(huddle, kernel_id, room, *ids)).code == 202
        await wait_idle(client, 1, timeout=120)
        lines = text_of(client, 0).splitlines()
        assert len(lines) == 20000
        assert lines[-1].startswith("19999")
        assert text_of(client, 1) == "next\n"
