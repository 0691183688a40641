"""Core errors mapped to HTTP statuses and websocket close codes, in one place."""

from __future__ import annotations

import json
import re

from ..collab.errors import (
    CapacityError,
    CollabError,
    DocumentLoadError,
    DocumentNotFound,
    FrameTooLarge,
    InvalidRoomId,
    PermissionDenied,
    ProtocolError,
    SaveError,
)
from ..collab.sync import close_codes
from ..collab.sync.close_codes import CloseCode

_HTTP_STATUS: list[tuple[type[CollabError], int]] = [
    (DocumentNotFound, 404),
    (PermissionDenied, 403),
    (InvalidRoomId, 400),
    (DocumentLoadError, 400),
    (ProtocolError, 400),
    (CapacityError, 503),
    (SaveError, 500),
]

# Close codes for errors while a room opens, before the first sync: JupyterLab shows
# "could not open" for 4404/4400/4500 and stops reconnecting.
_OPEN_CLOSE_CODE: list[tuple[type[CollabError], CloseCode]] = [
    (DocumentNotFound, CloseCode.NOT_FOUND),
    (DocumentLoadError, CloseCode.BAD_REQUEST),
    (InvalidRoomId, CloseCode.BAD_REQUEST),
    (PermissionDenied, CloseCode.FORBIDDEN),
    (CapacityError, CloseCode.TRY_AGAIN_LATER),
    (ProtocolError, CloseCode.PROTOCOL_ERROR),
]


def frame_close_code(error: ProtocolError) -> CloseCode:
    """The close code for a peer whose frame was refused."""
    return CloseCode.TOO_BIG if isinstance(error, FrameTooLarge) else CloseCode.PROTOCOL_ERROR


def http_status(error: CollabError) -> int:
    for kind, status in _HTTP_STATUS:
        if isinstance(error, kind):
            return status
    return 500


def open_close_code(error: BaseException) -> CloseCode:
    for kind, code in _OPEN_CLOSE_CODE:
        if isinstance(error, kind):
            return code
    return CloseCode.LOAD_FAILED


_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{0,64}$")


def reload_reason(reason: str, session_id: str | None, *, reloadable: bool,
                  error: str = "") -> str:
    """The JSON close reason JupyterLab reads with code 1003, cut to fit a close frame.

    Only ``errorReason`` is shortened, so the reason always stays valid JSON. ``session_id``
    None leaves it out (JupyterLab does not read it), to give ``errorReason`` the room.
    """
    payload: dict[str, object] = {"reason": reason}
    if session_id is not None:
        # The client's own id, echoed only if it looks like one of ours: anything else could
        # be long or need escaping, and must not break the JSON or the 123-byte limit.
        payload["sessionId"] = session_id if _SESSION_ID.match(session_id) else ""
    payload["reloadable"] = reloadable
    text = json.dumps(payload, separators=(",", ":"))
    if error:
        room = close_codes.MAX_CLOSE_REASON_BYTES - len(text.encode()) - len(',"errorReason":""')
        payload["errorReason"] = close_codes.truncate_reason(error, room) if room > 3 else ""
        text = json.dumps(payload, separators=(",", ":"))
        while len(text.encode()) > close_codes.MAX_CLOSE_REASON_BYTES:
            # json escaping can lengthen the text: shorten until it fits
            current = str(payload["errorReason"])
            payload["errorReason"] = current[: max(len(current) - 8, 0)]
            text = json.dumps(payload, separators=(",", ":"))
    return text
