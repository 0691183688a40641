from __future__ import annotations

import time
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from jupyter_huddle.collab.errors import ProtocolError
from jupyter_huddle.collab.sync.codec import varuint
from jupyter_huddle.collab.sync.update_inspect import (
    MAX_INSPECTED_BYTES,
    KnownState,
    changes_document,
)


def replica(doc: Doc) -> Doc:
    copy: Doc[Any] = Doc()
    copy.apply_update(doc.get_update())
    return copy


def test_a_replica_with_nothing_new_changes_nothing_even_with_deletions():
    server: Doc[Any] = Doc()
    text = server.get("t", type=Text)
    text += "hello world"
    del text[0:6]
    client = replica(server)
    # A SyncStep2 reply always carries the sender's whole delete set.
    assert not changes_document(client.get_update(server.get_state()), server)
    assert not changes_document(client.get_update(), server)


def test_new_inserts_are_changes():
    server: Doc[Any] = Doc()
    server.get("t", type=Text).insert(0, "a")
    client = replica(server)
    client.get("t", type=Text).insert(1, "b")
    assert changes_document(client.get_update(server.get_state()), server)


def test_a_delete_only_update_is_a_change():
    server: Doc[Any] = Doc()
    server.get("t", type=Text).insert(0, "abc")
    client = replica(server)
    before = client.get_state()
    del client.get("t", type=Text)[0:1]
    delta = client.get_update(before)
    assert changes_document(delta, server)


def test_map_changes_are_changes():
    server: Doc[Any] = Doc()
    server.get("m", type=Map)["k"] = 1
    client = replica(server)
    client.get("m", type=Map)["k"] = 2
    assert changes_document(client.get_update(server.get_state()), server)


def test_an_edit_on_top_of_a_refused_edit_is_a_change_not_a_protocol_error():
    # A read-only peer's first edit is refused; its next one builds on it, so the server
    # sees items whose dependencies it never got. That is a change to refuse, not garbage.
    server: Doc[Any] = Doc()
    server.get("t", type=Text).insert(0, "base")
    client: Doc[Any] = Doc()
    client.apply_update(server.get_update())
    text = client.get("t", type=Text)
    text.insert(0, "first ")
    before_second = client.get_state()
    client.get("m", type=Map)["k"] = "second"
    second = client.get_update(before_second)
    assert changes_document(second, server)


# --- cost and budget ---------------------------------------------------------------------

def _delete_only(client: int, ranges: list[tuple[int, int]]) -> bytes:
    body = b"".join(varuint(clock) + varuint(length) for clock, length in ranges)
    return b"\x00\x01" + varuint(client) + varuint(len(ranges)) + body


def _fragmented(ranges: int) -> tuple[Doc, int]:
    """A text of 2*ranges characters with every odd one deleted on its own."""
    doc: Doc[Any] = Doc()
    doc.get("t", type=Text).insert(0, "ab" * ranges)
    doc.apply_update(_delete_only(doc.client_id, [(2 * i + 1, 1) for i in range(ranges)]))
    return doc, doc.client_id


@pytest.mark.timing
def test_a_fragmented_delete_set_is_compared_in_linear_time():
    # 30 000 separate deletions: the comparison that took 28.6 s in Python.
    doc, client = _fragmented(30_000)
    known = KnownState(doc)
    same = _delete_only(client, [(2 * i + 1, 1) for i in range(30_000)])
    shifted = _delete_only(client, [(2 * i, 1) for i in range(30_000)])
    start = time.perf_counter()
    assert not changes_document(same, known)
    assert changes_document(shifted, known)
    assert time.perf_counter() - start < 1.0


def test_partly_known_deletions_are_a_change():
    doc, client = _fragmented(100)
    ranges = [(2 * i + 1, 1) for i in range(100)]
    assert not changes_document(_delete_only(client, ranges[::-1][:50]), doc)
    assert changes_document(_delete_only(client, [*ranges, (0, 2)]), doc)  # (0, 1) is new
    assert changes_document(_delete_only(client + 1, [(0, 1)]), doc)  # unknown client


@pytest.mark.timing
def test_an_update_over_the_budget_is_judged_without_comparing():
    doc, client = _fragmented(10)
    ranges = [(2 * i + 1, 1) for i in range(MAX_INSPECTED_BYTES // 3)]
    huge = _delete_only(client, ranges)
    assert len(huge) > MAX_INSPECTED_BYTES
    start = time.perf_counter()
    assert not changes_document(huge, doc)  # delete-only: what honest readers send
    assert time.perf_counter() - start < 0.05
    with_structs = b"\x01" + huge[1:]
    assert changes_document(with_structs, doc)


def test_the_known_state_follows_pure_deletions_once_invalidated():
    server: Doc[Any] = Doc()
    text = server.get("t", type=Text)
    text += "hello"
    known = KnownState(server)
    client = replica(server)
    before = client.get_state()
    del client.get("t", type=Text)[0:1]
    deletion = client.get_update(before)
    assert changes_document(deletion, known)
    server.apply_update(deletion)  # the state vector does not move
    assert changes_document(deletion, known)  # stale until told
    known.invalidate()
    assert not changes_document(deletion, known)


@pytest.mark.parametrize("garbage", [b"\x00\x01", b"\x00\x05\x01", b"\x01\x01\x02\x03",
                                     b"\x00\xff\xff\xff\xff\x0f"])
def test_undecodable_updates_are_protocol_errors(garbage):
    with pytest.raises(ProtocolError):
        changes_document(garbage, Doc())
