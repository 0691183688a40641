"""A y-websocket client for tests, written against pycrdt's own sync helpers (not the
server's codec), so a bug in the server's encoding cannot hide behind the same bug here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import websockets
from pycrdt import (
    Array,
    Doc,
    Map,
    Text,
    YMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    write_var_uint,
)
from websockets.asyncio.client import ClientConnection

REMOTE = "remote"


def encode_var_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return write_var_uint(len(raw)) + raw


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def read_var_string(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = read_var_uint(data, pos)
    return data[pos : pos + length].decode("utf-8"), pos + length


def awareness_update(client_id: int, clock: int, state: dict[str, Any] | None) -> bytes:
    body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock)
    body += encode_var_string(json.dumps(state))
    return bytes([YMessageType.AWARENESS]) + write_var_uint(len(body)) + body


def parse_awareness(payload: bytes) -> list[tuple[int, int, Any]]:
    count, pos = read_var_uint(payload, 0)
    entries = []
    for _ in range(count):
        client_id, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        state, pos = read_var_string(payload, pos)
        entries.append((client_id, clock, json.loads(state)))
    return entries


class YClient:
    """One peer: a pycrdt Doc kept in sync with a room over a real websocket."""

    def __init__(self, url: str, doc: Doc | None = None, *, headers: dict[str, str] | None = None):
        self.url = url
        self.doc: Doc = doc if doc is not None else Doc()
        self.headers = headers or {}
        self.ws: ClientConnection | None = None
        self.synced = asyncio.Event()
        self.raw: list[dict[str, Any]] = []
        # The presence entry the server announced as its own (kernel status, run queue).
        self.server_client_id: int | None = None
        self.awareness: dict[int, Any] = {}
        self.frames_received = 0
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        # Every outgoing frame goes through one queue, so frames leave in the order they
        # were produced (an edit, then a save request), as y-websocket guarantees.
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._subscription = self.doc.observe(self._on_local_change)
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # --- schema helpers -------------------------------------------------------------------
    @property
    def cells(self) -> Array:
        return self.doc.get("cells", type=Array)

    @property
    def meta(self) -> Map:
        return self.doc.get("meta", type=Map)

    @property
    def state(self) -> Map:
        return self.doc.get("state", type=Map)

    def source(self, index: int) -> Text:
        return self.cells[index]["source"]

    @property
    def text(self) -> Text:
        return self.doc.get("source", type=Text)

    # --- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> YClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self.synced.clear()
        self.ws = await websockets.connect(
            self.url, additional_headers=self.headers, max_size=None, open_timeout=20
        )
        self._reader = asyncio.create_task(self._read())
        self._writer = asyncio.create_task(self._write(self.ws))
        await self.send(create_sync_message(self.doc))

    async def reconnect(self, timeout: float = 30) -> None:
        """Connect again to the same URL (same session id), as y-websocket does after a
        drop, retrying while the server is down. Offline edits go out in the sync."""
        if self.ws is not None:
            await self.ws.close()
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._outgoing = asyncio.Queue()  # frames for the dead socket are covered by sync
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.connect()
                    return
                except (OSError, websockets.InvalidHandshake):
                    await asyncio.sleep(0.1)  # the server is restarting: retry

    async def close(self) -> None:
        if self.ws is not None:
            await self.flush()
            await self.ws.close()
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def send(self, frame: bytes) -> None:
        """Queue a frame behind everything queued before it."""
        self._outgoing.put_nowait(frame)

    async def flush(self, timeout: float = 10) -> None:
        """Wait until every queued frame has been handed to the socket."""
        async with asyncio.timeout(timeout):
            await self._outgoing.join()

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._outgoing.get()
            try:
                await ws.send(frame)
            except websockets.ConnectionClosed:
                pass
            finally:
                self._outgoing.task_done()

    def _on_local_change(self, event: Any) -> None:
        origin_hash = event.transaction.origin()
        if origin_hash is not None and self.doc._origins.get(origin_hash) == REMOTE:
            return
        if self.ws is not None:
            self._outgoing.put_nowait(create_update_message(event.update))

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes)
                self.frames_received += 1
                await self._handle(frame)
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            async with self._changed:
                self._changed.notify_all()

    async def _handle(self, frame: bytes) -> None:
        assert self.ws is not None
        kind = frame[0]
        if kind == YMessageType.SYNC:
            with self.doc.transaction(origin=REMOTE):
                reply = handle_sync_message(frame[1:], self.doc)
            if frame[1] == 1:
                self.synced.set()
            if reply is not None:
                await self.send(reply)
        elif kind == YMessageType.AWARENESS:
            length, pos = read_var_uint(frame, 1)
            for client_id, _clock, state in parse_awareness(frame[pos : pos + length]):
                if state is None:
                    self.awareness.pop(client_id, None)
                else:
                    self.awareness[client_id] = state
        elif kind == 2:
            message = json.loads(read_var_string(frame, 1)[0])
            if message.get("type") == "server_presence":
                self.server_client_id = message["client_id"]
            else:
                self.raw.append(message)

    # --- waiting --------------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    async def wait_closed(self, timeout: float = 10) -> tuple[int | None, str | None]:
        assert self._reader is not None
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._reader)
        return self.close_code, self.close_reason

    async def save(self, request_id: int = 1, timeout: float = 20) -> str:
        await self.send(bytes([2]) + encode_var_string("save") + write_var_uint(request_id))
        await self.wait_for(lambda: any(r.get("responseTo") == request_id for r in self.raw),
                            timeout)
        return next(r["status"] for r in self.raw if r.get("responseTo") == request_id)


def room_url(base_ws_url: str, room: str, session_id: str | None, token: str | None) -> str:
    query = []
    if session_id is not None:
        query.append(f"sessionId={quote(session_id)}")
    if token:
        query.append(f"token={quote(token)}")
    suffix = ("?" + "&".join(query)) if query else ""
    return f"{base_ws_url}api/collaboration/room/{room}{suffix}"
