"""A notebook page's widget socket (docs/WIDGETS.md) as a test client: real websockets,
frames decoded (binary ones with their buffers put back at their paths), waits on
arriving frames under a deadline."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import websockets
from websockets.exceptions import ConnectionClosed

from tests.support.guests import Browser
from tests.support.yclient import YClient


def decode_frame(frame: str | bytes) -> dict[str, Any]:
    """A server frame as a dict; a binary one gets ``_buffers`` and its buffers put into
    its state(s) at ``buffer_paths``."""
    if isinstance(frame, str):
        message: dict[str, Any] = json.loads(frame)
        message["_binary"] = False
        return message
    count, json_len = struct.unpack_from(">II", frame)
    lengths = struct.unpack_from(f">{count}I", frame, 8)
    at = 8 + 4 * count
    message = json.loads(frame[at:at + json_len].decode())
    at += json_len
    buffers = []
    for length in lengths:
        buffers.append(frame[at:at + length])
        at += length
    message["_binary"] = True
    message["_buffers"] = buffers
    if message.get("type") == "snapshot":
        # each model's buffers follow the earlier models' (from its ``buffer_index``)
        for model in message["models"]:
            first = model.get("buffer_index", 0)
            for i, path in enumerate(model.get("buffer_paths") or []):
                put_at(model["state"], path, buffers[first + i])
        return message
    holder = message.get("model", message)
    for path, buffer in zip(holder.get("buffer_paths") or [], buffers, strict=True):
        put_at(holder["state"], path, buffer)
    return message


def put_at(state: Any, path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        state = state[key]
    state[path[-1]] = value


def encode_frame(message: dict[str, Any], buffers: list[bytes] | None = None) -> str | bytes:
    """A browser frame: JSON text, or the binary layout when there are buffers."""
    text = json.dumps(message)
    if not buffers:
        return text
    body = text.encode()
    head = struct.pack(f">II{len(buffers)}I", len(buffers), len(body), *map(len, buffers))
    return b"".join([head, body, *buffers])


class WidgetPage:
    """One page's widget socket: every frame received, kept in order."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._next_ref = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.socket:
                self.frames.append(decode_frame(frame))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.socket.close_code
            self.close_reason = self.socket.close_reason or ""
            self.closed.set()
            self._changed.set()

    async def wait_for(self, check: Callable[[], Any], what: str = "a frame",
                       timeout: float = 30) -> Any:
        """Until ``check()`` is truthy (checked on every frame); its value."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = check()
                    if found:
                        return found
                    if self.closed.is_set():
                        raise AssertionError(f"socket closed ({self.close_code} "
                                             f"{self.close_reason!r}) before {what}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; frames: "
                                 f"{[_short(f) for f in self.frames]}") from None

    async def wait_closed(self, timeout: float = 30) -> int | None:
        """Until the server closes the socket; its close code."""
        try:
            async with asyncio.timeout(timeout):
                await self.closed.wait()
        except TimeoutError:
            raise AssertionError(f"the socket still open after {timeout} s") from None
        return self.close_code

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    async def frame(self, kind: str, match: Callable[[dict[str, Any]], bool] = lambda f: True,
                    what: str = "", timeout: float = 30) -> dict[str, Any]:
        """The first frame of ``kind`` that ``match``es (waiting for it)."""
        found: dict[str, Any] = await self.wait_for(
            lambda: next((f for f in self.of_type(kind) if match(f)), None),
            what or f"{kind} frame", timeout)
        return found

    async def snapshot(self) -> dict[str, Any]:
        return await self.frame("snapshot")

    def models(self) -> dict[str, dict[str, Any]]:
        """Every model the page knows now, by comm id, with its updates applied."""
        models: dict[str, dict[str, Any]] = {}
        for f in self.frames:
            if f["type"] == "snapshot":
                models = {m["comm_id"]: m for m in f["models"]}
            elif f["type"] == "open":
                models[f["model"]["comm_id"]] = f["model"]
            elif f["type"] == "update" and f["comm_id"] in models:
                models[f["comm_id"]]["state"].update(f["state"])
            elif f["type"] == "close":
                models.pop(f["comm_id"], None)
            elif f["type"] == "dead":
                models = {}
        return models

    async def model(self, model_name: str, timeout: float = 30) -> dict[str, Any]:
        """The first live model of this kind (waiting for it)."""
        found: dict[str, Any] = await self.wait_for(
            lambda: next((m for m in self.models().values()
                          if m["state"].get("_model_name") == model_name
                          or m.get("model_name") == model_name), None),
            f"a {model_name}", timeout)
        return found

    async def send_raw(self, frame: str | bytes) -> None:
        await self.socket.send(frame)

    async def send(self, comm_id: str, data: dict[str, Any],
                   buffers: list[bytes] | None = None) -> tuple[int, str]:
        """A ``send`` as the page's widget manager makes it; its ``(ref, msg_id)``."""
        self._next_ref += 1
        msg_id = uuid.uuid4().hex
        await self.send_raw(encode_frame({"type": "send", "ref": self._next_ref,
                                          "msg_id": msg_id, "comm_id": comm_id,
                                          "data": data}, buffers))
        return self._next_ref, msg_id

    async def update(self, comm_id: str, state: dict[str, Any]) -> tuple[int, str]:
        return await self.send(comm_id, {"method": "update", "state": state,
                                         "buffer_paths": []})

    async def refusal(self, ref: int | None, timeout: float = 30) -> dict[str, Any]:
        return await self.frame("refused", lambda f: f.get("ref") == ref,
                                f"a refusal of ref {ref}", timeout)

    async def close(self) -> None:
        await self.socket.close()
        await self._reader


def _short(frame: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in frame.items() if k != "_buffers"}, default=repr)
    return text if len(text) < 300 else text[:300] + "..."


def widgets_url(ws_url: str, room: str, token: str | None = None) -> str:
    suffix = f"?token={quote(token)}" if token else ""
    return f"{ws_url}api/huddle/widgets/{quote(room, safe=':')}{suffix}"


@asynccontextmanager
async def open_page(url: str, headers: dict[str, str] | None = None
                    ) -> AsyncIterator[WidgetPage]:
    async with websockets.connect(url, additional_headers=headers or {},
                                  max_size=None) as socket:
        page = WidgetPage(socket)
        try:
            yield page
        finally:
            await page.close()


@asynccontextmanager
async def owner_page(huddle: Any, room: str) -> AsyncIterator[WidgetPage]:
    async with open_page(widgets_url(huddle.ws_url, room, huddle.token)) as page:
        yield page


@asynccontextmanager
async def guest_page(guest: Browser, room: str) -> AsyncIterator[WidgetPage]:
    url = widgets_url(guest.huddle.ws_url, room)
    async with open_page(url, {"Cookie": guest.cookie_header()}) as page:
        yield page


async def run(huddle: Any, kernel_id: str, room: str, doc: YClient, index: int) -> None:
    """Run cell ``index`` as its owner and wait until it is done."""
    response = await huddle.request("POST", f"api/kernels/{kernel_id}/execute", {
        "document_id": room, "cells": [{"cell_id": doc.cells[index]["id"]}]})
    assert response.code == 202, response.body
    before = doc.cells[index].get("execution_count")
    try:
        await doc.wait_for(lambda: doc.cells[index].get("execution_state") == "idle"
                           and doc.cells[index].get("execution_count") not in (None, before),
                           timeout=60)
    except TimeoutError:
        raise AssertionError(f"cell {index} not done: {doc.cells[index].to_py()}") from None
