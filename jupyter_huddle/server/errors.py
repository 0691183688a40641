"""Core errors mapped to HTTP statuses and websocket close codes: the one map.

The core (``collab/``, ``kernels/``) raises errors that say what went wrong; this module
alone says what that is in HTTP (``http_status``, ``http_error``, ``retry_after``) and in
close codes. Handlers let core errors through; ``handlers/base.CoreErrors`` turns them into
responses with this map.
"""

from __future__ import annotations

import json
import math
import re

from tornado import web

from ..collab.access.copies import CopyRefused
from ..collab.access.errors import AccessError, InvalidLinkRequest, TooManyAttempts
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
    StoreError,
)
from ..collab.history.errors import (
    HistoryError,
    HistoryUnavailable,
    NotRestorer,
    TooManyHistoryActions,
    TooManyVersions,
    UnknownVersion,
)
from ..collab.review.errors import (
    CommentError,
    NotAuthor,
    TooLarge,
    TooManyActions,
    TooManyThreads,
    UnknownThread,
)
from ..collab.sync import close_codes
from ..collab.sync.close_codes import CloseCode
from ..kernels.errors import (
    ExecutionError,
    KernelMismatch,
    NotebookQueueFull,
    PersonQueueFull,
    StaleSource,
    UnknownDocument,
    UnknownKernel,
    UnknownRequest,
)

# The first class an error is an instance of decides: subclasses before their bases.
HTTP_STATUSES: list[tuple[type[CollabError], int]] = [
    # too much, for now: 429 with Retry-After, or 503 for everyone
    (TooManyAttempts, 429),
    (TooManyActions, 429),
    (TooManyHistoryActions, 429),
    (HistoryUnavailable, 503),
    (PersonQueueFull, 429),
    (NotebookQueueFull, 503),
    (CapacityError, 503),
    # no such thing
    (DocumentNotFound, 404),
    (UnknownThread, 404),
    (UnknownVersion, 404),
    (UnknownKernel, 404),
    (UnknownDocument, 404),
    (UnknownRequest, 404),
    (InvalidLinkRequest, 400),  # before its base, AccessError
    # not yours to do
    (PermissionDenied, 403),
    (AccessError, 403),
    (NotAuthor, 403),
    (NotRestorer, 403),
    # not now, or not like this
    (TooManyThreads, 409),
    (TooManyVersions, 409),
    (KernelMismatch, 409),
    (StaleSource, 409),
    (CopyRefused, 409),
    (TooLarge, 413),
    (InvalidRoomId, 400),
    (DocumentLoadError, 400),
    (ProtocolError, 400),
    (CommentError, 400),
    (HistoryError, 400),
    (ExecutionError, 400),
    # ours: the server could not do its part
    (SaveError, 500),
    (StoreError, 500),
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
    """The HTTP status of a core error (500 for one the map does not name)."""
    for kind, status in HTTP_STATUSES:
        if isinstance(error, kind):
            return status
    return 500


def http_error(error: CollabError) -> web.HTTPError:
    """The core error as Tornado's HTTP error, its message kept as it is (as the log
    message, which Jupyter's handlers show without formatting: core errors are logged by
    ``handlers/base.CoreErrors``, never through Tornado's formatting log)."""
    return web.HTTPError(http_status(error), str(error))


def retry_after(error: CollabError) -> str | None:
    """The ``Retry-After`` header for an error that says when to try again (whole seconds,
    at least 1), or None."""
    seconds = getattr(error, "retry_after_s", None)
    if not isinstance(seconds, int | float):
        return None
    return str(max(1, math.ceil(seconds)))


def open_close_code(error: BaseException) -> CloseCode:
    """The close code for an error met while opening a room (4500 for any it does not know)."""
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
