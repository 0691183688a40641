"""In-memory twins of what the execution core talks to: kernels (``KernelAccess`` and the
``KernelChannel`` a dispatcher runs code on), rooms (``RoomAccess``), and a signal to wait
on under a deadline instead of sleeping.

A ``FakeKernel`` runs "code" by script, always after the call that sent it returns (as a
real kernel answers on another socket):

- ``hold``: busy, then nothing until ``finish()``, an interrupt or a restart;
- ``input:<prompt>``: asks for input; the answer is printed as ``got <value>``;
- ``password:<prompt>``: asks as ``getpass`` does (a password prompt), prints ``got it``;
- ``1/0``: a ``ZeroDivisionError`` (error output and reply);
- ``lose reply``: busy then idle, and the reply never comes;
- ``lose idle``: the reply, and the final idle never comes;
- ``die``: the process is gone (``alive()`` is False), nothing more comes;
- anything else: prints the code and succeeds.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_huddle.collab.errors import DocumentNotFound
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.sync.room import Room
from jupyter_huddle.kernels.client import ExecutionListener, IopubListener, StatusListener


class Signal:
    """Wakes waiters whenever something changed; they check their condition again."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def notify(self) -> None:
        for event in self._events:
            event.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0,
                       what: str = "the condition") -> Any:
        """The first truthy ``predicate()``, checked after each notification; fails the
        test after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    event = asyncio.Event()
                    self._events.append(event)
                    try:
                        await event.wait()
                    finally:
                        self._events.remove(event)
                return value
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None


@dataclass(eq=False)
class FakeRun:
    """One execution inside a fake kernel."""

    kernel: FakeKernel
    channel: FakeChannel
    code: str
    msg_id: str
    generation: int
    replied: bool = False

    def send(self, msg_type: str, content: dict[str, Any]) -> None:
        """An iopub message of this run (dropped if the kernel restarted since)."""
        if self.generation == self.kernel.generation:
            self.channel.iopub(self.msg_id, msg_type, content)

    def stdout(self, text: str) -> None:
        self.send("stream", {"name": "stdout", "text": text})

    def reply(self, status: str = "ok", **content: Any) -> None:
        if self.generation == self.kernel.generation and not self.replied:
            self.replied = True
            self.channel.reply(self.msg_id, {"status": status,
                                             "execution_count": self.kernel.count, **content})

    def idle(self) -> None:
        self.send("status", {"execution_state": "idle"})
        if self.kernel.current is self:
            self.kernel.current = None

    def finish(self, status: str = "ok", **content: Any) -> None:
        """Reply, then go idle (what a kernel does at the end of a run)."""
        self.reply(status, **content)
        self.idle()

    def fail(self, ename: str, evalue: str = "") -> None:
        self.send("error", {"ename": ename, "evalue": evalue, "traceback": [ename]})
        self.finish("error", ename=ename, evalue=evalue)


class FakeKernel:
    """One kernel process: runs one thing at a time, counts executions from 1."""

    def __init__(self, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.alive = True
        self.count = 0
        self.generation = 0  # a restart starts a new one: older runs never answer
        self.current: FakeRun | None = None
        self.codes: list[str] = []
        self.inputs: list[str] = []
        # widget messages the server sent: (comm id, data, message id)
        self.comm_messages: list[tuple[str, dict[str, Any], str]] = []
        self.signal = Signal()  # notified as each run starts

    async def running(self, code: str, timeout: float = 5.0) -> FakeRun:
        """The run of ``code``, once the kernel has started it."""
        def current() -> FakeRun | None:
            run = self.current
            return run if run is not None and run.code == code else None

        run: FakeRun = await self.signal.wait_for(current, timeout, f"{code!r} to run")
        return run

    def run(self, run: FakeRun) -> None:
        """Script ``run`` (called soon after it was sent)."""
        if not self.alive:
            return
        self.count += 1
        self.codes.append(run.code)
        self.current = run
        run.send("status", {"execution_state": "busy"})
        run.send("execute_input", {"code": run.code, "execution_count": self.count})
        self._script(run)
        self.signal.notify()

    def _script(self, run: FakeRun) -> None:
        code = run.code
        if code == "hold":
            return
        if code.startswith(("input:", "password:")):
            kind, _, prompt = code.partition(":")
            run.channel.stdin(run.msg_id, {"prompt": prompt, "password": kind == "password"})
        elif code == "1/0":
            run.fail("ZeroDivisionError", "division by zero")
        elif code == "lose reply":
            run.idle()
        elif code == "lose idle":
            run.reply()
        elif code == "die":
            self.alive = False
        else:
            run.stdout(code + "\n")
            run.finish()

    def answer(self, value: str) -> None:
        """The stdin channel got ``value`` for the running ``input()``."""
        self.inputs.append(value)
        run = self.current
        if run is not None and run.code.startswith(("input:", "password:")):
            run.stdout("got it\n" if run.code.startswith("password:") else f"got {value}\n")
            run.finish()

    def interrupt(self) -> None:
        run = self.current
        if run is not None:
            run.fail("KeyboardInterrupt")

    def restart(self) -> None:
        self.generation += 1
        self.count = 0
        self.current = None
        self.alive = True


class FakeChannel:
    """A ``KernelChannel``: routes one kernel's messages as ``KernelConnection`` does."""

    _ids = itertools.count(1)

    def __init__(self, kernel: FakeKernel, on_status: StatusListener,
                 on_any_iopub: IopubListener) -> None:
        self.kernel = kernel
        self.on_status = on_status
        self.on_any_iopub = on_any_iopub
        self.listeners: dict[str, ExecutionListener] = {}
        self.closed = False

    def execute(self, code: str, listener: ExecutionListener) -> str:
        msg_id = f"msg-{next(self._ids)}"
        self.listeners[msg_id] = listener
        run = FakeRun(self.kernel, self, code, msg_id, self.kernel.generation)
        asyncio.get_running_loop().call_soon(self.kernel.run, run)
        return msg_id

    def forget(self, msg_id: str) -> None:
        self.listeners.pop(msg_id, None)

    def input(self, value: str) -> None:
        asyncio.get_running_loop().call_soon(self.kernel.answer, value)

    def send_comm(self, comm_id: str, data: dict[str, Any], buffers: list[bytes],
                  msg_id: str) -> bool:
        self.kernel.comm_messages.append((comm_id, data, msg_id))
        return not self.closed

    async def close(self) -> None:
        self.closed = True

    def iopub(self, msg_id: str, msg_type: str, content: dict[str, Any]) -> None:
        if self.closed:
            return
        if msg_type == "status":
            self.on_status(str(content.get("execution_state", "")))
        if self.on_any_iopub({"msg_type": msg_type, "content": content,
                              "parent_header": {"msg_id": msg_id}}):
            return
        listener = self.listeners.get(msg_id)
        if listener is not None:
            listener.on_iopub(msg_type, content)

    def reply(self, msg_id: str, content: dict[str, Any]) -> None:
        listener = self.listeners.get(msg_id)
        if listener is not None and not self.closed:
            listener.on_reply(content)

    def stdin(self, msg_id: str, content: dict[str, Any]) -> None:
        listener = self.listeners.get(msg_id)
        if listener is not None and not self.closed:
            listener.on_input_request(content)


@dataclass
class FakeKernels:
    """A ``KernelAccess``: fake kernels by id, and which notebook is bound to which."""

    kernels: dict[str, FakeKernel] = field(default_factory=dict)
    bound: dict[DocumentRoomId, str] = field(default_factory=dict)
    channels: list[FakeChannel] = field(default_factory=list)
    # How many connection attempts fail before one succeeds (a kernel coming back).
    failing_connects: int = 0
    actions: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kernel_id: str, *rooms: DocumentRoomId) -> FakeKernel:
        kernel = self.kernels[kernel_id] = FakeKernel(kernel_id)
        for room_id in rooms:
            self.bound[room_id] = kernel_id
        return kernel

    def exists(self, kernel_id: str) -> bool:
        return kernel_id in self.kernels

    async def kernel_for(self, room_id: DocumentRoomId) -> str | None:
        return self.bound.get(room_id)

    async def alive(self, kernel_id: str) -> bool:
        kernel = self.kernels.get(kernel_id)
        return kernel is not None and kernel.alive

    async def interrupt(self, kernel_id: str) -> None:
        self.actions.append(("interrupt", kernel_id))
        self.kernels[kernel_id].interrupt()

    async def restart(self, kernel_id: str) -> None:
        self.actions.append(("restart", kernel_id))
        self.kernels[kernel_id].restart()

    async def connect(self, kernel_id: str, on_status: StatusListener,
                      on_any_iopub: IopubListener) -> FakeChannel:
        kernel = self.kernels.get(kernel_id)
        if kernel is None or not kernel.alive:
            raise RuntimeError(f"kernel {kernel_id} is not running")
        if self.failing_connects > 0:
            self.failing_connects -= 1
            raise RuntimeError("the kernel is still starting")
        channel = FakeChannel(kernel, on_status, on_any_iopub)
        self.channels.append(channel)
        return channel


class FakeRooms:
    """A ``RoomAccess`` over rooms the test opened; counts leases and pins."""

    def __init__(self) -> None:
        self.rooms: dict[DocumentRoomId, Room] = {}
        self.held: Counter[DocumentRoomId] = Counter()

    def add(self, room: Room) -> Room:
        assert isinstance(room.id, DocumentRoomId)
        self.rooms[room.id] = room
        return room

    async def lease(self, room_id: DocumentRoomId) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise DocumentNotFound(f"no room {room_id}")
        self.held[room_id] += 1
        return room

    def pin(self, room_id: DocumentRoomId) -> bool:
        if room_id not in self.rooms:
            return False
        self.held[room_id] += 1
        return True

    def release(self, room_id: DocumentRoomId) -> None:
        self.held[room_id] -= 1
        assert self.held[room_id] >= 0, f"{room_id} released more often than held"

    def get(self, room_id: Any) -> Room | None:
        return self.rooms.get(room_id)
