"""The durable update log: every update a room applies, kept so history survives restarts."""

from __future__ import annotations

from .base import DocumentRecord, StoredHistory, UpdateStore
from .memory import MemoryStore
from .server_store import ServerStore
from .sqlite import SQLiteStore

__all__ = [
    "DocumentRecord",
    "MemoryStore",
    "SQLiteStore",
    "ServerStore",
    "StoredHistory",
    "UpdateStore",
]
