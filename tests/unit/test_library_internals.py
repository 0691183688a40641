"""The private parts of libraries Huddle reads, each wrapped in one place: these tests fail
loudly when a release of the library changes them (instead of Huddle silently falling back
to a slower or unbounded path)."""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Doc, Text
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application
from tornado.websocket import WebSocketHandler, websocket_connect

from jupyter_huddle.collab.origins import event_origin
from jupyter_huddle.server import ws_stream


def test_pycrdt_observers_see_the_transactions_origin_object() -> None:
    doc: Doc[Any] = Doc()
    text = doc.get("t", type=Text)
    origin = object()
    seen: list[object] = []
    doc.observe(lambda event: seen.append(event_origin(doc, event)))
    with doc.transaction(origin=origin):
        text += "x"
    text += "y"  # no origin
    assert seen[0] is origin, "pycrdt's Doc._origins no longer maps an origin's hash"
    assert seen[1] is None


async def test_tornado_streams_take_direct_frames_and_count_what_they_sent() -> None:
    opened: asyncio.Future[tuple[bool, bool, tuple[int, int]]] = (
        asyncio.get_running_loop().create_future())
    payloads = [b"small", bytes(range(256)) * 40]  # one batched, one written without a copy

    class Handler(WebSocketHandler):
        async def open(self, *args: Any, **kwargs: Any) -> None:
            stream = ws_stream.plain_stream(self.ws_connection)
            counters = ws_stream.has_write_counters(ws_stream.any_stream(self.ws_connection))
            if stream is not None:
                await ws_stream.write_frames(stream, payloads)
            opened.set_result((stream is not None, counters, ws_stream.unsent_and_sent(
                ws_stream.any_stream(self.ws_connection))))

    sock, port = bind_unused_port()
    server = HTTPServer(Application([(r"/ws", Handler)]))
    server.add_sockets([sock])
    client = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
    try:
        async with asyncio.timeout(10):
            direct, counters, (unsent, sent) = await opened
            assert direct, "Tornado's websocket connection no longer exposes stream/_compressor"
            assert counters, "Tornado's IOStream no longer counts bytes written and sent"
            assert unsent == 0
            assert sent >= sum(map(len, payloads))
            assert [await client.read_message() for _ in payloads] == payloads
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


def test_frame_headers_follow_rfc_6455_lengths() -> None:
    assert ws_stream.binary_frame_header(125) == b"\x82\x7d"
    assert ws_stream.binary_frame_header(126) == b"\x82\x7e\x00\x7e"
    assert ws_stream.binary_frame_header(70_000)[:2] == b"\x82\x7f"
    assert len(ws_stream.binary_frame_header(70_000)) == 10
