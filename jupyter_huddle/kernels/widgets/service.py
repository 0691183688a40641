"""The widget API the websocket handler adapts: pages attach to a notebook, get its
kernel's widget state, and (with ``execute``) send to its widgets; changed state is
written into the notebook's metadata so the saved file shows it.

Pages follow their notebook, not a kernel: a page that attached before the notebook had
a kernel, or whose notebook moved to another kernel, is handed a fresh snapshot when the
execution service binds the notebook to its kernel (``bind``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ...collab.documents.notebook import NotebookDocument
from ...collab.ids import DocumentRoomId
from ..cells import KERNEL
from ..settings import KernelAccess, RoomAccess
from .frames import FrameError, decode_browser_frame, encode
from .hub import WidgetHub
from .settings import WidgetSettings

log = logging.getLogger(__name__)

STATE_MIME = "application/vnd.jupyter.widget-state+json"
POLICY_VIOLATION = 1008
NO_SEND = "only people who may run cells can use widgets"


class WidgetPeer(Protocol):
    """A page's socket as the transport gives it."""

    def send(self, frame: str | bytes) -> None:
        """Queue one frame for the page (never blocks)."""

    def close(self, code: int, reason: str) -> None:
        """Cut the page off."""


class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class WidgetAttachment:
    """One page on one notebook's widgets (a ``hub.Page``)."""

    def __init__(self, service: WidgetService, room_id: DocumentRoomId, peer: WidgetPeer,
                 can_send: bool) -> None:
        self.service = service
        self.room_id = room_id
        self.peer = peer
        self.can_send = can_send
        self.hub: WidgetHub | None = None
        settings = service.settings
        self._bucket = TokenBucket(settings.messages_per_second, settings.message_burst)
        self._refused_in_row = 0
        self.closed = False

    def deliver(self, frame: str | bytes) -> None:
        if not self.closed:
            self.peer.send(frame)

    def receive(self, frame: str | bytes) -> None:
        """A frame from the page: sent on to the kernel, or refused with a reason."""
        if self.closed:
            return
        settings = self.service.settings
        try:
            message = decode_browser_frame(frame, settings.max_message_bytes)
        except FrameError as err:
            self._refuse(err.ref, str(err))
            return
        if not self.can_send:
            self._refuse(message.ref, NO_SEND)
        elif not self._bucket.take():
            self._refuse(message.ref, f"more than {settings.messages_per_second:g} widget "
                         "messages a second: slow down")
        elif self.hub is None:
            self._refuse(message.ref, "this notebook has no kernel")
        elif (reason := self.hub.send(message)) is not None:
            self._refuse(message.ref, reason)
        else:
            self._refused_in_row = 0

    def _refuse(self, ref: int | None, reason: str) -> None:
        self._refused_in_row += 1
        if self._refused_in_row > 4 * self.service.settings.message_burst:
            log.info("cutting off a widget page of %s: %d refused messages in a row",
                     self.room_id, self._refused_in_row)
            self.detach()
            self.peer.close(POLICY_VIOLATION, "too many refused widget messages")
            return
        self.deliver(encode({"type": "refused", "ref": ref, "reason": reason}))

    def detach(self) -> None:
        """The page went: stop sending to it."""
        if not self.closed:
            self.closed = True
            self.service.detach(self)


class WidgetService:
    """Every kernel's widget hub and the pages watching them (see the module docstring).

    Bounded by what it serves: one hub per kernel (dropped with the kernel, or when no
    page, model or dispatcher needs it), one attachment per open page socket.
    """

    def __init__(self, settings: WidgetSettings, kernels: KernelAccess, rooms: RoomAccess,
                 kernel_rooms: Callable[[str], set[DocumentRoomId]]) -> None:
        self.settings = settings
        self.kernels = kernels
        self.rooms = rooms
        self._kernel_rooms = kernel_rooms
        self.hubs: dict[str, WidgetHub] = {}
        self.pages: dict[DocumentRoomId, set[WidgetAttachment]] = {}
        self._saves: dict[str, asyncio.TimerHandle] = {}

    def hub(self, kernel_id: str) -> WidgetHub:
        """The kernel's hub, made on first use."""
        hub = self.hubs.get(kernel_id)
        if hub is None:
            hub = self.hubs[kernel_id] = WidgetHub(kernel_id, self.settings, self._changed)
        return hub

    async def attach(self, room_id: DocumentRoomId, peer: WidgetPeer,
                     can_send: bool) -> WidgetAttachment:
        """A page of the notebook: it gets the snapshot at once, then every change."""
        page = WidgetAttachment(self, room_id, peer, can_send)
        self.pages.setdefault(room_id, set()).add(page)
        try:
            kernel_id = await self.kernels.kernel_for(room_id)
        except Exception as err:  # a failing session lookup: the page waits for a bind
            log.info("no kernel for %s's widgets: %s", room_id, err)
            kernel_id = None
        if not page.closed:
            self._place(page, kernel_id)
        return page

    def bind(self, room_id: DocumentRoomId, kernel_id: str) -> None:
        """The notebook runs on this kernel (the execution service says so as it queues):
        its pages on another kernel, or none, move here with a fresh snapshot."""
        for page in list(self.pages.get(room_id, ())):
            if page.hub is None or page.hub.kernel_id != kernel_id:
                self._place(page, kernel_id)

    def _place(self, page: WidgetAttachment, kernel_id: str | None) -> None:
        if page.hub is not None:
            page.hub.pages.discard(page)
            self._drop_if_unused(page.hub)
        if kernel_id is None:
            page.hub = None
            page.deliver(encode({"type": "snapshot", "kernel_id": None, "alive": False,
                                 "can_send": page.can_send, "models": []}))
            return
        hub = page.hub = self.hub(kernel_id)
        hub.pages.add(page)
        page.deliver(hub.snapshot(page.can_send))

    def detach(self, page: WidgetAttachment) -> None:
        pages = self.pages.get(page.room_id)
        if pages is not None:
            pages.discard(page)
            if not pages:
                del self.pages[page.room_id]
        if page.hub is not None:
            page.hub.pages.discard(page)
            self._drop_if_unused(page.hub)
            page.hub = None

    def _drop_if_unused(self, hub: WidgetHub) -> None:
        if not hub.pages and not len(hub.states) and not hub.has_dispatcher:
            self.hubs.pop(hub.kernel_id, None)

    def kernel_gone(self, kernel_id: str, reason: str) -> None:
        """The kernel shut down: its widgets are dead, its hub goes; pages stay attached
        to their notebooks, waiting for its next kernel."""
        hub = self.hubs.pop(kernel_id, None)
        timer = self._saves.pop(kernel_id, None)
        if timer is not None:
            timer.cancel()
        if hub is None:
            return
        hub.sender, hub.has_dispatcher = None, False
        hub.kernel_reset(reason)
        for page in list(hub.pages):
            page.hub = None
        hub.pages.clear()

    # --- saving into the notebook -----------------------------------------------------------

    def _changed(self, hub: WidgetHub) -> None:
        if hub.kernel_id not in self._saves and len(hub.states):
            self._saves[hub.kernel_id] = asyncio.get_running_loop().call_later(
                self.settings.save_interval_s, self._save, hub.kernel_id)

    def _save(self, kernel_id: str) -> None:
        """Write the kernel's live widget state into its open notebooks' metadata (so the
        next save of the file holds it). Not after a restart emptied it: the file keeps
        the last state, which a reopened notebook shows statically."""
        self._saves.pop(kernel_id, None)
        hub = self.hubs.get(kernel_id)
        if hub is None or not len(hub.states):
            return
        saved = {STATE_MIME: hub.states.saved_form()}
        size = len(json.dumps(saved, separators=(",", ":"), default=str))
        if size > self.settings.max_saved_state_bytes:
            log.warning("widget state of kernel %s (%d bytes) not written into its notebooks: "
                        "over widget_max_saved_state_bytes", kernel_id, size)
            return
        rooms = set(self._kernel_rooms(kernel_id))
        rooms.update(p.room_id for p in hub.pages)
        for room_id in rooms:
            room = self.rooms.get(room_id)
            document = room.document if room is not None else None
            if room is not None and isinstance(document, NotebookDocument):
                _write_state(room.doc, document, saved)

    def close(self) -> None:
        """Server shutdown: stop the save timers."""
        for timer in self._saves.values():
            timer.cancel()
        self._saves.clear()


def _write_state(doc: Any, document: NotebookDocument, saved: dict[str, Any]) -> None:
    metadata = document.meta.get("metadata")
    if metadata is None or _same_json(metadata.get("widgets"), saved):
        return
    with doc.transaction(origin=KERNEL):
        metadata["widgets"] = saved


def _same_json(stored: Any, saved: dict[str, Any]) -> bool:
    # the document holds numbers as floats: compare as JSON values, not as text
    return bool(stored == saved)
