"""The server's own client of one kernel: sends executions, routes replies by parent.

It has a Session of its own (a distinct ZMQ identity): a client made with the manager's
session would share the identity of every browser's kernel websocket, and replies would
go to whichever connected last. A gateway kernel's client is the server's own websocket to
the gateway (``server/gateway_channels.py``), handed to ``KernelConnection`` the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

import zmq
import zmq.asyncio
from jupyter_client.session import Session

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0


class ExecutionListener(Protocol):
    """Receives the messages of one execution (matched by their parent message id)."""

    def on_iopub(self, msg_type: str, content: dict[str, Any]) -> None:
        """An iopub message (status, outputs, execute_input) of this execution."""

    def on_reply(self, content: dict[str, Any]) -> None:
        """The ``execute_reply``'s content."""

    def on_input_request(self, content: dict[str, Any]) -> None:
        """The kernel asks for input (``prompt``, ``password``)."""


# The kernel's execution state ("busy", "idle", "starting"; and from a gateway, "restarting"
# and "dead"), or ``CONNECTION_LOST`` once the connection's channels closed for good.
StatusListener = Callable[[str], None]
CONNECTION_LOST = "disconnected"


class ChannelClosed(Exception):
    """A read on a connection whose channels closed for good (a gateway's websocket ended):
    nothing more will come on it."""
# Sees every iopub message first; True: it took the message (an output an Output widget
# captured), which then goes to no execution.
IopubListener = Callable[[dict[str, Any]], bool]


class KernelChannel(Protocol):
    """What the dispatcher does with its connection to a kernel (a ``KernelConnection``,
    or a fake in unit tests)."""

    def execute(self, code: str, listener: ExecutionListener) -> str:
        """Send ``code`` to run; its messages go to ``listener``. Returns the message id."""

    def forget(self, msg_id: str) -> None:
        """Stop routing the messages of ``msg_id`` (its run is over)."""

    def input(self, value: str) -> None:
        """Answer the kernel's pending ``input()`` request."""

    def send_comm(self, comm_id: str, data: dict[str, Any], buffers: list[bytes],
                  msg_id: str) -> bool:
        """Send a ``comm_msg`` (a widget's) with this message id; whether it went."""

    async def close(self) -> None:
        """Stop reading and disconnect."""


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def is_gateway(kernel: Any) -> bool:
    """Whether ``kernel`` (a kernel manager) is a gateway's kernel (jupyter_server's
    ``GatewayKernelManager`` or a subclass)."""
    return any(cls.__name__.startswith("Gateway") for cls in type(kernel).__mro__)


def _client_of(kernel: Any) -> tuple[Any, Any]:
    """A client of ``kernel`` (a local one) with a session of its own, and the ZMQ
    context it uses (None when it is not a jupyter_client session's kernel)."""
    session = getattr(kernel, "session", None)
    if not isinstance(session, Session):
        return kernel.client(), None
    # Unbounded receive queues: when a cell floods output faster than the server reads
    # it, ZMQ would otherwise have the kernel drop messages for us past 1000 (outputs
    # lost, and a lost final "idle" would leave the run hanging). The kernel's flood then
    # queues in memory here, bounded by the output caps in effect as we write it out.
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.RCVHWM, 0)
    client = kernel.client(session=Session(
        key=session.key, signature_scheme=session.signature_scheme, username="huddle"),
        context=context)
    return client, context


class KernelConnection:
    """The server's connection to one kernel (a ``KernelChannel``): routes each message
    to the listener of the execution it belongs to. Its readers run from ``start()`` to
    ``close()``."""

    def __init__(self, kernel_id: str, client: Any, on_status: StatusListener,
                 on_any_iopub: IopubListener, context: Any = None) -> None:
        self.kernel_id = kernel_id
        self.client = client
        self._context = context
        self._on_status = on_status
        self._on_any_iopub = on_any_iopub
        self._listeners: dict[str, ExecutionListener] = {}
        self._readers: list[asyncio.Task[None]] = []
        # Why the channels closed for good (None while they are open).
        self.lost_reason: str | None = None

    @classmethod
    async def open(cls, kernel_manager: Any, kernel_id: str, on_status: StatusListener,
                   on_any_iopub: IopubListener) -> KernelConnection:
        """Connect to a running kernel: a started connection, to ``close()`` when done.

        Raises:
            KeyError: no such kernel.
            TimeoutError, RuntimeError: it did not answer in time.
        """
        client, context = _client_of(kernel_manager.get_kernel(kernel_id))
        return await cls.opened(kernel_id, client, on_status, on_any_iopub, context)

    @classmethod
    async def opened(cls, kernel_id: str, client: Any, on_status: StatusListener,
                     on_any_iopub: IopubListener, context: Any = None) -> KernelConnection:
        """A started connection over ``client`` (a jupyter_client kernel client, or one
        with its methods: a gateway's).

        Raises:
            TimeoutError, RuntimeError, ChannelClosed: it did not answer in time.
        """
        connection = cls(kernel_id, client, on_status, on_any_iopub, context)
        await connection.start()
        return connection

    async def start(self) -> None:
        """Open the channels, wait until the kernel answers, then start reading.

        Raises:
            TimeoutError, RuntimeError: it did not answer in time (the connection is
                closed again).
        """
        await _maybe_await(self.client.start_channels())
        try:
            # Before the readers start: it reads the shell channel for its own reply.
            await _maybe_await(self.client.wait_for_ready(timeout=READY_TIMEOUT_S))
        except BaseException:
            await self.close()
            raise
        client = self.client
        self._readers = [
            asyncio.create_task(self._read(client.get_iopub_msg, self._iopub)),
            asyncio.create_task(self._read(client.get_shell_msg, self._shell)),
            asyncio.create_task(self._read(client.get_stdin_msg, self._stdin)),
        ]

    def execute(self, code: str, listener: ExecutionListener) -> str:
        """Send ``code`` to run; its messages go to ``listener``. Returns the message id."""
        msg_id: str = self.client.execute(code, silent=False, store_history=True,
                                          allow_stdin=True, stop_on_error=False)
        self._listeners[msg_id] = listener
        return msg_id

    def forget(self, msg_id: str) -> None:
        """Stop routing the messages of ``msg_id``."""
        self._listeners.pop(msg_id, None)

    def input(self, value: str) -> None:
        """Answer the kernel's pending ``input()`` request."""
        self.client.input(value)

    def send_comm(self, comm_id: str, data: dict[str, Any], buffers: list[bytes],
                  msg_id: str) -> bool:
        """Send a ``comm_msg`` on the shell channel, as a frontend does, under
        ``msg_id`` (the kernel's replies and echoes name it as their parent). A gateway
        gateway's channel (no ZMQ socket) takes the buffers in the message and sends them
        in a binary websocket frame."""
        session, channel = self.client.session, self.client.shell_channel
        msg = session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        msg["header"]["msg_id"] = msg["msg_id"] = msg_id
        try:
            socket = getattr(channel, "socket", None)
            if socket is not None:
                session.send(socket, msg, buffers=buffers or None)
            else:
                channel.send({**msg, "buffers": buffers} if buffers else msg)
        except Exception as err:  # a closed channel: the caller refuses the message
            log.info("kernel %s: a widget message could not be sent: %s", self.kernel_id, err)
            return False
        return True

    async def close(self) -> None:
        """Stop the readers and the channels, and destroy the ZMQ context made for them."""
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._readers = []
        with contextlib.suppress(Exception):
            await _maybe_await(self.client.stop_channels())
        if self._context is not None:
            self._context.destroy(linger=0)
            self._context = None

    async def _read(self, get: Callable[[], Any],
                    handle: Callable[[dict[str, Any]], None]) -> None:
        while True:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except ChannelClosed as err:
                self._lost(str(err))
                return
            except Exception as err:  # a closed channel or an undecodable message
                log.debug("kernel %s channel read failed: %s", self.kernel_id, err)
                await asyncio.sleep(0.1)
                continue
            try:
                handle(msg)
            except Exception:  # one bad message must not stop the channel
                log.exception("handling a message from kernel %s failed", self.kernel_id)

    def _lost(self, reason: str) -> None:
        """Every reader sees the end; the dispatcher hears of it once."""
        if self.lost_reason is None:
            self.lost_reason = reason
            log.info("kernel %s: %s", self.kernel_id, reason)
            self._on_status(CONNECTION_LOST)

    def _listener(self, msg: dict[str, Any]) -> ExecutionListener | None:
        parent = msg.get("parent_header") or {}
        return self._listeners.get(parent.get("msg_id", ""))

    def _iopub(self, msg: dict[str, Any]) -> None:
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        content = msg.get("content") or {}
        if msg_type == "status":
            self._on_status(str(content.get("execution_state", "")))
        if self._on_any_iopub(msg):
            return
        listener = self._listener(msg)
        if listener is not None:
            listener.on_iopub(msg_type, content)

    def _shell(self, msg: dict[str, Any]) -> None:
        listener = self._listener(msg)
        if listener is not None and (msg.get("msg_type") or "").endswith("execute_reply"):
            listener.on_reply(msg.get("content") or {})

    def _stdin(self, msg: dict[str, Any]) -> None:
        listener = self._listener(msg)
        if listener is not None and msg.get("msg_type") == "input_request":
            listener.on_input_request(msg.get("content") or {})
