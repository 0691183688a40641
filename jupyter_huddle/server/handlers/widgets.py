"""``/api/huddle/widgets/{document_id}``: one notebook page's widget socket (docs/WIDGETS.md).

The handler authenticates and authorizes before the upgrade, attaches the socket to the
core's ``WidgetService`` and writes what the core sends, in order, through a bounded
queue. All protocol logic (snapshot, checks, refusals, rate limit, kernel traffic) lives
in ``kernels.widgets``; this module only moves frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ...collab.access.rights import Roles
from ...collab.access.roles import Capability
from ...collab.ids import DocumentRoomId
from ...collab.sync.close_codes import CloseCode, truncate_reason
from ...kernels.widgets.service import WidgetAttachment, WidgetService
from ...kernels.widgets.settings import WidgetSettings
from .. import ws_stream
from ..access import ServerAccess
from ..errors import open_close_code
from .ids import parse_document_id

log = logging.getLogger(__name__)

Closer = Callable[[int, str], None]


class PagePeer:
    """The core's view of one page (``WidgetPeer``): frames queue here until the handler's
    drain task writes them.

    At most ``limit`` frames wait: the core never waits for a page, so one that stops
    reading is cut off (``TRY_AGAIN_LATER``, as a room cuts a slow peer; it gets a fresh
    snapshot when it reconnects) instead of holding the server's memory without end.
    """

    def __init__(self, limit: int, on_close: Closer,
                 write_now: Callable[[str | bytes], bool] | None = None) -> None:
        self.limit = limit
        self.closed = False
        self._frames: deque[str | bytes] = deque()
        self._ready = asyncio.Event()
        self._on_close = on_close
        self._write_now = write_now

    def send(self, frame: str | bytes) -> None:
        """Queue one frame for the page (or write it at once when nothing waits before it
        and the socket is not behind); never blocks."""
        if self.closed:
            return
        if not self._frames and self._write_now is not None and self._write_now(frame):
            return
        if len(self._frames) >= self.limit:
            self._frames.clear()  # never written: the page will reload the snapshot
            self.close(CloseCode.TRY_AGAIN_LATER, "page too slow: widget queue full")
            return
        self._frames.append(frame)
        self._ready.set()

    def close(self, code: int, reason: str) -> None:
        """Cut the page off; frames already queued (a refusal, say) still go out first."""
        if not self.closed:
            self.closed = True
            self._on_close(code, reason)

    async def wait(self) -> None:
        """Until frames are queued."""
        await self._ready.wait()

    def take_all(self) -> list[str | bytes]:
        """Every queued frame, oldest first, leaving the queue empty."""
        frames = list(self._frames)
        self._frames.clear()
        self._ready.clear()
        return frames


class OpenPages:
    """The widget sockets open now, per notebook, so that a change of someone's rights
    cuts theirs as it cuts their room sockets (``collab.access.rights``): the rights a page
    may send with are decided once, when it attaches. Owned by the app, not the module."""

    def __init__(self, roles: Roles) -> None:
        self._roles = roles
        self._pages: dict[str, set[WidgetWebSocketHandler]] = {}

    def add(self, file_id: str, page: WidgetWebSocketHandler) -> None:
        self._pages.setdefault(file_id, set()).add(page)

    def discard(self, file_id: str, page: WidgetWebSocketHandler) -> None:
        pages = self._pages.get(file_id)
        if pages is not None:
            pages.discard(page)
            if not pages:
                del self._pages[file_id]

    def rights_changed(self, file_id: str, usernames: set[str]) -> None:
        """``AccessService.listeners``: close the pages of ``usernames`` on ``file_id``."""
        for page in list(self._pages.get(file_id, ())):
            user = page.current_user
            if user is None or str(user.username) not in usernames:
                continue
            role = self._roles.role_of(str(user.username), file_id,
                                       guest_id=getattr(user, "guest_id", None) or None)
            if role is None:
                page.cut(CloseCode.FORBIDDEN, "your access to this notebook ended")
            else:
                page.cut(CloseCode.RIGHTS_CHANGED, f"your role is now {role.value}; "
                         "reconnecting")


class WidgetWebSocketHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """One notebook page's widget socket (see the module docstring)."""

    auth_resource = "contents"

    def initialize(self, service: WidgetService | None, settings: WidgetSettings,
                   access: ServerAccess, pages: OpenPages) -> None:
        self.service = service
        self.widget_settings = settings
        self.access = access
        self.pages = pages
        self.room_id: DocumentRoomId | None = None
        self.peer: PagePeer | None = None
        self.attachment: WidgetAttachment | None = None
        self._writer: asyncio.Task[None] | None = None
        self._gone = False
        self._stream: IOStream | None = None
        self._draining = False

    @property
    def max_message_size(self) -> int:
        # Tornado cuts (1009) what is over twice the bound; between one and two times the
        # core answers with a ``refused`` frame and the page stays connected.
        return 2 * self.widget_settings.max_message_bytes

    @ws_authenticated
    async def get(self, document_id: str, *args: Any, **kwargs: Any) -> None:
        if self.service is None or not self.widget_settings.enabled:
            raise web.HTTPError(404, "live widgets are turned off on this server")
        self.room_id = parse_document_id(document_id)
        self.access.require(self, Capability.READ, self.room_id.file_id)
        await super().get(document_id, *args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # WebSocketMixin: server pings
        self.set_nodelay(True)  # a dragged slider's echo must not wait for more to send
        room_id, service = self.room_id, self.service
        assert room_id is not None  # set by get() before the upgrade
        assert service is not None  # (likewise checked there)
        # Frames go straight to Tornado's stream when they may (see ``ws_stream``): a
        # broadcast to a hundred pages is then a hundred small writes, not a hundred Tasks.
        self._stream = ws_stream.plain_stream(self.ws_connection)
        self.peer = PagePeer(self.widget_settings.max_pending_frames, self._close,
                             self._write_now if self._stream is not None else None)
        self._writer = asyncio.create_task(self._drain(self.peer))
        self.pages.add(room_id.file_id, self)
        can_send = self.access.allowed(self, Capability.EXECUTE, room_id.file_id)
        try:
            attachment = await service.attach(room_id, self.peer, can_send)
        except Exception as err:  # any failure closes this socket only, with its code
            log.info("widget socket for %s refused: %s", room_id, err)
            self.peer.close(open_close_code(err), f"widgets unavailable: {err}")
            return
        if self._gone:  # the page left while it attached
            attachment.detach()
        else:
            self.attachment = attachment

    def on_message(self, message: str | bytes) -> None:
        if self.attachment is not None and self.peer is not None and not self.peer.closed:
            self.attachment.receive(message)

    def on_close(self) -> None:
        self._gone = True
        if self.peer is not None:
            self.peer.closed = True
        if self.attachment is not None:
            self.attachment.detach()
            self.attachment = None
        if self.room_id is not None:
            self.pages.discard(self.room_id.file_id, self)
        if self._writer is not None:
            self._writer.cancel()

    def cut(self, code: int, reason: str) -> None:
        """Close this page's socket from the server's side (rights changed)."""
        if self.peer is not None:
            self.peer.close(code, reason)

    async def _drain(self, peer: PagePeer) -> None:
        """Write queued frames in order (text as text, bytes as binary), a batch at a time,
        waiting for each batch to leave before taking the next: the bounded queue, not
        Tornado's buffer, absorbs a page that reads slowly."""
        try:
            while True:
                await peer.wait()
                self._draining = True
                while frames := peer.take_all():
                    await self._write(frames)
                self._draining = False
        except (WebSocketClosedError, StreamClosedError):
            pass

    def _write_now(self, frame: str | bytes) -> bool:
        """The fast path: write at once if nothing is waiting to go out before it."""
        stream = self._stream
        if stream is None or self._draining or stream.writing() or stream.closed():
            return False
        payload, first_byte = ((frame, ws_stream.BINARY) if isinstance(frame, bytes)
                               else (_utf8(frame), ws_stream.TEXT))
        stream.write(ws_stream.binary_frame_header(len(payload), first_byte) + payload)
        return True

    def _write(self, frames: list[str | bytes]) -> asyncio.Future[None]:
        """Hand frames to Tornado; what resolves when the last has been sent (the earlier
        ones have then been sent too: a closed socket fails them all, and only the last is
        awaited)."""
        for frame in frames[:-1]:
            self.write_message(frame, binary=isinstance(frame, bytes)).add_done_callback(
                _retrieve)
        return self.write_message(frames[-1], binary=isinstance(frames[-1], bytes))

    def _close(self, code: int, reason: str) -> None:
        """The peer's close: what was queued before it goes out first (the refusals that
        led to a flood's 1008, say), then the close frame."""
        if self.ws_connection is None:
            return
        if self.peer is not None and (frames := self.peer.take_all()):
            with contextlib.suppress(WebSocketClosedError):  # closed already: nothing to send
                self._write(frames).add_done_callback(_retrieve)
        self.close(code, truncate_reason(reason))


_last_text: tuple[str, bytes] = ("", b"")


def _utf8(frame: str) -> bytes:
    """A text frame's bytes; a broadcast hands every page the same string, encoded once."""
    global _last_text
    if _last_text[0] is not frame:
        _last_text = (frame, frame.encode())
    return _last_text[1]


def _retrieve(future: asyncio.Future[None]) -> None:
    """Take a write's outcome that nobody awaits: a socket closed under it is no error."""
    if not future.cancelled():
        future.exception()
