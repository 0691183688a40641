"""The durable update log: every update a room applies, kept so history survives restarts."""

from __future__ import annotations

from .base import DocumentRecord, StoredHistory, UpdateStore
from .memory import MemoryStore
from .sqlite import SQLiteStore, open_store

__all__ = [
    "DocumentRecord",
    "MemoryStore",
    "SQLiteStore",
    "StoredHistory",
    "UpdateStore",
    "open_store",
]
