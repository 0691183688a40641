from __future__ import annotations

from pycrdt import Doc, Map, Text

from jupyter_huddle.collab.update_inspect import changes_document


def replica(doc: Doc) -> Doc:
    copy = Doc()
    copy.apply_update(doc.get_update())
    return copy


def test_a_replica_with_nothing_new_changes_nothing_even_with_deletions():
    server = Doc()
    text = server.get("t", type=Text)
    text += "hello world"
    del text[0:6]
    client = replica(server)
    # A SyncStep2 reply always carries the sender's whole delete set.
    assert not changes_document(client.get_update(server.get_state()), server)
    assert not changes_document(client.get_update(), server)


def test_new_inserts_are_changes():
    server = Doc()
    server.get("t", type=Text).insert(0, "a")
    client = replica(server)
    client.get("t", type=Text).insert(1, "b")
    assert changes_document(client.get_update(server.get_state()), server)


def test_a_delete_only_update_is_a_change():
    server = Doc()
    server.get("t", type=Text).insert(0, "abc")
    client = replica(server)
    before = client.get_state()
    del client.get("t", type=Text)[0:1]
    delta = client.get_update(before)
    assert changes_document(delta, server)


def test_map_changes_are_changes():
    server = Doc()
    server.get("m", type=Map)["k"] = 1
    client = replica(server)
    client.get("m", type=Map)["k"] = 2
    assert changes_document(client.get_update(server.get_state()), server)


def test_an_edit_on_top_of_a_refused_edit_is_a_change_not_a_protocol_error():
    # A read-only peer's first edit is refused; its next one builds on it, so the server
    # sees items whose dependencies it never got. That is a change to refuse, not garbage.
    server = Doc()
    server.get("t", type=Text).insert(0, "base")
    client = Doc()
    client.apply_update(server.get_update())
    text = client.get("t", type=Text)
    text.insert(0, "first ")
    before_second = client.get_state()
    client.get("m", type=Map)["k"] = "second"
    second = client.get_update(before_second)
    assert changes_document(second, server)
