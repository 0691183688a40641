"""``/api/collaboration/room/{room_id}``: a websocket adapter between Tornado and a Room.

The handler authenticates and authorizes before any room exists, turns the socket into a
core ``Connection``, drains that connection's outbox onto the socket, and maps core errors
to close codes. All protocol logic lives in ``collab.room``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ...collab.access.roles import Capability
from ...collab.errors import CollabError, ProtocolError
from ...collab.ids import DocumentRoomId, RoomId, parse_room_id
from ...collab.rooms.manager import RoomManager
from ...collab.settings import CollabSettings
from ...collab.sync.close_codes import CloseCode, truncate_reason
from ...collab.sync.connection import Connection, Permissions
from ...collab.sync.room import Room
from .. import ws_stream
from ..access import ServerAccess, user_info
from ..errors import frame_close_code, open_close_code, reload_reason

log = logging.getLogger(__name__)


class RoomWebSocketHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """One peer's socket on one room (see the module docstring)."""

    auth_resource = "contents"

    def initialize(self, manager: RoomManager, settings: CollabSettings,
                   access: ServerAccess) -> None:
        self.manager = manager
        self.access = access
        self.collab_settings = settings
        self.room_id: RoomId | None = None
        self.room: Room | None = None
        self.peer: Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stream: IOStream | None = None
        # True while the drain task writes queued frames: new frames queue behind them.
        self._draining = False
        self._raw_notebook = False

    @property
    def max_message_size(self) -> int:
        return self.collab_settings.max_frame_bytes

    @ws_authenticated
    async def get(self, raw_room_id: str, *args: Any, **kwargs: Any) -> None:
        if self.access.is_owner(self.current_user):
            self.access.require(self, Capability.READ, None)  # before parsing anything
        try:
            self.room_id = parse_room_id(raw_room_id)
        except CollabError as err:
            raise web.HTTPError(400, str(err)) from err
        # Presence rooms (JupyterLab's global awareness) are for owners only.
        self.access.require(self, Capability.READ, self._file_id)
        if self.manager.stale.refusing(self._tab_key()):
            # Told to reload moments ago (its copy is from another history): refused before
            # the upgrade, so the browser backs off instead of reconnecting at once.
            raise web.HTTPError(409, "this tab's copy is from an earlier history of the "
                                "document: reload the page")
        self._raw_notebook = await self._notebook_as_text()
        await super().get(raw_room_id, *args, **kwargs)

    def _tab_key(self) -> tuple[str, str, str]:
        return (str(self.current_user.username), str(self.room_id),
                self.get_query_argument("sessionId", "") or "")

    async def _notebook_as_text(self) -> bool:
        """A notebook opened as a text or JSON file room by someone who does not own it.

        Such a view edits the notebook's JSON directly, past cell locks, server-written
        review threads and save state: it is served read-only to everyone but owners.
        """
        room_id = self.room_id
        if not isinstance(room_id, DocumentRoomId) or room_id.type == "notebook" or (
                self.access.is_owner(self.current_user)):
            return False
        path = await self.manager.backend.path_for(room_id.file_id)
        return path is not None and path.lower().endswith(".ipynb")

    @property
    def _file_id(self) -> str | None:
        return self.room_id.file_id if isinstance(self.room_id, DocumentRoomId) else None

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # WebSocketMixin: server pings
        self.set_nodelay(True)  # a typing peer must not get every update one keystroke late
        assert self.room_id is not None  # set by get() before the upgrade
        self.peer = self._make_peer()
        # Frames go straight to Tornado's stream when they may (see ``ws_stream``).
        self._stream = ws_stream.plain_stream(self.ws_connection)
        if self._stream is not None:
            self.peer.attach_fast_path(self._write_now)
        if ws_stream.has_write_counters(ws_stream.any_stream(self.ws_connection)):
            self.peer.attach_backlog(self._backlog)
        self._writer = asyncio.create_task(self._drain(self.peer))
        try:
            self.room = await self.manager.join(self.room_id, self.peer, self.peer.session_id)
        except Exception as err:
            self._refuse(err)

    def _make_peer(self) -> Connection:
        can_write = self.access.allowed(self, Capability.EDIT, self._file_id) and (
            not self._raw_notebook)
        return Connection(
            user=user_info(self.current_user),
            permissions=Permissions(
                read=True, write=can_write,
                manage=self.access.allowed(self, Capability.SHARE, self._file_id)),
            max_queue_bytes=self.collab_settings.max_peer_queue_bytes,
            on_close=self._close,
            session_id=self.get_query_argument("sessionId", None),
        )

    def _refuse(self, err: Exception) -> None:
        code = open_close_code(err)
        if code == CloseCode.LOAD_FAILED:
            log.exception("opening room %s failed", self.room_id, exc_info=err)
        else:
            log.info("refused room %s: %s", self.room_id, err)
        path_hint = str(self.room_id)
        self._close(code, f"Error initializing: {path_hint}. {err}")

    async def on_message(self, message: str | bytes) -> None:
        peer, room = self.peer, self.room
        if peer is None or room is None or peer.closed:
            return
        if isinstance(message, str):
            peer.close(CloseCode.PROTOCOL_ERROR, "text frames are not part of the protocol")
            return
        try:
            room.handle(peer, message)
        except ProtocolError as err:
            log.info("closing %r in %s: %s", peer, room.id, err)
            peer.close(frame_close_code(err), f"protocol error: {err}")

    def on_close(self) -> None:
        if self.peer is not None:
            self.peer.closed = True
            if self.room is not None:
                self.manager.leave(self.room, self.peer)
        if self._writer is not None:
            self._writer.cancel()

    def _backlog(self) -> tuple[int, int]:
        """What Tornado still holds for this peer and how much it has written so far (the
        core's probe: its bound covers this, and it cuts a peer that stops reading)."""
        return ws_stream.unsent_and_sent(ws_stream.any_stream(self.ws_connection))

    def _write_now(self, frame: bytes) -> bool:
        """The fast path: write at once if nothing is waiting to go out before it."""
        stream = self._stream
        if stream is None or self._draining or stream.writing() or stream.closed():
            return False
        ws_stream.write_frames(stream, [frame])
        return True

    async def _drain(self, peer: Connection) -> None:
        """Write what was queued while the peer was behind, in order, a batch at a time,
        waiting for each batch to leave before the next (the queue, not Tornado's
        buffer, absorbs a slow peer, so cutting it off also drops what it had not read)."""
        try:
            while True:
                await peer.outbox.wait()
                self._draining = True
                while frames := peer.outbox.take_all():
                    if self._stream is not None:
                        await ws_stream.write_frames(self._stream, frames)
                    else:
                        for frame in frames[:-1]:
                            self.write_message(frame, binary=True)
                        await self.write_message(frames[-1], binary=True)
                self._draining = False
        except (WebSocketClosedError, StreamClosedError):
            pass

    def _close(self, code: int, reason: str) -> None:
        if code == CloseCode.RELOAD and not reason.startswith("{"):
            # JupyterLab reads a 1003 reason as JSON, and shows its errorReason (else "Reload
            # the browser tab to continue") in a dialog; a close reason holds 123 bytes.
            if reason:  # where its edits were kept: the session id gives it the room
                reason = reload_reason("unknown_session", None, reloadable=True, error=reason)
            else:
                session_id = self.get_query_argument("sessionId", "") or ""
                reason = reload_reason("unknown_session", session_id, reloadable=True)
        if self.peer is not None:
            self.peer.closed = True
        if self.ws_connection is not None:
            self.close(code, truncate_reason(reason))
