"""The y-websocket wire format, decoded with bounds checks and encoded once per message.

Every frame starts with a lib0 varuint message type: 0 sync, 1 awareness, 2 Jupyter RAW.
Strings are length-prefixed with their UTF-8 *byte* count (pycrdt's ``Encoder`` writes the
character count, which breaks non-ASCII text, so this module does its own encoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..errors import ProtocolError

# A varuint longer than this cannot describe a length or id we accept (2**63).
_MAX_VARUINT_BYTES = 9


class MessageType(IntEnum):
    """The leading varuint of a frame: which kind of message follows."""

    SYNC = 0
    AWARENESS = 1
    RAW = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    """The kind of a sync message: step 1, step 2, or an incremental update."""

    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


EMPTY_UPDATE = b"\x00\x00"


class Reader:
    """Reads lib0 primitives from one frame, refusing anything that runs past its end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        """Bytes of the frame not read yet."""
        return len(self._data) - self._pos

    def read_varuint(self) -> int:
        """Raises ProtocolError on a truncated or over-long varuint."""
        result = 0
        shift = 0
        data = self._data
        for _ in range(_MAX_VARUINT_BYTES):
            if self._pos >= len(data):
                raise ProtocolError("truncated varuint")
            byte = data[self._pos]
            self._pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
        raise ProtocolError("varuint too long")

    def read_bytes(self) -> bytes:
        """A varuint length, then that many bytes. Raises ProtocolError if they are missing."""
        length = self.read_varuint()
        if length > self.remaining:
            raise ProtocolError(f"length prefix {length} runs past the end of the frame")
        start = self._pos
        self._pos += length
        return self._data[start : self._pos]

    def read_string(self) -> str:
        """A varuint UTF-8 byte length, then the bytes. Raises ProtocolError if not UTF-8."""
        raw = self.read_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError("string is not valid UTF-8") from err


def varuint(num: int) -> bytes:
    """lib0 varuint encoding of a non-negative integer."""
    if num < 0:
        raise ValueError("varuint cannot encode a negative number")
    out = bytearray()
    while num > 0x7F:
        out.append(0x80 | (num & 0x7F))
        num >>= 7
    out.append(num)
    return bytes(out)


def var_bytes(data: bytes) -> bytes:
    """``data`` prefixed with its length as a lib0 varuint."""
    return varuint(len(data)) + data


def var_string(text: str) -> bytes:
    """``text`` as UTF-8, prefixed with its UTF-8 byte count (not its character count)."""
    return var_bytes(text.encode("utf-8"))


# --- decoded messages -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """A peer's state vector, asking for every update it lacks."""

    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """The update answering a SyncStep1: everything the asker lacked."""

    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """An incremental document update."""

    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    """An awareness update, still encoded."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class SaveRequest:
    """A RAW ``save`` request; the answer echoes ``request_id`` (0 for older clients)."""

    request_id: int


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A RAW string the server does not act on."""

    text: str


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A frame whose message type the server does not handle; it is ignored."""

    message_type: int


Message = (
    SyncStep1
    | SyncStep2
    | SyncUpdate
    | AwarenessMessage
    | SaveRequest
    | RawMessage
    | UnknownMessage
)


def decode_message(frame: bytes) -> Message:
    """Decode one websocket frame.

    Raises:
        ProtocolError: the frame is empty, truncated, or a sync message of unknown kind.
    """
    reader = Reader(frame)
    msg_type = reader.read_varuint()
    if msg_type == MessageType.SYNC:
        return _decode_sync(reader)
    if msg_type == MessageType.AWARENESS:
        return AwarenessMessage(reader.read_bytes())
    if msg_type == MessageType.RAW:
        text = reader.read_string()
        if text == "save":
            # Older clients send no id; answer them with id 0.
            return SaveRequest(reader.read_varuint() if reader.remaining else 0)
        return RawMessage(text)
    return UnknownMessage(msg_type)


def _decode_sync(reader: Reader) -> Message:
    sync_type = reader.read_varuint()
    payload = reader.read_bytes()
    if sync_type == SyncType.STEP1:
        return SyncStep1(payload)
    if sync_type == SyncType.STEP2:
        return SyncStep2(payload)
    if sync_type == SyncType.UPDATE:
        return SyncUpdate(payload)
    raise ProtocolError(f"unknown sync message type {sync_type}")


# --- encoders ---------------------------------------------------------------------------


def encode_sync_step1(state_vector: bytes) -> bytes:
    """A sync frame, step 1, carrying our ``state_vector``."""
    return bytes((MessageType.SYNC, SyncType.STEP1)) + var_bytes(state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    """A sync frame, step 2, carrying ``update`` (the answer to a step 1)."""
    return bytes((MessageType.SYNC, SyncType.STEP2)) + var_bytes(update)


def encode_sync_update(update: bytes) -> bytes:
    """A sync frame carrying one incremental ``update``."""
    return bytes((MessageType.SYNC, SyncType.UPDATE)) + var_bytes(update)


def encode_awareness(payload: bytes) -> bytes:
    """An awareness frame carrying an encoded awareness ``payload``."""
    return bytes((MessageType.AWARENESS,)) + var_bytes(payload)


def encode_raw(text: str) -> bytes:
    """A RAW frame. An empty string would read as "permission denied" in y-websocket."""
    if not text:
        raise ValueError("never send an empty RAW string")
    return bytes((MessageType.RAW,)) + var_string(text)


# An awareness update with zero entries: y-websocket counts any message as proof the
# socket is alive and applies this as a no-op, so it is the cheapest keep-alive there is.
KEEPALIVE_FRAME = encode_awareness(varuint(0))
