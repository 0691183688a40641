"""A websocket client transport: the ``websockets`` library's sans-I/O protocol driven by
a plain ``asyncio.Protocol``.

Why not ``websockets.connect``: its reader hands every frame to a task through a queue,
which costs a task switch per frame. With 300 receivers in one process, that client-side
cost would be added to the measured latency of the last receivers of every broadcast. Here
frames are parsed and handled inside ``data_received``, and every frame of one socket read
gets the read's timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

MessageHandler = Callable[[bytes, float], None]


class WebSocketConnection(asyncio.Protocol):
    def __init__(self, url: str, on_message: MessageHandler):
        self.url = url
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.bytes_in = 0
        self._fragments: list[bytes] = []

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.bytes_in += len(data)
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    if not self.opened.done():
                        self.opened.set_exception(self.ws.handshake_exc)
                elif not self.opened.done():
                    self.opened.set_result(None)
                continue
            if event.opcode in (Opcode.BINARY, Opcode.TEXT, Opcode.CONT):
                if not event.fin:
                    self._fragments.append(bytes(event.data))
                    continue
                payload = bytes(event.data)
                if self._fragments:
                    payload = b"".join([*self._fragments, payload])
                    self._fragments.clear()
                self.on_message(payload, now)
        self._flush()  # pongs, close replies

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # --- API ------------------------------------------------------------------------------------
    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.ws.close_expected() and self.ws.state is State.CLOSED:
            self.transport.close()

    @property
    def open(self) -> bool:
        return self.ws.state is State.OPEN

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    def send(self, data: bytes) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_binary(data)
            self._flush()

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0

    async def close(self, timeout: float = 5.0) -> None:
        if self.transport is None or self.closed.done():
            return
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self._flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        if not self.closed.done():
            self.transport.close()


async def connect(conn: WebSocketConnection, timeout: float = 120) -> None:
    """Open ``conn`` (created beforehand, so that its owner can already use it when the
    first frames arrive together with the handshake response)."""
    wsuri = parse_uri(conn.url)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.create_connection(lambda: conn, wsuri.host, wsuri.port), timeout)
    await asyncio.wait_for(asyncio.shield(conn.opened), timeout)
