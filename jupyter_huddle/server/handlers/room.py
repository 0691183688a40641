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
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ...collab.close_codes import CloseCode, truncate_reason
from ...collab.connection import Connection, Permissions, UserInfo
from ...collab.errors import CollabError, ProtocolError, StaleSession
from ...collab.ids import RoomId, parse_room_id
from ...collab.manager import RoomManager
from ...collab.room import Room
from ...collab.settings import CollabSettings
from ..errors import open_close_code, reload_reason

log = logging.getLogger(__name__)


class RoomWebSocketHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    auth_resource = "contents"

    def initialize(self, manager: RoomManager, settings: CollabSettings) -> None:
        self.manager = manager
        self.collab_settings = settings
        self.room_id: RoomId | None = None
        self.room: Room | None = None
        self.peer: Connection | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def max_message_size(self) -> int:
        return self.collab_settings.max_frame_bytes

    @ws_authenticated
    async def get(self, raw_room_id: str, *args: Any, **kwargs: Any) -> None:
        user = self.current_user
        if not self.authorizer.is_authorized(self, user, "read", "contents"):
            raise web.HTTPError(403, "you may not read documents")
        try:
            self.room_id = parse_room_id(raw_room_id)
        except CollabError as err:
            raise web.HTTPError(400, str(err)) from err
        await super().get(raw_room_id, *args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # WebSocketMixin: server pings
        self.set_nodelay(True)  # a typing peer must not get every update one keystroke late
        assert self.room_id is not None  # set by get() before the upgrade
        self.peer = self._make_peer()
        self._writer = asyncio.create_task(self._drain(self.peer))
        try:
            self.room = await self.manager.join(self.room_id, self.peer, self.peer.session_id)
        except StaleSession:
            # The tab holds a copy from an earlier history of this document: it must reload.
            self._close(CloseCode.RELOAD, reload_reason(
                "unknown_session", self.peer.session_id or "", reloadable=True))
        except Exception as err:
            self._refuse(err)

    def _make_peer(self) -> Connection:
        user = self.current_user
        can_write = bool(self.authorizer.is_authorized(self, user, "write", "contents"))
        return Connection(
            user=UserInfo(
                username=str(user.username),
                display_name=str(getattr(user, "display_name", "") or user.username),
                color=getattr(user, "color", None),
            ),
            permissions=Permissions(read=True, write=can_write),
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
            peer.close(CloseCode.PROTOCOL_ERROR, f"protocol error: {err}")

    def on_close(self) -> None:
        if self.peer is not None:
            self.peer.closed = True
            if self.room is not None:
                self.manager.leave(self.room, self.peer)
        if self._writer is not None:
            self._writer.cancel()

    async def _drain(self, peer: Connection) -> None:
        """Write queued frames in order; await only the last write of each batch, so the
        queue (not Tornado's buffer) absorbs a slow peer."""
        try:
            while True:
                await peer.outbox.wait()
                frames = peer.outbox.take_all()
                if not frames:
                    continue
                for frame in frames[:-1]:
                    self.write_message(frame, binary=True)
                await self.write_message(frames[-1], binary=True)
        except WebSocketClosedError:
            pass

    def _close(self, code: int, reason: str) -> None:
        if self.peer is not None:
            self.peer.closed = True
        if self.ws_connection is not None:
            self.close(code, truncate_reason(reason))
