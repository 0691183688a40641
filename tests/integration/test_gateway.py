"""Server-side execution with the kernels on a real Jupyter Enterprise Gateway (local
kernels, loopback): the server is started with ``GatewayClient.url`` and every kernel it
runs lives on the gateway. One gateway serves the module (``tests/support/gateway.py``);
the tests that kill it or cut the way to it come last and leave it running.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.gateway.gateway_client import GatewayClient
from traitlets.config import Config

from jupyter_huddle.server import gateway_channels
from tests.integration import test_execution
from tests.integration.test_execution import outputs, start_session, text_of, wait_idle
from tests.integration.test_execution_edges import (
    Actor,
    all_idle,
    answer,
    at_gate,
    by_id,
    gated,
    queue_view,
    request_ids,
    run,
    server_state,
    wait_published,
)
from tests.support.gateway import REQUIRED_ENV, Gateway, gateway_command
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually
from tests.support.widget_page import owner_page


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    command = gateway_command()
    if command is None:
        reason = ("Enterprise Gateway's virtualenv is missing: make it with "
                  "`bash scripts/gateway_venv.sh`")
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    process = Gateway(tmp_path_factory.mktemp("gateway"), command).start()
    yield process
    process.stop()
    # (after every test's server is cleaned up: they need it to shut their kernels down)
    GatewayClient.clear_instance()


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "save_retry_delay_s": 0.2, "kernel_watchdog_interval_s": 0.3,
            "widget_save_interval_s": 0.2}


@pytest.fixture
def gateway_url(gateway: Gateway, request: pytest.FixtureRequest) -> str:
    """Where the server finds the gateway: through ``proxy`` in a test that uses one."""
    if "proxy" in request.fixturenames:
        return str(request.getfixturevalue("proxy").url)
    return gateway.url


@pytest.fixture
def jp_server_config(huddle_config: dict[str, Any], gateway: Gateway,
                     gateway_url: str) -> Any:
    # GatewayClient is a process-wide singleton, configured by the first server that makes
    # it: each test's server makes its own (the module's teardown clears the last one, so
    # that later servers of this process make none).
    GatewayClient.clear_instance()
    return Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_huddle": True, "jupyter_server_fileid": True},
        },
        "FileContentsManager": {"delete_to_trash": False},
        "GatewayClient": {"url": gateway_url, "auth_token": gateway.token,
                          # a refused connection is an answer, not something to wait out
                          "gateway_retry_max": 0},
        "HuddleApp": huddle_config,
    })


async def on_gateway(huddle: Any, gateway: Gateway, path: str) -> str:
    """The notebook's kernel, started through the server: it must be the gateway's."""
    kernel_id = await start_session(huddle, path)
    assert kernel_id in {k["id"] for k in gateway.kernels()}
    return kernel_id


async def test_execute_queue_input_and_status(huddle: Any, gateway: Gateway,
                                              write_notebook: Any) -> None:
    write_notebook("gw.ipynb", ["print('hello', 6 * 7)", gated(after="print('first')"),
                                "print('second')"])
    kernel_id = await on_gateway(huddle, gateway, "gw.ipynb")
    room, _ = await huddle.room_id("gw.ipynb")
    bob = Actor(huddle)
    async with huddle.open("gw.ipynb") as alice_view, huddle.open("gw.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        await run(huddle, kernel_id, room, ids[0])
        await wait_idle(watcher, 0)
        assert text_of(watcher, 0) == "hello 42\n"  # written by the server, seen by a peer
        assert watcher.cells[0]["execution_count"] == 1
        assert alice_view.cells[0]["metadata"]["trusted"] is True
        await watcher.wait_for(lambda: server_state(watcher).get("kernel", {}).get("status")
                               == "idle")

        # the shared queue: Alice's cell waits for input, Bob's is queued behind it
        first = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        second = request_ids(await run(bob, kernel_id, room, ids[2]))[0]
        await wait_published(watcher, lambda queue: [(q["cell_id"], q["state"])
                                                     for q in queue]
                             == [(ids[1], "running"), (ids[2], "queued")])
        await at_gate(watcher, first)
        assert server_state(watcher)["kernel"]["status"] == "busy"
        await answer(huddle, first)
        await all_idle(watcher)
        assert text_of(watcher, 1) == "go? go\nfirst\n"
        assert text_of(watcher, 2) == "second\n"
        history = by_id(await queue_view(huddle, room))
        assert (history[first]["state"], history[second]["state"]) == ("done", "done")
        assert history[second]["started_at"] >= history[first]["finished_at"]
        assert [watcher.cells[i]["execution_count"] for i in (1, 2)] == [2, 3]


async def test_a_run_survives_every_client_leaving(huddle: Any, gateway: Gateway,
                                                   write_notebook: Any,
                                                   jp_root_dir: Path) -> None:
    """The room stays leased while work is pending, the kernel being on a gateway: the
    local tier's test, as is."""
    await test_execution.test_run_survives_every_client_leaving(huddle, write_notebook,
                                                                jp_root_dir)
    assert len(gateway.kernels()) >= 1


async def test_interrupt_and_restart(huddle: Any, gateway: Gateway,
                                     write_notebook: Any) -> None:
    write_notebook("long.ipynb", ["import time\nprint('started', flush=True)\n"
                                  "for i in range(300): time.sleep(0.1)",
                                  "print('queued')"])
    kernel_id = await on_gateway(huddle, gateway, "long.ipynb")
    room, _ = await huddle.room_id("long.ipynb")
    async with huddle.open("long.ipynb") as client:
        ids = [c["id"] for c in client.cells]
        await run(huddle, kernel_id, room, ids[0])
        await run(huddle, kernel_id, room, ids[1])
        await client.wait_for(lambda: text_of(client, 0) == "started\n", timeout=30)
        response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/interrupt")
        assert response.code == 204
        await wait_idle(client, 0)
        assert outputs(client, 0)[-1]["ename"] == "KeyboardInterrupt"
        await client.wait_for(lambda: client.cells[1].get("execution_state") == "idle")
        assert outputs(client, 1) == []  # queued before the interrupt: aborted

        await run(huddle, kernel_id, room, ids[0])
        await client.wait_for(lambda: text_of(client, 0) == "started\n", timeout=30)
        response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/restart")
        assert response.code == 204
        await client.wait_for(lambda: client.cells[0].get("execution_state") == "idle",
                              timeout=30)
        await run(huddle, kernel_id, room, ids[1])
        await wait_idle(client, 1)
        assert text_of(client, 1) == "queued\n"
        assert client.cells[1]["execution_count"] == 1  # counts start again


async def test_widgets_with_binary_buffers_both_ways(huddle: Any, gateway: Gateway,
                                                      write_notebook: Any) -> None:
    """The gateway's websocket carries Jupyter's binary frames: a widget's buffers reach
    the pages, and a page's buffers reach the kernel."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    write_notebook("image.ipynb", [f"import ipywidgets as w; im = w.Image(value={png!r}); im",
                                   "print(len(im.value), bytes(im.value[-3:]))"])
    kernel_id = await on_gateway(huddle, gateway, "image.ipynb")
    room, _ = await huddle.room_id("image.ipynb")
    async with huddle.open("image.ipynb") as doc, owner_page(huddle, room) as page:
        ids = [c["id"] for c in doc.cells]
        await run(huddle, kernel_id, room, ids[0])
        opened = await page.frame("open", lambda f: f["model"]["state"].get("_model_name")
                                  == "ImageModel", "the image's open")
        assert opened["_binary"] is True
        assert opened["model"]["state"]["value"] == png
        comm_id = opened["model"]["comm_id"]
        await page.send(comm_id, {"method": "update", "state": {"value": None},
                                  "buffer_paths": [["value"]]}, [b"\x00\x01new"])
        await page.frame("update", lambda f: f["comm_id"] == comm_id
                         and f["state"].get("value") == b"\x00\x01new", "the echo")
        assert not page.of_type("refused")
        await run(huddle, kernel_id, room, ids[1])
        await wait_idle(doc, 1)
        assert text_of(doc, 1) == "5 b'new'\n"


CRASH_NOTEBOOK = ["import os\nprint(os.getpid())",
                  gated("import os\nprint('dying', flush=True)", "os._exit(1)"),
                  "print('queued behind the crash')"]


async def test_a_crash_is_restarted_by_the_gateway(huddle: Any, gateway: Gateway,
                                                   write_notebook: Any) -> None:
    write_notebook("crash.ipynb", CRASH_NOTEBOOK)
    kernel_id = await on_gateway(huddle, gateway, "crash.ipynb")
    room, _ = await huddle.room_id("crash.ipynb")
    async with huddle.open("crash.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        await run(huddle, kernel_id, room, ids[0])
        await wait_idle(watcher, 0)
        old_pid = text_of(watcher, 0).strip()
        crash = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        behind = request_ids(await run(Actor(huddle), kernel_id, room, ids[2]))[0]
        await at_gate(watcher, crash)
        await answer(huddle, crash)  # it dies now; the gateway restarts it
        await all_idle(watcher, timeout=20)
        history = by_id(await queue_view(huddle, room))
        assert history[crash]["state"] == "aborted", history[crash]
        assert "restarted" in history[crash]["reason"], history[crash]
        assert history[behind]["state"] == "aborted", history[behind]
        assert text_of(watcher, 1) == "dying\ngo? go\n"  # its last words, once
        assert outputs(watcher, 2) == []

        retry = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        await all_idle(watcher, timeout=30)
        assert by_id(await queue_view(huddle, room))[retry]["state"] == "done"
        assert text_of(watcher, 0).strip() != old_pid
        assert watcher.cells[0]["execution_count"] == 1  # a new kernel process
        await watcher.wait_for(lambda: server_state(watcher)["kernel"]["status"] == "idle")


# --- faults: the way to the gateway cut, the gateway killed (last: they disturb it) -------


@pytest.fixture(scope="module")
def proxy(gateway: Gateway) -> Any:
    """A way to the gateway that a test can cut and restore (module-scoped: the server's
    cleanup after the test still reaches its kernels through it)."""
    forwarder = TcpProxy(gateway.port)
    forwarder.start()
    yield forwarder
    forwarder.close()


def long_cell(release: Path) -> str:
    """A cell that runs until the test creates ``release`` (by construction still running
    whatever the test does meanwhile), then prints what must never be written."""
    return ("import os, time\nx = 41\nprint('started', flush=True)\n"
            f"while not os.path.exists({str(release)!r}): time.sleep(0.02)\n"
            "print('finished while cut off', flush=True)")


async def test_gateway_unreachable_mid_run(huddle: Any, gateway: Gateway, proxy: TcpProxy,
                                           write_notebook: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_notebook("cut.ipynb", [long_cell(release), "print('behind')", "print(x + 1)"])
    kernel_id = await on_gateway(huddle, gateway, "cut.ipynb")
    room, _ = await huddle.room_id("cut.ipynb")
    async with huddle.open("cut.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        behind = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        await watcher.wait_for(lambda: text_of(watcher, 0) == "started\n", timeout=30)
        proxy.cut()
        await all_idle(watcher, timeout=10)
        history = by_id(await queue_view(huddle, room))
        assert history[running]["state"] == "aborted"
        assert "connection to the kernel was lost" in history[running]["reason"]
        assert history[behind]["state"] == "aborted"
        await watcher.wait_for(lambda: server_state(watcher)["kernel"]["status"]
                               == "disconnected")

        # a run asked for while it is away waits for it, and runs once it is back
        waiting = request_ids(await run(huddle, kernel_id, room, ids[2]))[0]
        proxy.start()
        release.touch()  # the cut-off cell ends on the kernel; its last words go nowhere
        await wait_idle(watcher, 2)
        assert by_id(await queue_view(huddle, room))[waiting]["state"] == "done"
        assert text_of(watcher, 2) == "42\n"  # the same kernel, its variables kept
        # what the cut-off run printed meanwhile is not written after the fact
        assert text_of(watcher, 0) == "started\n"
        assert outputs(watcher, 1) == []


async def test_a_silent_gateway_is_noticed_by_pings(huddle: Any, gateway: Gateway,
                                                    proxy: TcpProxy, write_notebook: Any,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """Nothing closes the socket (a partition, a frozen host): no pong ends it."""
    release = tmp_path / "release"
    # (noticed in 0.4 s, then Tornado's 5 s for the close handshake that never comes)
    monkeypatch.setattr(gateway_channels, "PING_INTERVAL_S", 0.2)
    monkeypatch.setattr(gateway_channels, "PING_TIMEOUT_S", 0.2)
    write_notebook("silent.ipynb", [long_cell(release), "print(x + 1)"])
    kernel_id = await on_gateway(huddle, gateway, "silent.ipynb")
    room, _ = await huddle.room_id("silent.ipynb")
    async with huddle.open("silent.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        await watcher.wait_for(lambda: text_of(watcher, 0) == "started\n", timeout=30)
        proxy.freeze()
        try:
            await all_idle(watcher, timeout=20)
        finally:
            proxy.thaw()
        entry = by_id(await queue_view(huddle, room))[running]
        assert entry["state"] == "aborted"
        assert "connection to the kernel was lost" in entry["reason"], entry
        release.touch()
        await run(huddle, kernel_id, room, ids[1])
        await wait_idle(watcher, 1)
        assert text_of(watcher, 1) == "42\n"
        assert text_of(watcher, 0) == "started\n"


async def test_gateway_killed_and_started_again_mid_run(huddle: Any, gateway: Gateway,
                                                         write_notebook: Any,
                                                         tmp_path: Path) -> None:
    write_notebook("killed.ipynb", [long_cell(tmp_path / "never"), "print('behind')",
                                    "print('fresh')"])
    kernel_id = await on_gateway(huddle, gateway, "killed.ipynb")
    room, _ = await huddle.room_id("killed.ipynb")
    async with huddle.open("killed.ipynb") as watcher:
        ids = [c["id"] for c in watcher.cells]
        running = request_ids(await run(huddle, kernel_id, room, ids[0]))[0]
        behind = request_ids(await run(huddle, kernel_id, room, ids[1]))[0]
        await watcher.wait_for(lambda: text_of(watcher, 0) == "started\n", timeout=30)
        gateway.kill()  # with its kernels
        await all_idle(watcher, timeout=10)
        history = by_id(await queue_view(huddle, room))
        assert history[running]["state"] == "aborted"
        assert "connection to the kernel was lost" in history[running]["reason"]
        assert history[behind]["state"] == "aborted"

        await asyncio.to_thread(gateway.start)  # (the server goes on meanwhile)
        # its kernels did not survive it: a run on the old one is refused, or (asked before
        # the server has noticed) ends at once, saying why
        response = await huddle.request("POST", f"api/kernels/{kernel_id}/execute",
                                        {"document_id": room, "cells": [{"cell_id": ids[2]}]})
        if response.code == 202:
            stale = request_ids(json.loads(response.body))[0]
            await all_idle(watcher, timeout=10)
            entry = by_id(await queue_view(huddle, room))[stale]
            assert entry["state"] == "aborted"
            assert "is gone" in entry["reason"], entry
            response = await huddle.request("POST", f"api/kernels/{kernel_id}/execute", {
                "document_id": room, "cells": [{"cell_id": ids[2]}]})
        assert response.code == 404, response.body
        assert outputs(watcher, 2) == []
        await watcher.wait_for(lambda: server_state(watcher)["kernel"]["status"] == "dead")
        # a new kernel for the notebook works
        new_kernel = await eventually(lambda: on_gateway(huddle, gateway, "killed.ipynb"),
                                      timeout=20, what="a new kernel on the gateway",
                                      ignoring=(AssertionError,))
        assert new_kernel != kernel_id
        await run(huddle, new_kernel, room, ids[2])
        await wait_idle(watcher, 2)
        assert text_of(watcher, 2) == "fresh\n"
        assert text_of(watcher, 0) == "started\n"  # nothing written twice or late
