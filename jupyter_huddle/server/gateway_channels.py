"""The server's own channels to a kernel on a Jupyter (Enterprise) Gateway.

jupyter_server's ``GatewayKernelClient`` cannot serve as the server's client of a gateway
kernel: it connects with a blocking ``websocket-client`` call on the event loop, sends no
``Authorization`` header (a gateway with a token refuses it), reads in a thread, and its
queues' ``get_msg`` spins on ``asyncio.sleep(0)`` until a message comes, keeping a core busy
for every idle kernel. This is the same client on one Tornado websocket (the gateway's
``/api/kernels/<id>/channels``, Jupyter's JSON protocol with binary frames for buffers),
with the methods ``kernels.client.KernelConnection`` uses, and a clear end: once the socket
closes, every read raises ``ChannelClosed``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import struct
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.utils import url_escape, url_path_join
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from ..kernels.client import ChannelClosed

log = logging.getLogger(__name__)
CHANNELS = ("shell", "iopub", "stdin", "control")
# A gateway that vanishes without closing the socket (a network partition, a frozen host)
# is noticed by pings: no pong within the timeout closes the socket, and the runs on it end
# with a clear error instead of waiting forever. Tornado wants the timeout no longer than
# the interval, and gives the close handshake 5 s more: noticed within 25 s.
PING_INTERVAL_S = 10.0
PING_TIMEOUT_S = 10.0
# Replies to our kernel_info request while waiting for the kernel: at most this many other
# shell messages are skipped (a bound on a confused gateway, not a rate).
_MAX_SKIPPED = 1000


class _Channel:
    """One channel of the socket: what the kernel sent on it, and sending on it."""

    def __init__(self, name: str, owner: GatewayChannels) -> None:
        self.name = name
        self._owner = owner
        # Unbounded like the local client's ZMQ queue (RCVHWM 0): a flood waits here, bounded
        # by the output caps as it is written out.
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def send(self, msg: dict[str, Any]) -> None:
        """Send ``msg`` on this channel (its ``buffers``, if any, in a binary frame)."""
        self._owner.send(self.name, msg)


class GatewayChannels:
    """Every channel of one gateway kernel over one websocket, with the part of
    ``jupyter_client``'s ``AsyncKernelClient`` the server uses. ``start_channels()``, then
    ``stop_channels()``."""

    def __init__(self, kernel_id: str, gateway: GatewayClient | None = None) -> None:
        self.kernel_id = kernel_id
        self._gateway = gateway or GatewayClient.instance()
        self.session = Session(username="huddle")
        self._channels = {name: _Channel(name, self) for name in CHANNELS}
        self._ws: WebSocketClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.closed_reason: str | None = None

    @property
    def shell_channel(self) -> _Channel:
        return self._channels["shell"]

    def _url(self) -> str:
        gateway = self._gateway
        return url_path_join(gateway.ws_url or "", gateway.kernels_endpoint,
                             url_escape(self.kernel_id), "channels")

    async def start_channels(self) -> None:
        """Open the websocket (with the gateway's headers and timeouts, its token included).

        Raises:
            tornado.httpclient.HTTPClientError, OSError: the gateway refused or is down.
        """
        args: dict[str, Any] = self._gateway.load_connection_args()  # type: ignore[no-untyped-call]
        # The websocket stays open for the kernel's lifetime: no request timeout on it.
        args.pop("request_timeout", None)
        self._ws = await websocket_connect(HTTPRequest(self._url(), **args),
                                           ping_interval=PING_INTERVAL_S,
                                           ping_timeout=PING_TIMEOUT_S,
                                           # a kernel's output, bounded by the output caps
                                           # as it is written out (as ZMQ's is)
                                           max_message_size=1 << 30)
        self._reader = asyncio.create_task(self._read())

    async def wait_for_ready(self, timeout: float) -> None:
        """Ask for ``kernel_info`` until the kernel answers (it may still be starting).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            ChannelClosed: the socket closed meanwhile.
        """
        async with asyncio.timeout(timeout):
            while True:
                msg = self.session.msg("kernel_info_request", {})
                self.send("shell", msg)
                try:
                    # asked again each second, as jupyter_client does
                    async with asyncio.timeout(1.0):
                        if await self._reply_to(msg["header"]["msg_id"]):
                            break
                except TimeoutError:
                    continue
        # what came on iopub while waiting (the starting kernel's statuses) is not news
        _drain(self._channels["iopub"].queue)

    async def _reply_to(self, msg_id: str) -> bool:
        for _ in range(_MAX_SKIPPED):
            msg = await self.get_shell_msg()
            if (msg.get("parent_header") or {}).get("msg_id") == msg_id:
                return True
        return False

    async def get_iopub_msg(self) -> dict[str, Any]:
        return await self._get("iopub")

    async def get_shell_msg(self) -> dict[str, Any]:
        return await self._get("shell")

    async def get_stdin_msg(self) -> dict[str, Any]:
        return await self._get("stdin")

    async def _get(self, channel: str) -> dict[str, Any]:
        """The next message of ``channel``.

        Raises:
            ChannelClosed: the socket closed (this and every later read).
        """
        queue = self._channels[channel].queue
        msg = await queue.get()
        if msg is None:
            queue.put_nowait(None)  # every later read sees the end too
            raise ChannelClosed(self.closed_reason or "the gateway connection closed")
        return msg

    def execute(self, code: str, silent: bool = False, store_history: bool = True,
                allow_stdin: bool = True, stop_on_error: bool = True) -> str:
        """Send an ``execute_request``; its message id."""
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": {}, "allow_stdin": allow_stdin,
                   "stop_on_error": stop_on_error}
        msg = self.session.msg("execute_request", content)
        self.send("shell", msg)
        return str(msg["header"]["msg_id"])

    def input(self, value: str) -> None:
        """Answer the kernel's ``input_request``."""
        self.send("stdin", self.session.msg("input_reply", {"value": value}))

    def send(self, channel: str, msg: dict[str, Any]) -> None:
        """Write ``msg`` to the socket for ``channel``.

        Raises:
            ChannelClosed: the socket is closed.
        """
        if self._ws is None or self.closed_reason is not None:
            raise ChannelClosed(self.closed_reason or "not connected to the gateway")
        frame = {**msg, "channel": channel}
        buffers = [bytes(b) for b in frame.pop("buffers", None) or []]
        frame["msg_id"] = msg["header"]["msg_id"]
        frame["msg_type"] = msg["header"]["msg_type"]
        body = json.dumps(frame, default=json_default)
        # (a write to a socket closing under us is seen by the reader, which ends it)
        self._ws.write_message(_binary(body, buffers) if buffers else body,
                               binary=bool(buffers))

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            while True:
                frame = await ws.read_message()
                if frame is None:
                    break
                try:
                    msg = _decode(frame)
                except (ValueError, struct.error) as err:  # one bad frame, not the kernel's end
                    log.warning("kernel %s: an undecodable gateway frame: %s", self.kernel_id,
                                err)
                    continue
                channel = self._channels.get(str(msg.get("channel")))
                if channel is not None:
                    channel.queue.put_nowait(msg)
        finally:
            self._end(f"the connection to the kernel gateway closed"
                      f"{_close_detail(ws)}")

    def _end(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            for channel in self._channels.values():
                channel.queue.put_nowait(None)

    def stop_channels(self) -> None:
        """Close the socket; reads end with ``ChannelClosed``."""
        self._end("the connection was closed by the server")
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.cancel()


def _binary(body: str, buffers: list[bytes]) -> bytes:
    """Jupyter's binary websocket frame: part count, offsets, the JSON, the buffers."""
    parts = [body.encode(), *buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f"!{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)


def _decode(frame: str | bytes) -> dict[str, Any]:
    """A message from a text frame, or a binary one with buffers.

    Raises:
        ValueError: not a message.
    """
    if isinstance(frame, str):
        msg = json.loads(frame)
        if not isinstance(msg, dict):
            raise ValueError("not a message")
        return msg
    (count,) = struct.unpack("!I", frame[:4])
    offsets = [*struct.unpack(f"!{count}I", frame[4:4 * (count + 1)]), len(frame)]
    parts = [frame[start:stop] for start, stop in itertools.pairwise(offsets)]
    msg = json.loads(parts[0])
    msg["buffers"] = parts[1:]
    return dict(msg)


def _drain(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while not queue.empty():
        if queue.get_nowait() is None:
            queue.put_nowait(None)
            return


def _close_detail(ws: WebSocketClientConnection) -> str:
    code, reason = ws.close_code, ws.close_reason
    return f" (code {code}{': ' + reason if reason else ''})" if code else ""
