"""A gateway kernel's connection: its websocket framing, its end, and what the dispatcher
does when a gateway says the kernel restarted or the connection closes for good."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    serialize_binary_message,
)

from jupyter_huddle.kernels.client import CONNECTION_LOST, ChannelClosed, KernelConnection
from jupyter_huddle.kernels.errors import UnknownKernel
from jupyter_huddle.kernels.requests import RequestState
from jupyter_huddle.server.gateway_channels import GatewayChannels, _binary, _decode
from tests.unit.test_dispatcher import KERNEL, request, started

# --- framing: Jupyter's binary websocket layout, as jupyter_server reads and writes it ----


def test_a_binary_frame_is_what_jupyter_server_reads() -> None:
    body = '{"header": {"msg_id": "m", "date": ""}, "parent_header": {}, "content": {"é": 1}}'
    frame = _binary(body, [b"\x00\x01", b"", b"buffer two"])
    msg = deserialize_binary_message(frame)
    assert msg["content"] == {"é": 1}
    assert [bytes(b) for b in msg["buffers"]] == [b"\x00\x01", b"", b"buffer two"]


def test_a_frame_jupyter_server_writes_is_decoded_with_its_buffers() -> None:
    frame = serialize_binary_message({"header": {}, "parent_header": {}, "channel": "iopub",
                                      "content": {"x": "ü"}, "buffers": [b"abc", b"\xff"]})
    msg = _decode(frame)
    assert msg["content"] == {"x": "ü"}
    assert msg["channel"] == "iopub"
    assert [bytes(b) for b in msg["buffers"]] == [b"abc", b"\xff"]
    assert _decode('{"channel": "shell", "content": {}}')["channel"] == "shell"
    with pytest.raises(ValueError, match="not a message"):
        _decode("[1, 2]")


# --- the end of a connection -------------------------------------------------------------


async def test_every_read_after_the_end_raises_channel_closed() -> None:
    channels = GatewayChannels("k", gateway=object())  # type: ignore[arg-type]
    channels._end("the connection to the kernel gateway closed (code 1006)")
    for get in (channels.get_iopub_msg, channels.get_shell_msg, channels.get_iopub_msg):
        with pytest.raises(ChannelClosed, match="code 1006"):
            await get()
    with pytest.raises(ChannelClosed):
        channels.execute("1")


class _ClosedClient:
    """A client whose channels have closed: every read says so at once."""

    async def get_iopub_msg(self) -> Any:
        raise ChannelClosed("the connection to the kernel gateway closed")

    get_shell_msg = get_stdin_msg = get_iopub_msg

    def stop_channels(self) -> None:
        pass


async def test_a_closed_connection_is_reported_once_and_its_readers_stop() -> None:
    statuses: list[str] = []
    connection = KernelConnection("k", _ClosedClient(), statuses.append, lambda msg: False)
    connection._readers = [asyncio.create_task(connection._read(get, lambda msg: None))
                           for get in (_ClosedClient().get_iopub_msg,) * 3]
    await asyncio.wait_for(asyncio.gather(*connection._readers), 5)  # they end, not spin
    assert statuses == [CONNECTION_LOST]
    assert connection.lost_reason == "the connection to the kernel gateway closed"
    await connection.close()


# --- the dispatcher: a restart or a lost connection ends what runs, not the queue --------


async def test_a_restart_said_by_the_gateway_aborts_the_run_and_the_queue() -> None:
    async with started() as setup:
        held, behind = request("c0", "hold"), request("c1", "behind", batch="b2")
        setup.submit(held, behind)
        await setup.kernel.running("hold")
        first = setup.kernels.channels[-1]
        first.on_status("restarting")  # as the gateway's websocket says after a crash
        await setup.hooks.finished(held, behind)
        assert held.state is RequestState.ABORTED
        assert "restarted" in held.reason
        assert behind.state is RequestState.ABORTED
        assert setup.doc.cells[0]["execution_state"] == "idle"
        # connected again in the background: the status says the kernel is back
        await setup.hooks.signal.wait_for(lambda: setup.hooks.statuses[-1:] == ["idle"])
        assert "restarting" in setup.hooks.statuses
        assert first.closed
        again = request("c2", "again", batch="b3")
        setup.submit(again)
        await setup.hooks.finished(again)
        assert again.state is RequestState.DONE


async def test_a_lost_connection_says_so_and_the_status_follows_the_way_back() -> None:
    async with started() as setup:
        held = request("c0", "hold")
        setup.submit(held)
        await setup.kernel.running("hold")
        setup.kernels.failing_connects = 2  # away for a moment
        setup.kernels.channels[-1].on_status(CONNECTION_LOST)
        await setup.hooks.finished(held)
        assert held.state is RequestState.ABORTED
        assert held.reason.startswith("the connection to the kernel was lost")
        await setup.hooks.signal.wait_for(lambda: setup.hooks.statuses[-1:] == ["idle"])
        assert CONNECTION_LOST in setup.hooks.statuses
        assert setup.kernels.failing_connects == 0


async def test_a_kernel_gone_from_its_gateway_is_not_waited_for() -> None:
    async with started() as setup:
        attempts = []

        async def gone(kernel_id: str, on_status: Any, on_any_iopub: Any) -> Any:
            attempts.append(kernel_id)
            raise UnknownKernel(f"kernel {kernel_id} is gone from its gateway")

        setup.hooks.connect = gone  # type: ignore[method-assign]
        doomed = request("c0", "x")
        setup.submit(doomed)
        await setup.hooks.finished(doomed)
        assert attempts == [KERNEL]  # not tried again until the connect timeout
        assert doomed.state is RequestState.ABORTED
        assert doomed.reason == f"the kernel is not available: kernel {KERNEL} is gone " \
                                "from its gateway"
