from __future__ import annotations

import json

import pytest

from jupyter_huddle.collab.errors import ProtocolError
from jupyter_huddle.collab.sync.awareness import AwarenessTable, encode_entries
from jupyter_huddle.collab.sync.codec import Reader


def entries(payload: bytes) -> list[tuple[int, int, object]]:
    reader = Reader(payload)
    out = []
    for _ in range(reader.read_varuint()):
        out.append((reader.read_varuint(), reader.read_varuint(),
                    json.loads(reader.read_bytes())))
    return out


def update(client_id: int, clock: int, state: object) -> bytes:
    return encode_entries([(client_id, clock, json.dumps(state).encode())])


def test_relays_accepted_entries_and_snapshots_for_newcomers():
    table = AwarenessTable(max_ids_per_owner=4)
    payload = update(10, 1, {"user": {"name": "é"}})
    assert table.apply(payload, owner="a") == payload
    assert entries(table.snapshot() or b"") == [(10, 1, {"user": {"name": "é"}})]


def test_stale_clock_is_not_relayed():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 5, {"x": 1}), owner="a")
    assert table.apply(update(10, 4, {"x": 2}), owner="a") is None


def test_other_connections_cannot_overwrite_or_remove_a_presence():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 1, {"x": 1}), owner="a")
    assert table.apply(update(10, 9, None), owner="b") is None
    assert table.apply(update(10, 9, {"spoof": True}), owner="b") is None
    assert entries(table.snapshot() or b"") == [(10, 1, {"x": 1})]


def test_closing_owner_yields_removals_with_higher_clocks():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 3, {"x": 1}), owner="a")
    table.apply(update(11, 1, {"y": 1}), owner="b")
    assert entries(table.remove_owner("a") or b"") == [(10, 4, None)]
    assert table.remove_owner("a") is None
    assert entries(table.snapshot() or b"") == [(11, 1, {"y": 1})]


def test_removal_by_owner_is_relayed_and_not_resurrected_by_snapshot():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 1, {"x": 1}), owner="a")
    assert table.apply(update(10, 1, None), owner="a") is not None
    assert table.snapshot() is None
    assert table.remove_owner("a") is None


@pytest.mark.parametrize("state", [b"not json", b"[1,2]", b'"text"', b"\xff"])
def test_states_peers_cannot_parse_are_refused(state):
    table = AwarenessTable(max_ids_per_owner=4)
    with pytest.raises(ProtocolError):
        table.apply(encode_entries([(1, 1, state)]), owner="a")


def test_bounded_ids_per_connection():
    table = AwarenessTable(max_ids_per_owner=2)
    table.apply(update(1, 1, {}), owner="a")
    table.apply(update(2, 1, {}), owner="a")
    with pytest.raises(ProtocolError, match="too many"):
        table.apply(update(3, 1, {}), owner="a")


def test_partially_accepted_update_is_reencoded():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 1, {"x": 1}), owner="a")
    mixed = encode_entries([(10, 5, b'{"evil":1}'), (20, 1, b'{"mine":1}')])
    relayed = table.apply(mixed, owner="b")
    assert entries(relayed or b"") == [(20, 1, {"mine": 1})]


def test_same_user_reconnecting_takes_over_its_presence():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 1, {"x": 1}), owner="old-socket", user="ann")
    relayed = table.apply(update(10, 2, {"x": 2}), owner="new-socket", user="ann")
    assert entries(relayed or b"") == [(10, 2, {"x": 2})]
    # the old socket closing later does not remove the presence the new one owns
    assert table.remove_owner("old-socket") is None
    assert entries(table.snapshot() or b"") == [(10, 2, {"x": 2})]
    assert table.apply(update(10, 9, None), owner="bob-socket", user="bob") is None


def test_an_echoed_removal_of_a_departed_client_claims_nothing():
    """y-websocket clients echo every awareness change they apply, so when a peer leaves,
    the others send its removal back. That echo must not make the echoing connection the
    owner of the id: the departed client could then never show its presence again when it
    reconnects (a hand-over reconnects it at once)."""
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 2, {"user": "student"}), owner="old", user="student")
    assert entries(table.remove_owner("old") or b"") == [(10, 3, None)]
    assert table.apply(update(10, 3, None), owner="teacher", user="teacher") is None
    # The student's new connection: its state comes through (at any clock), to everyone.
    assert table.apply(update(10, 2, {"user": "student"}), owner="new", user="student") is not None
    assert entries(table.snapshot() or b"") == [(10, 2, {"user": "student"})]
    assert entries(table.remove_owner("new") or b"") == [(10, 3, None)]


def test_an_echo_of_a_departed_clients_state_does_not_bring_it_back_under_another():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 5, {"cursor": 1}), owner="x-socket", user="xavier")
    table.remove_owner("x-socket")
    # another peer had not yet seen the removal and sends X's last state back
    assert table.apply(update(10, 5, {"cursor": 1}), owner="b-socket", user="bea") is None
    assert table.snapshot() is None
    # X's own new connection brings it back
    assert table.apply(update(10, 5, {"cursor": 1}), owner="x-new", user="xavier") is not None


def test_echoes_of_current_states_are_dropped_before_parsing():
    table = AwarenessTable(max_ids_per_owner=4)
    table.apply(update(10, 3, {"cursor": 1}), owner="a", user="ann")
    # not even valid JSON: an echo at a clock the table has is never parsed
    echo = encode_entries([(10, 3, b"{not json")])
    assert table.apply(echo, owner="b", user="bea") is None


def test_the_servers_entry_is_its_own_before_it_first_publishes():
    table = AwarenessTable(max_ids_per_owner=4)
    table.reserve_for_server(77)
    # a connection that claims the id first, with a high clock, gets nothing...
    assert table.apply(update(77, 10_000, {"user": {}}), owner="a", user="eve") is None
    assert table.snapshot() is None
    # ...the server's own states (clock 1, 2...) still go out...
    assert entries(table.set_server_entry(77, 1, b'{"huddle":{}}')) == [(77, 1, {"huddle": {}})]
    # ...and the claimant leaving does not take the server's entry with it
    assert table.remove_owner("a") is None
    assert entries(table.snapshot() or b"") == [(77, 1, {"huddle": {}})]


def test_server_only_fields_are_dropped_from_client_states():
    table = AwarenessTable(max_ids_per_owner=4)
    relayed = table.apply(update(10, 1, {"user": {}, "huddle": {"queue": []}, "x": 1}),
                          owner="a", user="eve", stamp={"username": "eve"})
    assert entries(relayed or b"") == [(10, 1, {"user": {"username": "eve"}, "x": 1})]
