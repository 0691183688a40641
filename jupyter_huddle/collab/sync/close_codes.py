"""Websocket close codes used by the room protocol, named once.

The 4xxx load-failure codes mirror HTTP statuses, as JupyterLab's docprovider expects: it
treats 4404/4400/4500 before the first sync as "could not open this document".
"""

from __future__ import annotations

from enum import IntEnum

# RFC 6455 limits a close reason to 123 bytes of UTF-8.
MAX_CLOSE_REASON_BYTES = 123


class CloseCode(IntEnum):
    """Websocket close codes the server sends; the 4xxx ones mirror HTTP statuses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    # JupyterLab reads 1003 + a JSON reason as "this session must reload".
    RELOAD = 1003
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    # The peer's rights on the document changed: reconnect to get the new ones.
    RIGHTS_CHANGED = 4001
    BAD_REQUEST = 4400
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    # A tab whose copy belongs to an earlier history came back with nothing new to keep
    # (it was told to reload already; no new prompt).
    STALE_COPY = 4409
    GONE = 4410
    LOAD_FAILED = 4500


def truncate_reason(reason: str, limit: int = MAX_CLOSE_REASON_BYTES) -> str:
    """Cut ``reason`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= limit:
        return reason
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "..."
