"""A widget page that stops reading (docs/WIDGETS.md): the server queues at most
``widget_max_pending_frames`` for it, then cuts it off with 1013, while the kernel and the
pages that read carry on."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from tests.hostile.helpers import RawPeer
from tests.support.guests import start_kernel, stop_kernels
from tests.support.waiting import eventually
from tests.support.widget_page import owner_page, run, widgets_url

PENDING = 4
FRAME_BYTES = 512 * 1024


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "widget_max_pending_frames": PENDING, "widget_save_interval_s": 60.0}


async def _slow_page(url: str) -> RawPeer:
    """A socket that reads nothing: tiny kernel receive buffer, websockets queue of 1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return await RawPeer.connect(url, reading=False, sock=sock, max_queue=1)


async def test_a_page_that_stops_reading_is_cut_off(huddle, write_notebook):
    write_notebook("slow.ipynb", [
        "import ipywidgets as w; im = w.Image(value=b''); im",
        f"for i in range(48): im.value = bytes([i]) * {FRAME_BYTES}",
    ])
    kernel_id = await start_kernel(huddle, "slow.ipynb")
    try:
        room, _ = await huddle.room_id("slow.ipynb")
        file_id = room.rsplit(":", 1)[1]
        pages = huddle.extension.widget_pages
        async with huddle.open("slow.ipynb") as doc, owner_page(huddle, room) as honest:
            await honest.snapshot()
            before = set(pages._pages[file_id])
            slow = await _slow_page(widgets_url(huddle.ws_url, room, huddle.token))
            try:
                await eventually(lambda: len(pages._pages.get(file_id, ())) == 2,
                                 what="the slow page to attach")
                (handler,) = set(pages._pages[file_id]) - before
                await run(huddle, kernel_id, room, doc, 0)
                await run(huddle, kernel_id, room, doc, 1)
                # the honest page saw every change through to the last
                model = await honest.model("ImageModel")
                await honest.wait_for(lambda: honest.models()[model["comm_id"]]["state"].get(
                    "value") == bytes([47]) * FRAME_BYTES, "the last image")
                await eventually(lambda: handler.peer.closed, what="the slow page cut off")
                assert len(handler.peer.take_all()) == 0  # nothing kept for it
                # once it reads, it finds the close frame
                slow.start_reading()
                code, reason = await slow.closed(timeout=15)
                assert code == 1013, (code, reason)
                await eventually(lambda: handler not in pages._pages.get(file_id, ()),
                                 what="the slow page forgotten")
                assert not honest.closed.is_set()
            finally:
                await slow.aclose()
    finally:
        await stop_kernels(huddle)
