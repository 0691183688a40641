"""The widget socket's frames (docs/WIDGETS.md): JSON text frames, and one binary layout
for a message with buffers. Everything a page sends is checked here before anything else
looks at it."""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Any

# ipywidgets' own message id is the browser's; the kernel sees it under this prefix, which
# no execution's id has, so a page can never pass a message off as a cell's run.
KERNEL_MSG_PREFIX = "huddle-w-"
_MSG_ID = re.compile(r"[0-9a-f]{32}")
_COMM_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")
BROWSER_METHODS = frozenset({"update", "custom", "request_state"})
_MAX_BUFFERS = 64
_MAX_PATH_DEPTH = 16


class FrameError(ValueError):
    """A frame from a page that is not a message we accept (the text says why); ``ref``
    is the page's own number for it when the frame had a readable one."""

    def __init__(self, reason: str, ref: int | None = None) -> None:
        super().__init__(reason)
        self.ref = ref


@dataclass(frozen=True)
class BrowserMessage:
    """A checked ``send`` from a page."""

    ref: int | None
    msg_id: str
    comm_id: str
    method: str
    # ``state`` and ``buffer_paths`` for ``update``, ``content`` for ``custom``
    data: dict[str, Any]
    buffers: list[bytes]

    @property
    def kernel_msg_id(self) -> str:
        return KERNEL_MSG_PREFIX + self.msg_id


def encode(message: dict[str, Any], buffers: list[bytes] | None = None) -> str | bytes:
    """One frame: text without buffers, else the binary layout."""
    text = json.dumps(message, separators=(",", ":"), allow_nan=False, default=str)
    if not buffers:
        return text
    body = text.encode()
    head = struct.pack(f">II{len(buffers)}I", len(buffers), len(body),
                       *(len(b) for b in buffers))
    return b"".join([head, body, *buffers])


def _split_binary(frame: bytes) -> tuple[bytes, list[bytes]]:
    if len(frame) < 8:
        raise FrameError("a binary frame starts with two 32-bit lengths")
    count, json_len = struct.unpack_from(">II", frame)
    if count > _MAX_BUFFERS:
        raise FrameError(f"at most {_MAX_BUFFERS} buffers per message")
    head = 8 + 4 * count
    if len(frame) < head:
        raise FrameError("the frame is shorter than its buffer table")
    lengths = struct.unpack_from(f">{count}I", frame, 8)
    if head + json_len + sum(lengths) != len(frame):
        raise FrameError("the frame's lengths do not add up to its size")
    body = frame[head:head + json_len]
    buffers, at = [], head + json_len
    for length in lengths:
        buffers.append(frame[at:at + length])
        at += length
    return body, buffers


def decode_browser_frame(frame: str | bytes, max_bytes: int) -> BrowserMessage:
    """Check one frame from a page.

    Raises:
        FrameError: too big, malformed, or not a ``send`` we accept.
    """
    if len(frame) > max_bytes:
        raise FrameError(f"the message is larger than {max_bytes} bytes")
    body, buffers = (frame.encode(), []) if isinstance(frame, str) else _split_binary(frame)
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise FrameError(f"not JSON: {err}") from None
    if not isinstance(message, dict):
        raise FrameError("a message is a JSON object")
    ref = message.get("ref")
    if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool)):
        raise FrameError("'ref' is an integer")
    try:
        return _checked_send(message, ref, buffers)
    except FrameError as err:
        raise FrameError(str(err), ref) from None


def _checked_send(message: dict[str, Any], ref: int | None,
                  buffers: list[bytes]) -> BrowserMessage:
    if message.get("type") != "send":
        raise FrameError(f"pages may only send messages of type 'send', not "
                         f"{str(message.get('type'))[:40]!r}")
    msg_id, comm_id, data = message.get("msg_id"), message.get("comm_id"), message.get("data")
    if not isinstance(msg_id, str) or not _MSG_ID.fullmatch(msg_id):
        raise FrameError("'msg_id' is 32 lowercase hex digits")
    if not isinstance(comm_id, str) or not _COMM_ID.fullmatch(comm_id):
        raise FrameError("'comm_id' is missing or malformed")
    if not isinstance(data, dict):
        raise FrameError("'data' is an object")
    method = data.get("method")
    if method not in BROWSER_METHODS:
        raise FrameError(f"method {str(method)[:40]!r} is not one a page may send "
                         f"({', '.join(sorted(BROWSER_METHODS))})")
    if method == "update":
        _check_update(data, len(buffers))
    elif method == "custom" and "content" not in data:
        raise FrameError("a custom message has 'content'")
    return BrowserMessage(ref, msg_id, comm_id, method, data, buffers)


def _check_update(data: dict[str, Any], buffer_count: int) -> None:
    state = data.get("state")
    if not isinstance(state, dict) or not state:
        raise FrameError("an update has a non-empty 'state' object")
    paths = data.get("buffer_paths", [])
    if not isinstance(paths, list) or len(paths) != buffer_count:
        raise FrameError("'buffer_paths' names one path per buffer")
    for path in paths:
        if (not isinstance(path, list) or not path or len(path) > _MAX_PATH_DEPTH
                or not isinstance(path[0], str) or path[0] not in state
                or not all(isinstance(p, (str, int)) and not isinstance(p, bool)
                           for p in path)):
            raise FrameError("a buffer path is a list of keys starting at a state key")


def parent_for_pages(kernel_parent_id: str) -> str | None:
    """The browser's own id of the message that caused a kernel message, if a page sent
    it (ipywidgets matches echoes by it); None otherwise."""
    if kernel_parent_id.startswith(KERNEL_MSG_PREFIX):
        return kernel_parent_id[len(KERNEL_MSG_PREFIX):]
    return None
