"""Writing websocket frames straight to Tornado's stream, and reading what it has not sent.

Everything here reads Tornado internals (``WebSocketProtocol13.stream`` and ``_compressor``,
``IOStream._total_write_index`` and ``_total_write_done_index``), in this one module only;
``tests/unit/test_library_internals.py`` fails loudly when a Tornado release changes them.
Without them the room handler falls back to ``write_message`` and to bounding only its own
queue.

Why: Tornado's ``write_message`` wraps every message in a new asyncio Task; at a few hundred
peers per edit that Task is the main cost of a broadcast and the main source of garbage. A
binary frame from the server is a short header and the payload (no mask, and no
compression: the room handler never negotiates any), so it can be written directly.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Awaitable

from tornado.iostream import IOStream

log = logging.getLogger(__name__)

WRITE_COUNTERS = ("_total_write_index", "_total_write_done_index")
# Payloads from this size on are handed to the stream without being copied into a batch.
COPY_BELOW_BYTES = 4096


def any_stream(connection: object | None) -> IOStream | None:
    """The stream under a websocket connection (None before it opens or after it closes)."""
    stream: IOStream | None = getattr(connection, "stream", None)
    return stream


def plain_stream(connection: object | None) -> IOStream | None:
    """The stream, if frames may be written to it directly: no compression negotiated."""
    stream = any_stream(connection)
    if stream is None or getattr(connection, "_compressor", None) is not None:
        return None
    return stream


def has_write_counters(stream: IOStream | None) -> bool:
    """Whether the stream counts bytes written and sent (private, but stable since 4.x);
    without them a socket's unsent bytes are not bounded and stalled readers not seen."""
    found = all(hasattr(stream, name) for name in WRITE_COUNTERS)
    if stream is not None and not found:
        log.warning("this Tornado's IOStream has no write counters: a socket's unsent bytes "
                    "are not bounded and stalled readers are not detected")
    return stream is not None and found


def unsent_and_sent(stream: IOStream | None) -> tuple[int, int]:
    """Bytes the stream holds but has not sent, and bytes it has sent so far."""
    if stream is None or stream.closed():
        return 0, 0
    written: int = getattr(stream, WRITE_COUNTERS[0])
    done: int = getattr(stream, WRITE_COUNTERS[1])
    return written - done, done


BINARY, TEXT = 0x82, 0x81  # final frames of either kind


def binary_frame_header(length: int, first_byte: int = BINARY) -> bytes:
    """RFC 6455 header of an unmasked, final frame of ``length`` bytes (binary unless
    ``first_byte`` says ``TEXT``)."""
    if length < 126:
        return struct.pack("!BB", first_byte, length)
    if length <= 0xFFFF:
        return struct.pack("!BBH", first_byte, 126, length)
    return struct.pack("!BBQ", first_byte, 127, length)


def write_frames(stream: IOStream, frames: list[bytes]) -> Awaitable[None]:
    """Write binary frames in order; small ones batched into one write. Returns what
    resolves once the last byte is sent."""
    small = bytearray()
    last: Awaitable[None] | None = None
    for frame in frames:
        small += binary_frame_header(len(frame))
        if len(frame) < COPY_BELOW_BYTES:
            small += frame
        else:  # large payloads are handed over without a copy
            stream.write(bytes(small))
            small = bytearray()
            last = stream.write(frame)
    if small or last is None:
        last = stream.write(bytes(small))
    return last
