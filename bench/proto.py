"""The load client: a lean y-websocket peer holding a real pycrdt Doc, and the session PUT.

Kept small on purpose: the client shares two cores with the server under test, so every
microsecond it spends per frame is a microsecond the server does not get. Receive times are
taken when the socket is read (see wsclient.py), before the frame is applied.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from pycrdt import Array, Doc, Text, create_sync_message, create_update_message, write_var_uint

from . import wsclient
from .wsclient import WebSocketConnection

SYNC, AWARENESS = 0, 1
STEP1, STEP2, UPDATE = 0, 1, 2


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def sync_payload(frame: bytes) -> bytes:
    """The update / state vector carried by a SYNC frame (after type and sub-type)."""
    length, pos = read_var_uint(frame, 2)
    return frame[pos:pos + length]


def awareness_frame(client_id: int, clock: int, state: dict[str, Any]) -> bytes:
    raw = json.dumps(state).encode()
    body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock)
    body += write_var_uint(len(raw)) + raw
    return bytes([AWARENESS]) + write_var_uint(len(body)) + body


async def put_session(http_base: str, token: str, path: str) -> dict[str, Any]:
    """``PUT /api/collaboration/session/{path}`` over a raw asyncio socket (cheap, no pool)."""
    url = urlsplit(http_base)
    body = b'{"format":"json","type":"notebook"}'
    target = f"{url.path}api/collaboration/session/{quote(path, safe='')}"
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            f"PUT {target} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: token {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await reader.readexactly(length) if length else await reader.read()
    finally:
        writer.close()
    if status >= 300:
        raise RuntimeError(f"PUT session {path}: HTTP {status} {payload[:200]!r}")
    return json.loads(payload)


class Peer:
    """One collaborator: a websocket to a room and a pycrdt Doc kept in sync with it."""

    def __init__(self, name: str = "peer"):
        self.name = name
        self.doc: Doc[Any] = Doc()
        self.conn: WebSocketConnection | None = None
        self.synced = asyncio.Event()
        self.t_connect = 0.0       # before the TCP connect
        self.t_open = 0.0          # websocket handshake done
        self.t_synced = 0.0        # SyncStep2 received and applied
        self.frames = 0
        self.update_frames = 0
        self.error: BaseException | None = None
        self.on_update: Callable[[float], None] | None = None  # called after each applied update
        self._local_update: bytes | None = None

    # --- schema -----------------------------------------------------------------------------
    @property
    def cells(self) -> Array[Any]:
        return self.doc.get("cells", type=Array)

    def source(self, index: int) -> Text:
        return self.cells[index]["source"]

    @property
    def bytes_in(self) -> int:
        return self.conn.bytes_in if self.conn else 0

    @property
    def closed(self) -> asyncio.Future[None]:
        assert self.conn is not None
        return self.conn.closed

    # --- connection ---------------------------------------------------------------------------
    async def connect(self, ws_url: str, *, awareness: bool = True) -> None:
        self.t_connect = time.perf_counter()
        self.conn = WebSocketConnection(ws_url, self._on_message)
        await wsclient.connect(self.conn)
        self.t_open = time.perf_counter()
        self.conn.send(create_sync_message(self.doc))
        if awareness:
            state = {"user": {"username": self.name, "name": self.name, "display_name": self.name,
                              "initials": self.name[:2], "color": "#1f77b4"}}
            self.conn.send(awareness_frame(self.doc.client_id, 1, state))

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    def _on_message(self, frame: bytes, now: float) -> None:
        self.frames += 1
        if frame[0] != SYNC:
            return
        try:
            sub = frame[1]
            if sub == STEP1:
                update = self.doc.get_update(sync_payload(frame))
                self.send(bytes([SYNC, STEP2]) + write_var_uint(len(update)) + update)
                return
            update = sync_payload(frame)
            if update != b"\x00\x00":
                self.doc.apply_update(update)
            if sub == STEP2 and not self.synced.is_set():
                self.t_synced = time.perf_counter()
                self.synced.set()
            else:
                self.update_frames += 1
            if self.on_update is not None:
                self.on_update(now)
        except Exception as err:
            self.error = err

    # --- editing ------------------------------------------------------------------------------
    def _capture(self, event: Any) -> None:
        self._local_update = event.update

    def edit(self, change: Callable[[], None]) -> bytes:
        """Run ``change`` in a local transaction and return the update frame it produced.

        The observer is attached only around the edit: kept attached, it would make every
        remote update cost an extra encode."""
        subscription = self.doc.observe(self._capture)
        try:
            with self.doc.transaction():
                change()
        finally:
            self.doc.unobserve(subscription)
        update, self._local_update = self._local_update, None
        assert update is not None
        return create_update_message(update)

    def send(self, frame: bytes) -> None:
        assert self.conn is not None
        self.conn.send(frame)


def room_url(ws_base: str, file_id: str, session_id: str, token: str) -> str:
    return (f"{ws_base}api/collaboration/room/json:notebook:{file_id}"
            f"?sessionId={quote(session_id)}&token={quote(token)}")


async def open_peer(server: Any, path: str, name: str = "peer", *, awareness: bool = True,
                    session: dict[str, Any] | None = None) -> Peer:
    """PUT the session, connect, and return the peer (not yet necessarily synced)."""
    if session is None:
        session = await put_session(server.http_base, server.token, path)
    peer = Peer(name)
    await peer.connect(room_url(server.ws_base, session["fileId"], session["sessionId"],
                                server.token), awareness=awareness)
    return peer


async def wait_synced(peer: Peer, expect_cells: int | None = None, timeout: float = 120) -> float:
    """Wait for SyncStep2 (and, if given, the full cell count); return seconds since connect."""
    async def done() -> None:
        await peer.synced.wait()
        if expect_cells is not None:
            while len(peer.cells) < expect_cells:
                if peer.error is not None or peer.closed.done():
                    raise RuntimeError(f"{peer.name}: connection ended before the document "
                                       f"arrived ({peer.error!r})")
                await asyncio.sleep(0.002)
                peer.t_synced = time.perf_counter()
    waiter = asyncio.ensure_future(done())
    closed = peer.closed
    finished, _ = await asyncio.wait({waiter, closed}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
    if waiter not in finished:
        waiter.cancel()
        if closed in finished:
            assert peer.conn is not None
            raise RuntimeError(f"{peer.name}: closed before sync ({peer.conn.close_code} "
                               f"{peer.conn.close_reason}; {peer.error!r})")
        raise TimeoutError(f"{peer.name}: not synced after {timeout}s")
    waiter.result()
    return peer.t_synced - peer.t_connect


async def quiesce(peers: Sequence[Peer], quiet_s: float = 0.5, timeout: float = 60,
                  poll_s: float = 0.05) -> float:
    """Wait until no peer has received a frame for ``quiet_s`` (join-time presence traffic
    takes seconds to drain with hundreds of peers). Returns the seconds waited."""
    t0 = time.perf_counter()
    last, quiet_since = -1, t0
    while time.perf_counter() - t0 < timeout:
        total = sum(p.frames for p in peers)
        now = time.perf_counter()
        if total != last:
            last, quiet_since = total, now
        elif now - quiet_since >= quiet_s:
            break
        await asyncio.sleep(poll_s)  # polling frame counters, not waiting for an event
    return time.perf_counter() - t0
