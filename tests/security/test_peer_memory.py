"""Point 6: memory is bounded per peer, including the first sync.

30 sockets that never read, each sending a 12-byte SyncStep1 on a 40 MB notebook, took the
server from 0.86 to 3.0 GB (each got a private copy of the document, and the first frame
skipped ``max_peer_queue_bytes``), and 1.8 GB stayed after they closed. Here guests with a
view link do the same on a notebook of a few MB: the server must hold the document once for
all of them, cut each off with 1013 after ``peer_stall_timeout_s`` (while a slow reader that
keeps reading is left alone), and let the memory go when they leave. Precise RSS figures are
``bench/abuse.py``'s; the assertions here are about what the server references.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import Sized
from typing import Any
from urllib.parse import quote

import pytest

from jupyter_huddle.collab.rooms.heap import libc_malloc_trim
from jupyter_huddle.collab.sync import full_state
from tests.hostile.helpers import RawPeer, honest_room, sync_frame
from tests.security.conftest import FAST_SAVES
from tests.support.guests import Browser, share
from tests.support.waiting import eventually

pytestmark = pytest.mark.timing  # runs alone: a slow reader must keep up with a 1 s stall timeout

DOC_BYTES = 6 * 1024 * 1024
LURKERS = 6
STALL_S = 1.0
CONFIG = {**FAST_SAVES, "peer_stall_timeout_s": STALL_S}
PATH = "large.ipynb"


async def claim(huddle: Any, url: str, name: str) -> tuple[Browser, str, str]:
    """A fresh browser claims the view link: (it, room id, session id)."""
    guest = Browser(huddle)
    joined = await guest.join(url, name)
    assert joined.code == 302, joined.body[:300]
    session = await guest.json("PUT", f"api/collaboration/session/{quote(PATH)}",
                               {"format": "json", "type": "notebook"})
    return guest, f"json:notebook:{session['fileId']}", session["sessionId"]


def room_path(huddle: Any, room: str, session: str) -> str:
    return f"{huddle.base_url}api/collaboration/room/{room}?sessionId={quote(session)}"


async def lurker(huddle: Any, url: str, name: str) -> RawPeer:
    """A guest's socket that reads nothing: tiny kernel receive buffer, websockets queue of
    one frame (the join frames fill it before the document comes)."""
    guest, room, session = await claim(huddle, url, name)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", huddle.port))
    return await RawPeer.connect(
        f"ws://127.0.0.1:{huddle.port}{room_path(huddle, room, session)}", reading=False,
        sock=sock, max_queue=1, additional_headers={"Cookie": guest.cookie_header()})


class SlowReader:
    """A guest's socket read by hand, 32 KiB every 20 ms: slow, but it keeps reading."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received = 0

    @classmethod
    async def open(cls, huddle: Any, url: str) -> SlowReader:
        guest, room, session = await claim(huddle, url, "Slow")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", huddle.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=32 * 1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((
            f"GET {room_path(huddle, room, session)} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{huddle.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: {guest.cookie_header()}\r\n\r\n").encode())
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(self, payload: bytes) -> None:
        """One masked binary frame (mask key 0: the payload goes as is)."""
        length = len(payload)
        header = (struct.pack("!BB", 0x82, 0x80 | length) if length < 126
                  else struct.pack("!BBH", 0x82, 0x80 | 126, length))
        self.writer.write(header + b"\0\0\0\0" + payload)

    async def read_until(self, total: int) -> None:
        while self.received < total:
            chunk = await self.reader.read(32 * 1024)
            if not chunk:
                raise AssertionError(f"closed after {self.received} bytes")
            self.received += len(chunk)
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self.writer.transport.abort()


def handler_of(conn: Any) -> Any:
    return conn._on_close.__self__


def unsent(conn: Any) -> int:
    """Bytes Tornado holds for the peer and has not written to its socket."""
    stream = getattr(handler_of(conn).ws_connection, "stream", None)
    if stream is None or stream.closed():
        return 0
    return int(stream._total_write_index - stream._total_write_done_index)


def large_buffers(conn: Any) -> list[Sized]:
    """The large bytes objects held for a peer: its queue, and Tornado's write buffer."""
    held: list[Sized] = [f for f in conn.outbox._frames if len(f) > 1024 * 1024]
    stream = getattr(handler_of(conn).ws_connection, "stream", None)
    buffers = getattr(getattr(stream, "_write_buffer", None), "_buffers", ())
    for _large, data in buffers:
        source = data.obj if isinstance(data, memoryview) else data
        assert isinstance(source, Sized)  # bytes or bytearray, under a memoryview or not
        if len(source) > 1024 * 1024:
            held.append(source)
    return held


@pytest.mark.parametrize("huddle_config", [CONFIG])
async def test_sockets_that_never_read_share_one_copy_and_are_cut_off(
        huddle, write_notebook, monkeypatch):
    # Cached frames nobody asked for are dropped sooner than in production (10 s).
    monkeypatch.setattr(full_state, "IDLE_S", 1.0)
    big = "big = '" + "m" * DOC_BYTES + "'"
    async with honest_room(huddle, write_notebook, PATH, sources=[big, "x"]) as room:
        server = room.server_room
        url, _link = await share(huddle, PATH, "viewer")
        before = set(server.peers)
        lurkers = [await lurker(huddle, url, f"Lurker {i}") for i in range(LURKERS)]
        slow = await SlowReader.open(huddle, url)
        await eventually(lambda: len(set(server.peers) - before) == LURKERS + 1,
                         what="every guest to join")
        joined = [server.peers[i] for i in sorted(set(server.peers) - before)]
        conns, slow_conn = joined[:-1], joined[-1]
        for peer in lurkers:
            assert await peer.send(sync_frame(0, b"\x00"))  # 12 bytes: send me everything
        slow.send(sync_frame(0, b"\x00"))
        reading = asyncio.create_task(slow.read_until(DOC_BYTES))

        # Each lurker has most of the document waiting for it (the kernel took the rest)...
        await eventually(lambda: all(unsent(c) > 1024 * 1024 for c in conns),
                         what="the document to back up behind every lurker")
        # ...and it is one object for all of them, not one copy each.
        held = [obj for c in conns for obj in large_buffers(c)]
        assert len(held) >= LURKERS
        assert len({id(obj) for obj in held}) == 1, [len(obj) for obj in held]

        # A peer that takes nothing for peer_stall_timeout_s is cut off, with 1013...
        heap = huddle.extension.rooms.heap
        trims = heap.trims
        heap.threshold_bytes = 1024 * 1024  # 16 MiB in production: this document is 6 MB
        await eventually(lambda: all(c.closed for c in conns), timeout=STALL_S + 10,
                         what="the lurkers to be cut off")
        for peer in lurkers:
            peer.start_reading()
            code, reason = await peer.closed(timeout=15)
            assert code == 1013, (code, reason)
        # ...and one that keeps reading, however slowly, is not.
        async with asyncio.timeout(60):
            await reading
        assert not slow_conn.closed
        assert slow_conn.id in server.peers

        # When they are gone, nothing holds their copy: the room dropped the frames it had
        # cached for them, and the heap was asked to give the memory back.
        await eventually(lambda: not any(c.id in server.peers for c in conns),
                         what="the lurkers to leave the room")
        assert all(handler_of(c).ws_connection is None for c in conns)
        await eventually(lambda: server._full_state.cached_bytes == 0, timeout=10,
                         what="the room to drop its cached full state")
        if libc_malloc_trim() is not None:
            await eventually(lambda: heap.trims > trims, timeout=15, what="a heap trim")
        slow.close()
        await room.healthy()
