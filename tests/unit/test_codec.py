from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Doc, Text, create_sync_message, create_update_message

from jupyter_huddle.collab.errors import ProtocolError
from jupyter_huddle.collab.sync import codec


@pytest.mark.parametrize("num", [0, 1, 127, 128, 300, 2**21, 2**53])
def test_varuint_round_trip(num):
    assert codec.Reader(codec.varuint(num)).read_varuint() == num


def test_var_string_prefixes_utf8_byte_length():
    # pycrdt's Encoder writes the character count; a peer would read "h\xc3" for "hé".
    encoded = codec.var_string("hé😀")
    assert encoded[0] == len("hé😀".encode())
    assert codec.Reader(encoded).read_string() == "hé😀"


def test_decodes_what_pycrdt_encodes():
    doc: Doc[Any] = Doc()
    doc.get("t", type=Text).insert(0, "x")
    step1 = codec.decode_message(create_sync_message(doc))
    assert step1 == codec.SyncStep1(doc.get_state())
    update = doc.get_update()
    assert codec.decode_message(create_update_message(update)) == codec.SyncUpdate(update)


def test_save_request_with_and_without_id():
    assert codec.decode_message(b"\x02\x04save\x07") == codec.SaveRequest(7)
    assert codec.decode_message(b"\x02\x04save") == codec.SaveRequest(0)


def test_unknown_types_are_reported_not_raised():
    assert codec.decode_message(b"\x03") == codec.UnknownMessage(3)
    assert codec.decode_message(codec.varuint(200)) == codec.UnknownMessage(200)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x80",  # truncated varuint
        b"\xff" * 12,  # varuint too long
        b"\x00\x00\xff\xff\xff\xff\x0f",  # 4 GB length prefix, no body
        b"\x00\x07\x00",  # unknown sync type
        b"\x02\x02\xff\xfe",  # RAW that is not UTF-8
        b"\x01\x05ab",  # awareness payload shorter than its prefix
    ],
)
def test_malformed_frames_raise_protocol_error(frame):
    with pytest.raises(ProtocolError):
        codec.decode_message(frame)


def test_encode_raw_refuses_empty_string():
    # y-websocket reads type 2 as "auth"; length 0 means "permission denied".
    with pytest.raises(ValueError, match="empty"):
        codec.encode_raw("")


def test_keepalive_is_an_empty_awareness_update():
    message = codec.decode_message(codec.KEEPALIVE_FRAME)
    assert message == codec.AwarenessMessage(b"\x00")
