"""The widget core (kernels/widgets): frames from pages, the models a kernel keeps, Output
capture, the hub's fan-out and the service's pages, limits and saving — on fake kernels
and a real notebook document."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.room import Room
from jupyter_huddle.kernels.widgets.capture import CapturedOutputs
from jupyter_huddle.kernels.widgets.frames import (
    KERNEL_MSG_PREFIX,
    FrameError,
    decode_browser_frame,
    encode,
)
from jupyter_huddle.kernels.widgets.hub import SERVER_MSG_PREFIX, WidgetHub
from jupyter_huddle.kernels.widgets.models import WidgetStates
from jupyter_huddle.kernels.widgets.service import STATE_MIME, WidgetService
from jupyter_huddle.kernels.widgets.settings import WidgetSettings
from tests.support.documents import code_notebook
from tests.support.fake_kernels import FakeKernels, FakeRooms

ROOM = DocumentRoomId("json", "notebook", "nb")
MSG_ID = "0123456789abcdef0123456789abcdef"


def decode(frame: str | bytes) -> tuple[dict[str, Any], list[bytes]]:
    """A server frame back into its message and buffers (the layout of docs/WIDGETS.md)."""
    if isinstance(frame, str):
        return json.loads(frame), []
    count, json_len = struct.unpack_from(">II", frame)
    lengths = struct.unpack_from(f">{count}I", frame, 8)
    at = 8 + 4 * count
    message = json.loads(frame[at:at + json_len])
    at += json_len
    buffers = []
    for length in lengths:
        buffers.append(frame[at:at + length])
        at += length
    return message, buffers


def send(comm_id: str = "c1", method: str = "update", ref: int = 1,
         **data: Any) -> str:
    body = {"method": method, **data}
    if method == "update" and "state" not in data:
        body["state"] = {"value": 7}
    return json.dumps({"type": "send", "ref": ref, "msg_id": MSG_ID, "comm_id": comm_id,
                       "data": body})


def slider_open(comm_id: str = "c1", value: int = 3) -> dict[str, Any]:
    return {"msg_type": "comm_open", "parent_header": {"msg_id": "exec-1"},
            "content": {"comm_id": comm_id, "target_name": "jupyter.widget",
                        "data": {"state": {"_model_name": "IntSliderModel",
                                           "_model_module": "@jupyter-widgets/controls",
                                           "_model_module_version": "2.0.0",
                                           "value": value},
                                 "buffer_paths": []}}}


def output_open(comm_id: str = "out") -> dict[str, Any]:
    return {"msg_type": "comm_open", "parent_header": {"msg_id": "exec-1"},
            "content": {"comm_id": comm_id, "target_name": "jupyter.widget",
                        "data": {"state": {"_model_name": "OutputModel",
                                           "_model_module": "@jupyter-widgets/output",
                                           "_model_module_version": "1.0.0",
                                           "msg_id": "", "outputs": []}}}}


def comm_msg(comm_id: str, data: dict[str, Any], parent: str = "exec-1",
             buffers: list[bytes] | None = None) -> dict[str, Any]:
    return {"msg_type": "comm_msg", "parent_header": {"msg_id": parent},
            "content": {"comm_id": comm_id, "data": data}, "buffers": buffers or []}


def stream(text: str, parent: str) -> dict[str, Any]:
    return {"msg_type": "stream", "parent_header": {"msg_id": parent},
            "content": {"name": "stdout", "text": text}}


class Recorder:
    """A page: what the hub delivered to it, decoded; and a peer for the service."""

    def __init__(self) -> None:
        self.room_id = ROOM
        self.hub: WidgetHub | None = None
        self.frames: list[tuple[dict[str, Any], list[bytes]]] = []
        self.closed: tuple[int, str] | None = None

    def deliver(self, frame: str | bytes) -> None:
        self.frames.append(decode(frame))

    send = deliver

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m, _ in self.frames if m["type"] == kind]


# --- frames -----------------------------------------------------------------------------


def test_a_page_update_is_checked_and_its_id_prefixed_for_the_kernel() -> None:
    message = decode_browser_frame(send(), 1000)
    assert (message.comm_id, message.method, message.data["state"]) == ("c1", "update",
                                                                         {"value": 7})
    assert message.kernel_msg_id == KERNEL_MSG_PREFIX + MSG_ID


@pytest.mark.parametrize(("frame", "says"), [
    ("{", "not JSON"),
    ("[1]", "JSON object"),
    (json.dumps({"type": "comm_open"}), "only send"),
    (send().replace(MSG_ID, "x"), "msg_id"),
    (send(comm_id="../../etc"), "comm_id"),
    (send(method="comm_close"), "not one a page may send"),
    (send(state={}), "non-empty 'state'"),
    (send(state={"v": 1}, buffer_paths=[["v"]]), "one path per buffer"),
    (send(method="custom"), "'content'"),
    (json.dumps({"type": "send", "ref": "one", "msg_id": MSG_ID, "comm_id": "c",
                 "data": {"method": "update", "state": {"a": 1}}}), "'ref'"),
])
def test_hostile_frames_are_refused_with_a_reason(frame: str, says: str) -> None:
    with pytest.raises(FrameError, match=says):
        decode_browser_frame(frame, 10_000)


def test_an_oversized_frame_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(FrameError, match="larger than 100 bytes"):
        decode_browser_frame(send(state={"v": "x" * 200}), 100)


def test_binary_frames_carry_buffers_at_their_paths_and_bad_layouts_are_refused() -> None:
    body = {"type": "send", "ref": 2, "msg_id": MSG_ID, "comm_id": "img",
            "data": {"method": "update", "state": {"value": None}, "buffer_paths": [["value"]]}}
    frame = encode(body, [b"\x89PNG"])
    assert isinstance(frame, bytes)
    message = decode_browser_frame(frame, 10_000)
    assert message.buffers == [b"\x89PNG"]
    with pytest.raises(FrameError, match="do not add up"):
        decode_browser_frame(frame + b"x", 10_000)
    with pytest.raises(FrameError, match="at most 64 buffers"):
        decode_browser_frame(struct.pack(">II", 65, 0), 10_000)


# --- models -----------------------------------------------------------------------------


def test_models_are_bounded_in_count_and_in_bytes() -> None:
    states = WidgetStates(max_models=2, max_bytes=200)
    assert states.open("a", "jupyter.widget", {"v": 1}, {}) is not None
    assert states.open("b", "jupyter.widget", {"v": 1}, {}) is not None
    assert states.open("c", "jupyter.widget", {"v": 1}, {}) is None  # over the count
    assert len(states) == 2
    assert not states.update("a", {"big": "x" * 300}, {})  # over the bytes: dropped
    assert states.get("a") is None
    assert states.size == states.get("b").size  # type: ignore[union-attr]


def test_a_state_key_set_again_drops_its_old_buffers() -> None:
    states = WidgetStates(10, 10_000)
    states.open("img", "jupyter.widget", {"format": "png"}, {("value",): b"12345"})
    model = states.get("img")
    assert model is not None
    size = model.size
    states.update("img", {"value": "no longer binary"}, {})
    assert model.buffers == {}
    assert model.size == size - 5 + len('"no longer binary"')
    saved = states.saved_form()["state"]["img"]
    assert "buffers" not in saved
    assert saved["state"]["value"] == "no longer binary"


# --- Output capture ---------------------------------------------------------------------


def test_captured_streams_join_and_wait_clears_on_the_next_output() -> None:
    outputs = CapturedOutputs([], max_bytes=10_000)
    outputs.add("stream", {"name": "stdout", "text": "a"})
    outputs.add("stream", {"name": "stdout", "text": "b"})
    assert outputs.outputs == [{"output_type": "stream", "name": "stdout", "text": "ab"}]
    assert not outputs.add("clear_output", {"wait": True})
    assert outputs.outputs  # still shown until something replaces it
    outputs.add("display_data", {"data": {"text/plain": "x"}, "metadata": {}})
    assert [o["output_type"] for o in outputs.outputs] == ["display_data"]


def test_captured_outputs_keep_their_newest_within_the_bound() -> None:
    outputs = CapturedOutputs([], max_bytes=300)
    for i in range(50):
        outputs.add("display_data", {"data": {"text/plain": f"line {i}"}, "metadata": {}})
    assert outputs.outputs[-1]["data"]["text/plain"] == "line 49"
    assert len(json.dumps(outputs.outputs)) <= 300


# --- the hub ----------------------------------------------------------------------------


async def test_kernel_changes_reach_every_page_and_a_late_page_gets_the_state() -> None:
    hub = WidgetHub("k1", WidgetSettings())
    ada, bob = Recorder(), Recorder()
    hub.pages.update({ada, bob})
    hub.on_iopub(slider_open(value=3))
    hub.on_iopub(comm_msg("c1", {"method": "echo_update", "state": {"value": 7},
                                 "buffer_paths": []}, parent=KERNEL_MSG_PREFIX + MSG_ID))
    for page in (ada, bob):
        assert page.of_type("open")[0]["model"]["state"]["value"] == 3
        (update,) = page.of_type("update")
        assert (update["state"], update["parent_msg_id"]) == ({"value": 7}, MSG_ID)
    late, _ = decode(hub.snapshot(can_send=False))
    assert late["models"][0]["state"]["value"] == 7
    assert late["can_send"] is False
    hub.on_iopub(comm_msg("c1", {"method": "custom", "content": {"x": 1}}))
    assert ada.of_type("custom") == [{"type": "custom", "comm_id": "c1", "content": {"x": 1}}]
    hub.on_iopub({"msg_type": "comm_close", "content": {"comm_id": "c1"}})
    assert ada.of_type("close")
    assert len(hub.states) == 0


async def test_other_comms_are_not_shared() -> None:
    hub = WidgetHub("k1", WidgetSettings())
    page = Recorder()
    hub.pages.add(page)
    control = slider_open("ctl")
    control["content"]["target_name"] = "jupyter.widget.control"
    hub.on_iopub(control)
    assert page.frames == []
    assert len(hub.states) == 0


async def test_an_output_widget_takes_the_outputs_of_its_message_and_tells_the_kernel() -> None:
    hub = WidgetHub("k1", WidgetSettings())
    page = Recorder()
    hub.pages.add(page)
    sent: list[tuple[str, dict[str, Any], str]] = []

    def sender(comm: str, data: dict[str, Any], buffers: list[bytes], msg_id: str) -> bool:
        sent.append((comm, data, msg_id))
        return True
    hub.sender = sender
    hub.on_iopub(output_open())
    hub.on_iopub(comm_msg("out", {"method": "update", "state": {"msg_id": "slider-msg"}}))
    assert hub.on_iopub(stream("8\n", parent="slider-msg"))  # captured: not a cell's
    assert not hub.on_iopub(stream("x\n", parent="exec-2"))  # another message's: not
    await asyncio.sleep(0.1)  # the capture flush (50 ms) is a timer: let it run
    (update,) = [u for u in page.of_type("update") if "outputs" in u["state"]]
    assert update["state"]["outputs"] == [{"output_type": "stream", "name": "stdout",
                                           "text": "8\n"}]
    (to_kernel,) = sent
    assert to_kernel[1]["state"]["outputs"][0]["text"] == "8\n"
    assert to_kernel[2].startswith(SERVER_MSG_PREFIX)
    # the kernel's echo of what the server sent is not passed on again
    frames = len(page.frames)
    hub.on_iopub(comm_msg("out", {"method": "echo_update", "state": to_kernel[1]["state"]},
                          parent=to_kernel[2]))
    assert len(page.frames) == frames
    hub.on_iopub(comm_msg("out", {"method": "update", "state": {"msg_id": ""}}))
    assert not hub.on_iopub(stream("after\n", parent="slider-msg"))


async def test_a_restart_makes_every_widget_dead_and_refuses_sends() -> None:
    hub = WidgetHub("k1", WidgetSettings())
    page = Recorder()
    hub.pages.add(page)
    hub.sender = lambda *args: True
    hub.on_iopub(slider_open())
    hub.kernel_reset("the kernel was restarted by ada")
    assert page.of_type("dead") == [{"type": "dead",
                                     "reason": "the kernel was restarted by ada"}]
    assert hub.send(decode_browser_frame(send(), 10_000)) is not None


# --- the service ------------------------------------------------------------------------


class Env:
    def __init__(self, settings: WidgetSettings | None = None) -> None:
        self.kernels = FakeKernels()
        self.kernels.add("k1", ROOM)
        self.rooms = FakeRooms()
        self.room = self.rooms.add(Room(ROOM, code_notebook("x = 1"), CollabSettings()))
        self.service = WidgetService(settings or WidgetSettings(), self.kernels, self.rooms,
                                     lambda kernel_id: {ROOM})
        self.sent: list[tuple[str, dict[str, Any], str]] = []
        hub = self.service.hub("k1")
        hub.has_dispatcher = True
        hub.sender = self.send_to_kernel

    def send_to_kernel(self, comm: str, data: dict[str, Any], buffers: list[bytes],
                       msg_id: str) -> bool:
        self.sent.append((comm, data, msg_id))
        return True


async def test_pages_get_a_snapshot_and_only_runners_reach_the_kernel() -> None:
    env = Env()
    env.service.hub("k1").on_iopub(slider_open())
    runner, viewer = Recorder(), Recorder()
    runner_link = await env.service.attach(ROOM, runner, can_send=True)
    viewer_link = await env.service.attach(ROOM, viewer, can_send=False)
    (snapshot,) = runner.of_type("snapshot")
    assert (snapshot["kernel_id"], snapshot["can_send"]) == ("k1", True)
    assert snapshot["models"][0]["comm_id"] == "c1"
    runner_link.receive(send())
    assert env.sent == [("c1", {"method": "update", "state": {"value": 7}},
                         KERNEL_MSG_PREFIX + MSG_ID)]
    viewer_link.receive(send(ref=9))
    (refused,) = viewer.of_type("refused")
    assert refused["ref"] == 9
    assert "run cells" in refused["reason"]
    assert len(env.sent) == 1
    runner_link.receive(send(comm_id="nope"))
    assert "no live widget" in runner.of_type("refused")[0]["reason"]
    runner_link.detach()
    viewer_link.detach()
    assert env.service.pages == {}


async def test_a_flooding_page_is_refused_then_cut_off_and_others_carry_on() -> None:
    env = Env(WidgetSettings(messages_per_second=1, message_burst=3))
    env.service.hub("k1").on_iopub(slider_open())
    flooder, other = Recorder(), Recorder()
    link = await env.service.attach(ROOM, flooder, can_send=True)
    await env.service.attach(ROOM, other, can_send=True)
    for _ in range(3 + 4 * 3 + 1):
        link.receive(send())
    assert len(env.sent) == 3  # the burst went through, the rest was refused
    assert "slow down" in flooder.of_type("refused")[0]["reason"]
    assert flooder.closed is not None
    assert flooder.closed[0] == 1008
    env.service.hub("k1").on_iopub(comm_msg("c1", {"method": "update", "state": {"value": 1}}))
    assert other.of_type("update")
    assert not flooder.of_type("update")


async def test_a_page_waiting_for_a_kernel_moves_when_the_notebook_is_bound() -> None:
    env = Env()
    env.kernels.bound.clear()
    page = Recorder()
    await env.service.attach(ROOM, page, can_send=True)
    assert page.of_type("snapshot")[0]["kernel_id"] is None
    env.service.bind(ROOM, "k1")
    assert page.of_type("snapshot")[-1]["kernel_id"] == "k1"
    env.service.hub("k1").on_iopub(slider_open())
    assert page.of_type("open")
    env.service.kernel_gone("k1", "the kernel shut down")
    assert page.of_type("dead")
    assert "k1" not in env.service.hubs


async def test_the_live_state_is_written_into_the_notebook_metadata() -> None:
    env = Env(WidgetSettings(save_interval_s=0.01))
    hub = env.service.hub("k1")
    hub.on_iopub(slider_open(value=3))
    hub.on_iopub(comm_msg("c1", {"method": "echo_update", "state": {"value": 9}}))
    document = env.room.document
    assert isinstance(document, NotebookDocument)
    for _ in range(100):
        if document.meta["metadata"].get("widgets"):
            break
        await asyncio.sleep(0.01)
    saved = document.export()["metadata"]["widgets"][STATE_MIME]
    assert saved["version_major"] == 2
    assert saved["state"]["c1"]["state"]["value"] == 9
    assert saved["state"]["c1"]["model_name"] == "IntSliderModel"
    # a restart keeps the last saved state in the file (shown statically on reopen)
    hub.kernel_reset("restarted")
    await asyncio.sleep(0.05)
    assert document.export()["metadata"]["widgets"][STATE_MIME]["state"]["c1"]
