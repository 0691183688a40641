"""The collaboration core: documents, rooms, the sync protocol, saving.

Nothing here imports Tornado or Jupyter Server handlers; ``jupyter_huddle.server`` adapts
HTTP and websockets to these types.
"""

from __future__ import annotations

from .close_codes import CloseCode
from .connection import Connection, Permissions, UserInfo
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
from .files import FileBackend, FileSnapshot
from .ids import AwarenessRoomId, DocumentRoomId, RoomId, parse_room_id
from .manager import RoomManager
from .room import Room
from .settings import CollabSettings

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
