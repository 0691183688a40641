from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Doc, Text

from jupyter_huddle.collab.errors import ProtocolError
from jupyter_huddle.collab.sync import full_state
from jupyter_huddle.collab.sync.full_state import FullState, SyncAnswer
from tests.support.yclient import read_var_uint


def text_doc(size: int) -> Doc:
    doc: Doc[Any] = Doc()
    doc.get("t", type=Text).insert(0, "x" * size)
    return doc


def apply(answer: SyncAnswer, doc: Doc | None = None) -> Doc:
    """What a peer has after applying the answer's SyncStep2 frames."""
    doc = doc if doc is not None else Doc()
    for frame in answer.frames:
        assert frame[:2] == b"\x00\x01"
        length, pos = read_var_uint(frame, 2)
        assert len(frame) == pos + length
        doc.apply_update(frame[pos:])
    return doc


def text(doc: Doc) -> str:
    return str(doc.get("t", type=Text))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def edit(doc: Doc, states: FullState, chars: str) -> None:
    before = doc.get_state()
    doc.get("t", type=Text).insert(0, chars)
    states.changed(len(doc.get_update(before)))


def test_everyone_who_knows_nothing_gets_the_same_bytes_once_per_version():
    doc = text_doc(1000)
    states = FullState(doc)
    first, second = states.answer(b"\x00"), states.answer(b"\x00")
    assert first.shared
    assert first.frames[0] is second.frames[0]
    assert text(apply(first)) == text(doc)
    edit(doc, states, "new ")
    third = states.answer(b"\x00")
    assert third.frames[0] is not first.frames[0]  # a small document: encoded again
    assert len(third.frames) == 1
    assert text(apply(third)) == text(doc)


def test_a_close_peer_of_a_small_document_gets_a_diff_of_its_own():
    doc = text_doc(10_000)
    states = FullState(doc)
    peer = apply(states.answer(b"\x00"))
    edit(doc, states, "hello ")
    answer = states.answer(peer.get_state())
    assert not answer.shared
    assert len(answer.frames[0]) < 100
    assert text(apply(answer, peer)) == text(doc)


def test_a_large_document_is_shared_with_its_tail_until_the_tail_outgrows_it(monkeypatch):
    monkeypatch.setattr(full_state, "SMALL_STATE_BYTES", 1000)
    doc = text_doc(8000)
    states = FullState(doc)
    full = states.answer(b"\x00").frames[0]
    edit(doc, states, "a" * 100)
    answer = states.answer(b"\x00")
    assert answer.shared
    assert answer.frames[0] is full
    assert len(answer.frames) == 2
    assert answer.frames[1] is states.answer(b"\x00").frames[1]  # the tail: once per version
    assert text(apply(answer)) == text(doc)
    edit(doc, states, "b" * 2000)  # now more than an eighth of the full state
    again = states.answer(b"\x00")
    assert again.frames[0] is not full
    assert len(again.frames) == 1
    assert text(apply(again)) == text(doc)


def test_a_reconnecting_peer_of_a_large_document_gets_the_tail_only(monkeypatch):
    monkeypatch.setattr(full_state, "SMALL_STATE_BYTES", 1000)
    doc = text_doc(8000)
    states = FullState(doc)
    peer = apply(states.answer(b"\x00"))
    edit(doc, states, "while you were away ")
    answer = states.answer(peer.get_state())
    assert answer.shared
    assert len(answer.frames) == 1
    assert len(answer.frames[0]) < 100
    assert text(apply(answer, peer)) == text(doc)


@pytest.mark.parametrize("vector", [b"\x01\x95\x9a\xef\x3a\x05",  # one client we never saw
                                    b"\x50" + b"\x01\x01" * 0x50])  # 80 clients: too many
def test_a_state_vector_that_knows_nothing_we_know_gets_the_shared_state(monkeypatch, vector):
    monkeypatch.setattr(full_state, "SMALL_STATE_BYTES", 1000)
    doc = text_doc(8000)
    states = FullState(doc)
    full = states.answer(b"\x00").frames[0]
    answer = states.answer(vector)
    assert answer.shared
    assert answer.frames == (full,)


def test_a_truncated_state_vector_is_a_protocol_error(monkeypatch):
    monkeypatch.setattr(full_state, "SMALL_STATE_BYTES", 1000)
    states = FullState(text_doc(8000))
    states.answer(b"\x00")
    with pytest.raises(ProtocolError):
        states.answer(b"\x02\x01")


def test_cached_frames_go_when_their_peers_left_or_nobody_asked():
    clock = Clock()
    doc = text_doc(5000)
    states = FullState(doc, clock=clock)
    states.answer(b"\x00", peer=1)
    states.answer(b"\x00", peer=2)
    assert states.left(1) == 0
    assert states.left(2) > 5000
    assert states.cached_bytes == 0
    states.answer(b"\x00", peer=3)
    clock.now += full_state.IDLE_S - 1
    assert states.expire() == 0
    clock.now += 2
    assert states.expire() > 5000
    assert states.cached_bytes == 0
    assert text(apply(states.answer(b"\x00"))) == text(doc)
