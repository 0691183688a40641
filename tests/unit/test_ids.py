from __future__ import annotations

import pytest

from jupyter_huddle.collab.errors import InvalidRoomId
from jupyter_huddle.collab.ids import AwarenessRoomId, DocumentRoomId, parse_room_id


def test_document_rooms_split_at_first_two_colons():
    assert parse_room_id("json:notebook:abc-123") == DocumentRoomId("json", "notebook", "abc-123")
    assert parse_room_id("text:file:f.1") == DocumentRoomId("text", "file", "f.1")
    assert str(parse_room_id("json:notebook:abc")) == "json:notebook:abc"


def test_fewer_than_two_colons_is_awareness_only():
    room = parse_room_id("JupyterLab:globalAwareness")
    assert room == AwarenessRoomId("JupyterLab:globalAwareness")
    assert not room.persisted


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "x" * 400,
        "json:notebook:../../etc/passwd",
        "json:notebook:a/b",
        "json:notebook:é",
        "json:notebook:",
        "json:notebook:a:b",
        "blob:file:abc",
        "x:y:z",
        "bad name",
        "ünïcode",
    ],
)
def test_bad_ids_are_refused(raw):
    with pytest.raises(InvalidRoomId):
        parse_room_id(raw)
