"""One kernel's widgets: the state the kernel last sent, the pages that watch it, and the
path from those pages to the kernel.

The kernel is the authority: a page's change goes to the kernel, and only what the kernel
says (``update``, and ipywidgets 8's ``echo_update`` of what a page sent) changes the state
here and reaches the pages. So two people dragging one slider converge on what the
kernel last applied, and a page joining later gets exactly that.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from ...collab.ids import DocumentRoomId
from .capture import CapturedOutputs, CaptureRouter
from .frames import BrowserMessage, encode, parent_for_pages
from .models import WIDGET_TARGET, WidgetModel, WidgetStates, paired_buffers
from .settings import WidgetSettings

log = logging.getLogger(__name__)

# ids of the messages the server itself sends the kernel (captured outputs): their echoes
# are what the server already holds, and are not passed on
SERVER_MSG_PREFIX = "huddle-s-"
# How long captured outputs gather before one update carries them (a flood of prints
# becomes a few updates a second, not one per line).
CAPTURE_FLUSH_S = 0.05

# (comm id, data, buffers, kernel message id) -> whether it went out
KernelSender = Callable[[str, dict[str, Any], list[bytes], str], bool]


class Page(Protocol):
    """A page watching the hub (``service.WidgetAttachment``)."""

    room_id: DocumentRoomId
    hub: WidgetHub | None

    def deliver(self, frame: str | bytes) -> None:
        """Queue a frame for the page."""


class WidgetHub:
    """The widgets of one kernel (see the module docstring)."""

    def __init__(self, kernel_id: str, settings: WidgetSettings,
                 on_change: Callable[[WidgetHub], None] | None = None) -> None:
        self.kernel_id = kernel_id
        self.settings = settings
        self.states = WidgetStates(settings.max_models, settings.max_state_bytes)
        self.capture = CaptureRouter()
        self.pages: set[Page] = set()
        self.alive = True
        # set by the kernel's dispatcher while it has a connection
        self.sender: KernelSender | None = None
        # a dispatcher feeds this hub: it must not be replaced by another one
        self.has_dispatcher = False
        self._on_change = on_change
        self._captured: dict[str, CapturedOutputs] = {}
        self._flush: asyncio.TimerHandle | None = None

    # --- from the kernel --------------------------------------------------------------------

    def on_iopub(self, msg: dict[str, Any]) -> bool:
        """One iopub message of the kernel; True when it was an output an Output widget
        captured (it must not also go into a cell)."""
        header = msg.get("header") or {}
        msg_type = str(msg.get("msg_type") or header.get("msg_type") or "")
        content = msg.get("content") or {}
        parent = str((msg.get("parent_header") or {}).get("msg_id") or "")
        if msg_type.startswith("comm_"):
            self._comm_message(msg_type, content, list(msg.get("buffers") or []), parent)
            return False
        comm_id = self.capture.target(msg_type, parent)
        if comm_id is None:
            return False
        self._capture(comm_id, msg_type, content)
        return True

    def _comm_message(self, msg_type: str, content: dict[str, Any], raw: list[Any],
                      parent: str) -> None:
        comm_id = str(content.get("comm_id") or "")
        data = content.get("data") or {}
        buffers = [bytes(b) for b in raw]
        if msg_type == "comm_open":
            if content.get("target_name") != WIDGET_TARGET or not isinstance(data, dict):
                return  # other comms (the control comm, other libraries') are not shared
            self._opened(comm_id, data, buffers)
        elif msg_type == "comm_close":
            self._closed(comm_id)
        elif msg_type == "comm_msg" and isinstance(data, dict):
            self._kernel_message(comm_id, data, buffers, parent)

    def _opened(self, comm_id: str, data: dict[str, Any], buffers: list[bytes]) -> None:
        state = data.get("state")
        if not isinstance(state, dict):
            return
        model = self.states.open(comm_id, WIDGET_TARGET, state,
                                 paired_buffers(data.get("buffer_paths"), buffers))
        if model is None:
            return
        self.capture.state_changed(comm_id, model.model_name, model.state)
        description, model_buffers = _offset_paths(model, 0)
        self._broadcast({"type": "open", "model": description}, model_buffers)
        self._changed()

    def _closed(self, comm_id: str) -> None:
        self.capture.forget(comm_id)
        self._captured.pop(comm_id, None)
        if self.states.close(comm_id):
            self._broadcast({"type": "close", "comm_id": comm_id})
            self._changed()

    def _kernel_message(self, comm_id: str, data: dict[str, Any], buffers: list[bytes],
                        parent: str) -> None:
        method = data.get("method")
        model = self.states.get(comm_id)
        if model is None:
            return
        if method in ("update", "echo_update"):
            state = data.get("state")
            if not isinstance(state, dict):
                return
            if method == "echo_update" and parent.startswith(SERVER_MSG_PREFIX):
                return  # the echo of captured outputs the server sent: already held
            if not self.states.update(comm_id, state, paired_buffers(
                    data.get("buffer_paths"), buffers)):
                self._closed_for_size(comm_id)
                return
            self.capture.state_changed(comm_id, model.model_name, state)
            if "outputs" in state and comm_id in self._captured:
                self._captured[comm_id] = CapturedOutputs(
                    list(state["outputs"] or []), self.settings.max_state_bytes // 4)
            self._broadcast({"type": "update", "comm_id": comm_id, "method": method,
                             "state": state, "buffer_paths": data.get("buffer_paths") or [],
                             "parent_msg_id": parent_for_pages(parent)}, buffers)
            self._changed()
        elif method == "custom":
            self._broadcast({"type": "custom", "comm_id": comm_id,
                             "content": data.get("content")}, buffers)

    def _closed_for_size(self, comm_id: str) -> None:
        self.capture.forget(comm_id)
        self._captured.pop(comm_id, None)
        self._broadcast({"type": "close", "comm_id": comm_id})
        self._changed()

    # --- Output widgets ---------------------------------------------------------------------

    def _capture(self, comm_id: str, msg_type: str, content: dict[str, Any]) -> None:
        model = self.states.get(comm_id)
        if model is None:
            return
        captured = self._captured.get(comm_id)
        if captured is None:
            captured = self._captured[comm_id] = CapturedOutputs(
                list(model.state.get("outputs") or []), self.settings.max_state_bytes // 4)
        if captured.add(msg_type, content) and self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(
                CAPTURE_FLUSH_S, self._flush_captured)

    def _flush_captured(self) -> None:
        """Publish what Output widgets captured: to the pages, and to the kernel (whose
        ``out.outputs`` is then right, as it is with JupyterLab)."""
        self._flush = None
        for comm_id, captured in list(self._captured.items()):
            model = self.states.get(comm_id)
            if model is None or model.state.get("outputs") == captured.outputs:
                continue
            state = {"outputs": list(captured.outputs)}
            if not self.states.update(comm_id, state, {}):
                self._closed_for_size(comm_id)
                continue
            self._broadcast({"type": "update", "comm_id": comm_id, "method": "update",
                             "state": state, "buffer_paths": [], "parent_msg_id": None})
            if self.sender is not None:
                self.sender(comm_id, {"method": "update", "state": state,
                                      "buffer_paths": []}, [],
                            SERVER_MSG_PREFIX + uuid.uuid4().hex)
        self._changed()

    # --- from pages -------------------------------------------------------------------------

    def send(self, message: BrowserMessage) -> str | None:
        """Pass a checked page message on to the kernel; the reason if it cannot go."""
        if not self.alive:
            return "the kernel restarted: run the cell again to use this widget"
        model = self.states.get(message.comm_id)
        if model is None:
            return f"no live widget {message.comm_id}"
        if message.method == "request_state":
            return None  # the page has the server's snapshot; nothing to ask the kernel
        if self.sender is None:
            return "the server is not connected to the kernel"
        if not self.sender(message.comm_id, message.data, message.buffers,
                           message.kernel_msg_id):
            return "the message could not be sent to the kernel"
        return None

    def snapshot(self, can_send: bool) -> str | bytes:
        """Every live model, for a page that joins (or whose kernel changed)."""
        models: list[dict[str, Any]] = []
        buffers: list[bytes] = []
        for model in self.states:
            description, model_buffers = _offset_paths(model, len(buffers))
            models.append(description)
            buffers.extend(model_buffers)
        return encode({"type": "snapshot", "kernel_id": self.kernel_id, "alive": self.alive,
                       "can_send": can_send, "models": models}, buffers)

    # --- lifetime ---------------------------------------------------------------------------

    def kernel_reset(self, reason: str) -> None:
        """The kernel restarted, died or went: no model lives on; pages show them dead."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        had_models = len(self.states) > 0
        self.states.clear()
        self.capture.clear()
        self._captured.clear()
        if had_models:
            self._broadcast({"type": "dead", "reason": reason})
            self._changed()

    def _broadcast(self, message: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        if not self.pages:
            return
        frame = encode(message, buffers)  # encoded once, the same bytes to every page
        for page in list(self.pages):
            page.deliver(frame)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)


def _offset_paths(model: WidgetModel, first: int) -> tuple[dict[str, Any], list[bytes]]:
    """A model's description in a snapshot: its ``buffer_paths`` stay its own, and its
    buffers follow the earlier models' in the frame (``buffer_index`` says where)."""
    description, buffers = model.describe()
    description["buffer_index"] = first
    return description, buffers
