"""The durable update log: every update a room applies, kept so history survives restarts;
and the access tables (share links, guests, roles) in the same database.

Users take the narrow protocol they need: a binding an ``UpdateLog``, the access service an
``AccessTable``; the server resolves one ``ServerStore`` and hands it to both."""

from __future__ import annotations

from .base import (
    AccessTable,
    DocumentRecord,
    NewVersion,
    StoredHistory,
    StoreLifetime,
    UpdateLog,
    UpdateStore,
    VersionRow,
    VersionTable,
)
from .memory import MemoryStore
from .server_store import ServerStore
from .sqlite import SQLiteStore

__all__ = [
    "AccessTable",
    "DocumentRecord",
    "MemoryStore",
    "NewVersion",
    "SQLiteStore",
    "ServerStore",
    "StoreLifetime",
    "StoredHistory",
    "UpdateLog",
    "UpdateStore",
    "VersionRow",
    "VersionTable",
]
