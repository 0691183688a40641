"""Tools for the hostile tier: raw sockets that send whatever they like, and checks that the
honest peers of a room did not notice.

Every wait here has a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import websockets
from pycrdt import write_var_uint
from websockets.asyncio.client import ClientConnection

from tests.support.yclient import YClient, encode_var_string, read_var_string, room_url

# Close codes a server may use for a frame it cannot parse.
PROTOCOL_CLOSE = {1002, 1007}
DEADLINE = 10.0

_probe_ids = itertools.count(1_000_000_007)


def varuint(num: int) -> bytes:
    return bytes(write_var_uint(num))


def var_bytes(data: bytes) -> bytes:
    return varuint(len(data)) + data


def sync_frame(sub_type: int, payload: bytes) -> bytes:
    return b"\x00" + varuint(sub_type) + var_bytes(payload)


def awareness_frame(payload: bytes) -> bytes:
    return b"\x01" + var_bytes(payload)


def awareness_payload(entries: Iterable[tuple[int, int, bytes | str]]) -> bytes:
    """An awareness update from (client id, clock, state JSON text) triples."""
    items = list(entries)
    out = varuint(len(items))
    for client_id, clock, state in items:
        raw = state.encode() if isinstance(state, str) else state
        out += varuint(client_id) + varuint(clock) + var_bytes(raw)
    return out


def raw_frame(text: bytes | str) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b"\x02" + var_bytes(raw)


def save_frame(request_id: int) -> bytes:
    return b"\x02" + encode_var_string("save") + varuint(request_id)


def marker() -> str:
    return f"<{uuid.uuid4().hex[:12]}>"


class RawPeer:
    """A websocket to a room that speaks no protocol by itself.

    With ``reading=True`` a task reads every frame the server sends (so the socket never
    backs up); with ``reading=False`` nothing is read until ``start_reading()``.
    """

    def __init__(self, ws: ClientConnection, reading: bool = True) -> None:
        self.ws = ws
        self.frames: list[bytes | str] = []
        self.raw: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        if reading:
            self.start_reading()

    @classmethod
    async def connect(cls, url: str, *, reading: bool = True, **kwargs: Any) -> RawPeer:
        options: dict[str, Any] = {"max_size": None, "open_timeout": DEADLINE,
                                   "compression": None, "ping_interval": None}
        options.update(kwargs)
        ws = await websockets.connect(url, **options)
        return cls(ws, reading=reading)

    def start_reading(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.frames.append(frame)
                if isinstance(frame, bytes) and frame[:1] == b"\x02":
                    try:
                        self.raw.append(json.loads(read_var_string(frame, 1)[0]))
                    except ValueError:
                        self.raw.append({"unparsed": frame})
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            async with self._changed:
                self._changed.notify_all()

    @property
    def is_closed(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def send(self, frame: bytes | str | Iterable[bytes]) -> bool:
        """Send a frame (an iterable: one message in fragments); False if the server already
        closed the socket."""
        try:
            await self.ws.send(frame)
        except websockets.ConnectionClosed:
            return False
        return True

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    async def probe(self, timeout: float = DEADLINE) -> bool:
        """True if the server still reads this socket: it answers a save request sent after
        everything before it. False if the server closed the socket instead."""
        request_id = next(_probe_ids)
        if not await self.send(save_frame(request_id)):
            await self.closed(timeout)
            return False

        def answered() -> bool:
            return self.is_closed or any(r.get("responseTo") == request_id for r in self.raw)

        await self.wait_for(answered, timeout)
        return any(r.get("responseTo") == request_id for r in self.raw)

    async def closed(self, timeout: float = DEADLINE) -> tuple[int | None, str]:
        """Wait for the server to close the socket; its close code and reason."""
        self.start_reading()
        assert self._reader is not None
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._reader)
        except TimeoutError:
            raise AssertionError(f"the server did not close the socket within {timeout} s") \
                from None
        return self.ws.close_code, self.ws.close_reason or ""

    async def aclose(self) -> None:
        try:
            async with asyncio.timeout(DEADLINE):
                await self.ws.close()
        except TimeoutError:
            self.ws.transport.abort()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def raw_peer(huddle: Any, path: str, *, reading: bool = True, **kwargs: Any) -> RawPeer:
    room, session_id = await huddle.room_id(path)
    return await RawPeer.connect(room_url(huddle.ws_url, room, session_id, huddle.token),
                                 reading=reading, **kwargs)


def text_of(client: YClient, cell: int = 0) -> str:
    return str(client.source(cell))


def append(client: YClient, text: str, cell: int = 0) -> None:
    source = client.source(cell)
    source.insert(len(source), text)


async def exchange(a: YClient, b: YClient, cell: int = 0, timeout: float = DEADLINE) -> str:
    """Each client makes an edit and the other must see it. Returns the converged source."""
    first, second = marker(), marker()
    append(a, first, cell)
    await b.wait_for(lambda: first in text_of(b, cell), timeout)
    append(b, second, cell)
    await a.wait_for(lambda: second in text_of(a, cell), timeout)
    await a.wait_for(lambda: text_of(a, cell) == text_of(b, cell), timeout)
    return text_of(a, cell)


async def assert_room_healthy(huddle: Any, path: str, a: YClient, b: YClient,
                              kept: Iterable[str] = ()) -> str:
    """Both honest clients still sync edits both ways, nothing in ``kept`` was lost, and a
    newcomer receives the same content from the server."""
    assert a.ws is not None
    assert b.ws is not None
    assert not a.ws.close_code, (a.close_code, a.close_reason)
    assert not b.ws.close_code, (b.close_code, b.close_reason)
    converged = await exchange(a, b)
    for piece in kept:
        assert piece in converged, f"{piece!r} was lost: {converged!r}"
    async with huddle.open(path) as newcomer:
        await newcomer.wait_for(lambda: text_of(newcomer) == text_of(a), DEADLINE)
    return converged


class HonestRoom:
    """A notebook and two honest clients that already exchanged edits (``kept``)."""

    def __init__(self, huddle: Any, path: str, a: YClient, b: YClient, kept: list[str]):
        self.huddle, self.path, self.a, self.b, self.kept = huddle, path, a, b, kept

    async def raw(self, *, reading: bool = True, **kwargs: Any) -> RawPeer:
        return await raw_peer(self.huddle, self.path, reading=reading, **kwargs)

    async def healthy(self) -> str:
        converged = await assert_room_healthy(self.huddle, self.path, self.a, self.b, self.kept)
        self.kept = [converged]
        return converged

    @property
    def server_room(self) -> Any:
        rooms = self.huddle.extension.rooms
        (room,) = [entry.room for entry in rooms._entries.values()
                   if getattr(entry.room.id, "type", None) == "notebook"]
        return room


@asynccontextmanager
async def honest_room(huddle: Any, write_notebook: Any, path: str = "hostile.ipynb",
                      sources: list[str] | None = None) -> AsyncIterator[HonestRoom]:
    write_notebook(path, sources or ["print('hello')", "x = 1"])
    async with huddle.open(path) as a, huddle.open(path) as b:
        first = await exchange(a, b)
        yield HonestRoom(huddle, path, a, b, [first])
