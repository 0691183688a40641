"""The collaboration core: documents, rooms, the sync protocol, saving.

Nothing here imports Tornado or Jupyter Server handlers; ``jupyter_huddle.server`` adapts
HTTP and websockets to these types.
"""

from __future__ import annotations

from .errors import (
    CapacityError,
    CollabError,
    DocumentLoadError,
    DocumentNotFound,
    InvalidRoomId,
    PermissionDenied,
    ProtocolError,
    SaveError,
    StoreError,
)
from .files.backend import FileBackend, FileSnapshot
from .ids import AwarenessRoomId, DocumentRoomId, RoomId, parse_room_id
from .rooms.manager import RoomManager
from .settings import CollabSettings
from .sync.close_codes import CloseCode
from .sync.connection import Connection, Permissions, UserInfo
from .sync.room import Room

__all__ = [
    "AwarenessRoomId",
    "CapacityError",
    "CloseCode",
    "CollabError",
    "CollabSettings",
    "Connection",
    "DocumentLoadError",
    "DocumentNotFound",
    "DocumentRoomId",
    "FileBackend",
    "FileSnapshot",
    "InvalidRoomId",
    "PermissionDenied",
    "Permissions",
    "ProtocolError",
    "Room",
    "RoomId",
    "RoomManager",
    "SaveError",
    "StoreError",
    "UserInfo",
    "parse_room_id",
]
