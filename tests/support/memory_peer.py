"""An in-memory peer for unit tests of ``Room``: a pycrdt Doc wired to a Connection."""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Doc, create_sync_message, create_update_message, handle_sync_message

from jupyter_huddle.collab.sync.connection import Connection, Permissions, UserInfo
from jupyter_huddle.collab.sync.room import Room

from .yclient import REMOTE, parse_awareness, read_var_string, read_var_uint


class MemoryPeer:
    def __init__(self, room: Room | None, name: str = "alice", *, write: bool = True,
                 max_queue_bytes: int = 1 << 20, doc: Doc | None = None,
                 manage: bool = False) -> None:
        self.room = room
        # A reconnecting client brings the document it kept (and its offline edits).
        self.doc: Doc = doc if doc is not None else Doc()
        self.closed_with: tuple[int, str] | None = None
        self.raw: list[dict[str, Any]] = []
        self.server_client_id: int | None = None
        self.awareness: dict[int, Any] = {}
        self.conn = Connection(
            user=UserInfo(name), permissions=Permissions(write=write, manage=manage),
            max_queue_bytes=max_queue_bytes, on_close=self._on_close,
        )
        self._subscription = self.doc.observe(self._on_local_change)

    def detach(self) -> None:
        """Stop sending local edits (the socket is gone); the document stays."""
        self.doc.unobserve(self._subscription)
        self.room = None

    def _on_close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def _on_local_change(self, event: Any) -> None:
        origin_hash = event.transaction.origin()
        if origin_hash is not None and self.doc._origins.get(origin_hash) == REMOTE:
            return
        if self.room is not None:
            self.room.handle(self.conn, create_update_message(event.update))

    def join(self) -> MemoryPeer:
        assert self.room is not None
        self.room.join(self.conn)
        return self.start_sync()

    def start_sync(self) -> MemoryPeer:
        """After ``room.join``: send our state vector and process the replies."""
        assert self.room is not None
        self.room.handle(self.conn, create_sync_message(self.doc))
        self.pump()
        return self

    def pump(self) -> int:
        """Deliver every queued frame to this peer; return how many there were."""
        frames = self.conn.outbox.take_all()
        for frame in frames:
            self._receive(frame)
        return len(frames)

    def _receive(self, frame: bytes) -> None:
        if self.room is None:
            return
        if frame[0] == 0:
            with self.doc.transaction(origin=REMOTE):
                reply = handle_sync_message(frame[1:], self.doc)
            if reply is not None:
                self.room.handle(self.conn, reply)
        elif frame[0] == 1:
            length, pos = read_var_uint(frame, 1)
            for client_id, _clock, state in parse_awareness(frame[pos : pos + length]):
                if state is None:
                    self.awareness.pop(client_id, None)
                else:
                    self.awareness[client_id] = state
        elif frame[0] == 2:
            message = json.loads(read_var_string(frame, 1)[0])
            if message.get("type") == "server_presence":
                self.server_client_id = message["client_id"]
            else:
                self.raw.append(message)
