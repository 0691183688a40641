"""Review threads through the REST API of a real server, seen live by websocket peers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import nbformat
import pytest
from pycrdt import Doc, Map

from jupyter_huddle.collab.ids import parse_room_id
from jupyter_huddle.server.app import COMMENTS_SCHEMA_ID
from tests.conftest import Huddle
from tests.support.waiting import eventually

BASE_CONFIG = {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.1,
               "save_retry_delay_s": 0.2}


def other_user(huddle: Huddle) -> Huddle:
    """The same server, as a second person (their own login cookie, so their own name)."""
    return Huddle(huddle.app, huddle.port)


async def api(huddle: Huddle, method: str, path: str, body: Any = None,
              expect: int = 200) -> Any:
    response = await huddle.request(method, f"api/huddle/comments/{path}", body)
    assert response.code == expect, (response.code, response.body[:500])
    return json.loads(response.body) if response.body else None


async def threads(huddle: Huddle, room: str) -> list[dict[str, Any]]:
    return list((await api(huddle, "GET", room))["threads"])


def root_threads(doc: Doc) -> dict[str, Any]:
    return dict(doc.get("comments", type=Map).to_py() or {})


async def me(huddle: Huddle) -> dict[str, Any]:
    response = await huddle.request("GET", "api/me")
    return dict(json.loads(response.body)["identity"])


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(BASE_CONFIG)


async def test_a_thread_is_created_replied_resolved_and_seen_live(huddle, write_notebook):
    write_notebook("review.ipynb", ["total = price * quantity", "print(total)"])
    room, _ = await huddle.room_id("review.ipynb")
    bob = other_user(huddle)
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        events.append(dict(data))

    huddle.app.event_logger.add_listener(schema_id=COMMENTS_SCHEMA_ID, listener=listener)
    try:
        async with huddle.open("review.ipynb") as watcher:
            cell_id = watcher.cells[0]["id"]
            ann = await me(huddle)
            await api(bob, "GET", room)  # bob is known to the server now: he can be named
            bob_name = (await me(bob))["username"]
            users = json.loads((await huddle.request("GET", "api/huddle/users")).body)
            handles = {u["username"]: u["handle"] for u in users["users"]}
            assert bob_name in handles
            thread = await api(huddle, "POST", room, {
                "anchor": {"cell_id": cell_id, "kind": "text", "start": 8, "end": 24},
                "body": f"Is **quantity** ever negative? @{handles[bob_name]}",
            }, expect=201)
            assert thread["anchor"]["quote"] == "price * quantity"
            assert thread["author"]["username"] == ann["username"]
            assert thread["position"] == {"state": "attached", "start": 8, "end": 24,
                                          "text": "price * quantity"}
            # the peer's document has it at once, stamped by the server
            await watcher.wait_for(lambda: thread["id"] in root_threads(watcher.doc))
            live = root_threads(watcher.doc)[thread["id"]]
            assert live["messages"][0]["author"]["username"] == ann["username"]
            assert live["mentions"] == [bob_name]
            listing = await api(bob, "GET", room)
            assert listing["unread_mentions"] == [thread["id"]]

            reply = await api(bob, "POST", f"{room}/{thread['id']}/messages",
                              {"body": "Never: it is validated upstream."}, expect=201)
            await api(bob, "POST", f"{room}/{thread['id']}/read", expect=204)
            assert (await api(bob, "GET", room))["unread_mentions"] == []
            # only its author edits a message; anyone who may write resolves
            await api(huddle, "PATCH", f"{room}/{thread['id']}/messages/{reply['id']}",
                      {"body": "hijacked"}, expect=403)
            edited = await api(bob, "PATCH", f"{room}/{thread['id']}/messages/{reply['id']}",
                               {"body": "Never: validated upstream."})
            assert edited["messages"][1]["body"] == "Never: validated upstream."
            assert edited["messages"][1]["edited"] is not None
            resolved = await api(bob, "POST", f"{room}/{thread['id']}/status",
                                 {"status": "resolved"})
            assert resolved["status"] == "resolved"
            assert resolved["resolved_by"]["username"] == bob_name
            await watcher.wait_for(
                lambda: root_threads(watcher.doc)[thread["id"]]["status"] == "resolved")
            reopened = await api(huddle, "POST", f"{room}/{thread['id']}/status",
                                 {"status": "open"})
            assert reopened["resolved_by"] is None
            # deleting the last message deletes the thread
            await api(bob, "DELETE", f"{room}/{thread['id']}/messages/{reply['id']}",
                      expect=204)
            first = thread["messages"][0]["id"]
            await api(huddle, "DELETE", f"{room}/{thread['id']}/messages/{first}", expect=204)
            await watcher.wait_for(lambda: not root_threads(watcher.doc))
    finally:
        huddle.app.event_logger.remove_listener(schema_id=COMMENTS_SCHEMA_ID,
                                                listener=listener)
    actions = [(e["action"], e["username"]) for e in events]
    assert actions == [
        ("created", ann["username"]), ("replied", bob_name), ("edited", bob_name),
        ("resolved", bob_name), ("reopened", ann["username"]), ("deleted", bob_name),
        ("deleted", ann["username"])]
    assert {e["document_id"] for e in events} == {room}
    assert {e.get("path") for e in events} == {"review.ipynb"}
    assert events[0]["mentions"] == [bob_name]
    assert events[0]["cell_id"] == cell_id


async def test_bad_requests_are_refused_with_a_reason_and_write_nothing(huddle,
                                                                        write_notebook):
    write_notebook("bad.ipynb", ["x = 1"])
    room, _ = await huddle.room_id("bad.ipynb")
    async with huddle.open("bad.ipynb") as watcher:
        cell_id = watcher.cells[0]["id"]
        before = watcher.doc.get_state()
        unknown_room = f"json:notebook:{uuid.uuid4()}"
        cases: list[tuple[str, str, Any, int, str]] = [
            ("POST", unknown_room, {"anchor": {"cell_id": cell_id}, "body": "x"}, 404, ""),
            ("POST", "not-a-room", {"anchor": {"cell_id": cell_id}, "body": "x"}, 400,
             "document_id"),
            ("POST", room, {"anchor": {"cell_id": "nope"}, "body": "x"}, 400, "no cell"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "start": 0, "end": 99},
                            "body": "x"}, 400, "outside the text"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "start": 3, "end": 1},
                            "body": "x"}, 400, "start must not be after end"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "start": -1, "end": 1},
                            "body": "x"}, 400, "non-negative"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "kind": "output",
                                       "output_index": 0}, "body": "x"}, 400, "no output"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "kind": "cell"}, "body": "  "},
             400, "non-empty"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "kind": "cell"},
                            "body": "x" * 1_000_000}, 413, "at most"),
            ("POST", room, {"anchor": {"cell_id": cell_id, "kind": "cell"}, "body": "x",
                            "suggestion": "y"}, 400, "suggestion"),
            ("POST", room, ["not", "an", "object"], 400, "JSON object"),
            ("POST", f"{room}/{'0' * 32}/messages", {"body": "x"}, 404, "no thread"),
            ("POST", f"{room}/{'0' * 32}/status", {"status": "resolved"}, 404, "no thread"),
            ("POST", f"{room}/{'0' * 32}/suggestion", {"decision": "accept"}, 404,
             "no thread"),
        ]
        for method, path, body, status, reason in cases:
            response = await huddle.request(method, f"api/huddle/comments/{path}", body)
            assert response.code == status, (path, body if len(str(body)) < 200 else "...",
                                              response.code, response.body[:300])
            assert reason.lower() in response.body.decode().lower(), response.body[:300]
        response = await huddle.request("POST", f"api/huddle/comments/{room}",
                                        raw_body=b"{not json")
        assert response.code == 400
        # nothing was written: the room's document did not move
        await api(huddle, "GET", room)
        assert watcher.doc.get_state() == before
        assert not root_threads(watcher.doc)
        assert await threads(huddle, room) == []


async def test_a_forged_write_to_the_comments_root_is_refused(huddle, write_notebook):
    write_notebook("forge.ipynb", ["secret = 42"])
    room, _ = await huddle.room_id("forge.ipynb")
    async with huddle.open("forge.ipynb") as forger, huddle.open("forge.ipynb") as other:
        cell_id = forger.cells[0]["id"]
        real = await api(huddle, "POST", room, {"anchor": {"cell_id": cell_id, "kind": "cell"},
                                                "body": "genuine"}, expect=201)
        await forger.wait_for(lambda: real["id"] in root_threads(forger.doc))
        comments = forger.doc.get("comments", type=Map)
        with forger.doc.transaction():
            comments["forged"] = Map({"id": "forged", "messages": [
                {"author": {"username": "the-instructor"}, "body": "approved"}]})
            comments[real["id"]]["status"] = "resolved"
            forger.source(0).insert(0, "# fine edit\n")  # the legitimate part survives
        await forger.wait_for(lambda: any(r.get("reason") == "protected" for r in forger.raw))
        await forger.wait_for(lambda: "forged" not in root_threads(forger.doc))
        await other.wait_for(lambda: str(other.source(0)).startswith("# fine edit"))
        assert set(root_threads(other.doc)) == {real["id"]}
        assert root_threads(other.doc)[real["id"]]["status"] == "open"
        assert root_threads(forger.doc)[real["id"]]["status"] == "open"
        listed = await threads(huddle, room)
        assert [t["id"] for t in listed] == [real["id"]]
        assert listed[0]["status"] == "open"


async def test_anchors_follow_concurrent_edits_from_several_clients(huddle, write_notebook):
    write_notebook("moves.ipynb", ["def área(r):\n    return 3.14 * r ** 2\n"])
    room, _ = await huddle.room_id("moves.ipynb")
    async with huddle.open("moves.ipynb") as a, huddle.open("moves.ipynb") as b:
        cell_id = a.cells[0]["id"]
        source = str(a.source(0))
        start = source.index("3.14")
        thread = await api(huddle, "POST", room, {
            "anchor": {"cell_id": cell_id, "start": start, "end": start + len("3.14 * r")},
            "body": "use math.pi"}, expect=201)
        await b.wait_for(lambda: thread["id"] in root_threads(b.doc))
        # a types before the range, b inside it, both at once (neither has seen the other)
        a.source(0).insert(0, "# 📐 geometry\n")
        inside = len(str(b.source(0))[:start + len("3.14 ")].encode())
        b.source(0).insert(inside, "(")
        b.source(0).insert(len(str(b.source(0)).encode()), "# after\n")

        def converged() -> bool:
            return str(a.source(0)) == str(b.source(0)) and "(" in str(a.source(0)) and \
                "📐" in str(b.source(0))

        await a.wait_for(converged)
        await b.wait_for(converged)
        text = str(a.source(0))

        async def moved() -> Any:
            listed = await threads(huddle, room)
            return listed if listed and listed[0]["position"].get("text") == \
                "3.14 (* r" else None

        listed = await eventually(moved, what="the anchor to follow the edits")
        position = listed[0]["position"]
        utf16 = text.encode("utf-16-le")
        assert utf16[position["start"] * 2:position["end"] * 2].decode("utf-16-le") == \
            "3.14 (* r"
        # deleting the anchored text detaches the thread, keeping its quote
        begin = text.index("3.14 (* r")
        del a.source(0)[len(text[:begin].encode()):len(text[:begin + 9].encode())]

        async def detached() -> Any:
            listed = await threads(huddle, room)
            return listed if listed[0]["position"]["state"] == "detached" else None

        listed = await eventually(detached, what="the thread to detach")
        assert listed[0]["anchor"]["quote"] == "3.14 * r"
        # deleting the cell keeps the thread, orphaned
        with a.doc.transaction():
            a.cells.append(Map({"id": "tail", "cell_type": "code", "source": "",
                                "metadata": {}, "outputs": [], "execution_count": None}))
        await b.wait_for(lambda: len(b.cells) == 2)
        del a.cells[0]

        async def orphaned() -> Any:
            listed = await threads(huddle, room)
            return listed if listed[0]["position"]["state"] == "orphaned" else None

        await eventually(orphaned, what="the thread to be orphaned")


async def test_a_suggestion_accepted_while_the_range_is_edited_converges(huddle,
                                                                         write_notebook):
    write_notebook("suggest.ipynb", ["result = compute(values)"])
    room, _ = await huddle.room_id("suggest.ipynb")
    async with huddle.open("suggest.ipynb") as a, huddle.open("suggest.ipynb") as b:
        cell_id = a.cells[0]["id"]
        thread = await api(huddle, "POST", room, {
            "anchor": {"cell_id": cell_id, "start": 9, "end": 24},
            "body": "clearer name", "suggestion": "summarise(values)"}, expect=201)
        assert thread["suggestion"]["state"] == "open"
        await a.wait_for(lambda: thread["id"] in root_threads(a.doc))
        # a edits inside the range without having seen the acceptance (a fork of its doc)
        fork: Doc[Any] = Doc()
        fork.apply_update(a.doc.get_update())
        fork_cells = fork.get("cells", type=type(a.cells))
        fork_cells[0]["source"].insert(len(b"result = compute("), "all_")
        concurrent = fork.get_update(a.doc.get_state())
        reviewer = other_user(huddle)
        decided = await api(reviewer, "POST", f"{room}/{thread['id']}/suggestion",
                            {"decision": "accept"})
        assert decided["suggestion"]["state"] == "accepted"
        assert decided["suggestion"]["decided_by"]["username"] == (await me(reviewer))[
            "username"]
        assert decided["status"] == "resolved"
        a.doc.apply_update(concurrent)  # now a's edit goes out

        def same() -> bool:
            return str(a.source(0)) == str(b.source(0)) and "summarise" in str(b.source(0)) \
                and "all_" in str(b.source(0))

        await a.wait_for(same)
        await b.wait_for(same)
        final = str(a.source(0))
        # the replacement went in once, the concurrent insertion once, nothing duplicated
        assert final.startswith("result = ")
        assert final.count("summarise(values)") == 1
        assert final.count("all_") == 1
        server_room = huddle.extension.rooms.get(parse_room_id(room))
        assert str(server_room.document.cells[0]["source"]) == final
        # a suggestion is decided once
        await api(huddle, "POST", f"{room}/{thread['id']}/suggestion", {"decision": "reject"},
                  expect=400)


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "compact_after_updates": 5}])
async def test_threads_survive_saving_compaction_eviction_and_rename(huddle, write_notebook,
                                                                     jp_root_dir):
    write_notebook("keep.ipynb", ["a = 1", "b = 2"])
    room, _ = await huddle.room_id("keep.ipynb")
    async with huddle.open("keep.ipynb") as client:
        cell_id = client.cells[1]["id"]
        thread = await api(huddle, "POST", room, {
            "anchor": {"cell_id": cell_id, "start": 4, "end": 5}, "body": "why 2?"},
            expect=201)
        for i in range(12):  # more updates than compaction allows: the log is compacted
            client.source(0).insert(len(str(client.source(0)).encode()), f"  # {i}")
        await client.flush()

        async def saved_with_thread() -> Any:
            nb = nbformat.read(str(jp_root_dir / "keep.ipynb"), as_version=4)
            saved = nb.metadata.get("huddle", {}).get("comments", [])
            return saved if saved and "# 11" in nb.cells[0].source else None

        saved = await eventually(saved_with_thread, what="the file to be saved with threads")
        store = huddle.extension.rooms.store

        async def compacted() -> bool:
            history = await store.load(room)
            return history is not None and len(history.updates) < 12

        await eventually(compacted, what="the update log to be compacted")
        assert saved[0]["id"] == thread["id"]
        assert saved[0]["anchor"] == {"cell_id": cell_id, "kind": "text", "quote": "2",
                                      "original_quote": "2", "start_offset": 4,
                                      "end_offset": 5}
        assert saved[0]["messages"][0]["body"] == "why 2?"
    rooms = huddle.extension.rooms

    async def evicted() -> bool:
        return not len(rooms)

    await eventually(evicted, what="the room to be evicted")
    # rename on disk through the contents API: the file id (and room) stays
    response = await huddle.request("PATCH", "api/contents/keep.ipynb",
                                    {"path": "kept.ipynb"})
    assert response.code == 200, response.body
    renamed_room, _ = await huddle.room_id("kept.ipynb")
    assert renamed_room == room
    listed = await threads(huddle, room)
    assert [t["id"] for t in listed] == [thread["id"]]
    assert listed[0]["position"] == {"state": "attached", "start": 4, "end": 5, "text": "2"}
    # the file's copy of the threads is not loaded a second time on reopening
    async with huddle.open("kept.ipynb") as client:
        assert list(root_threads(client.doc)) == [thread["id"]]


# (with the history stamp off too: then nothing of Huddle's is written into the file)
@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "save_comments": False,
                                            "save_history_stamp": False}])
async def test_saving_threads_into_the_file_can_be_turned_off(huddle, write_notebook,
                                                              jp_root_dir):
    write_notebook("private.ipynb", ["a = 1"])
    room, _ = await huddle.room_id("private.ipynb")
    async with huddle.open("private.ipynb") as client:
        await api(huddle, "POST", room, {"anchor": {"cell_id": client.cells[0]["id"],
                                                    "kind": "cell"}, "body": "internal"},
                  expect=201)
        client.source(0).insert(0, "# edited\n")
        assert await client.save() == "success"
    nb = nbformat.read(str(jp_root_dir / "private.ipynb"), as_version=4)
    assert nb.cells[0].source.startswith("# edited")
    assert "huddle" not in nb.metadata
    assert len(await threads(huddle, room)) == 1


async def test_an_outside_edit_keeps_threads_and_degrades_lost_anchors(huddle,
                                                                       write_notebook,
                                                                       jp_root_dir):
    write_notebook("outside.ipynb", ["alpha = 1", "beta = 2"])
    room, _ = await huddle.room_id("outside.ipynb")
    async with huddle.open("outside.ipynb") as client:
        first, second = client.cells[0]["id"], client.cells[1]["id"]
        kept = await api(huddle, "POST", room, {
            "anchor": {"cell_id": first, "start": 0, "end": 5}, "body": "name?"}, expect=201)
        lost = await api(huddle, "POST", room, {
            "anchor": {"cell_id": second, "start": 0, "end": 4}, "body": "beta?"}, expect=201)
        assert await client.save() == "success"
        # another program rewrites the file: cell 2's text is replaced, a cell is added,
        # and its copy of the threads is tampered with
        path = jp_root_dir / "outside.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nb.cells[1].source = "gamma = 3"
        nb.cells.append(nbformat.v4.new_markdown_cell("added outside"))
        nb.metadata["huddle"]["comments"][0]["messages"][0]["body"] = "tampered"
        nbformat.write(nb, str(path))
        await client.wait_for(lambda: len(client.cells) == 3, timeout=20)

        async def settled() -> Any:
            listed = await threads(huddle, room)
            lost_anchor: dict[str, Any] = next(
                (t["anchor"] for t in listed if t["id"] == lost["id"]), {})
            return listed if lost_anchor.get("kind") == "cell" else None

        listed = await eventually(settled, what="the outside edit to be merged")
        by_id = {t["id"]: t for t in listed}
        assert set(by_id) == {kept["id"], lost["id"]}
        assert by_id[kept["id"]]["position"]["state"] == "attached"
        assert by_id[kept["id"]]["position"]["text"] == "alpha"
        assert by_id[kept["id"]]["messages"][0]["body"] == "name?"  # the room is the truth
        # its text is gone: the thread now points at its cell, with the quote kept
        assert by_id[lost["id"]]["anchor"] == {"cell_id": second, "kind": "cell",
                                               "quote": "beta"}
        assert by_id[lost["id"]]["position"] == {"state": "attached"}


async def test_comments_need_write_and_reading_needs_read(huddle, write_notebook):
    write_notebook("perm.ipynb", ["x = 1"])
    room, _ = await huddle.room_id("perm.ipynb")
    response = await huddle.request("GET", f"api/huddle/comments/{room}", token=None)
    assert response.code in (401, 403)
    response = await huddle.request("POST", f"api/huddle/comments/{room}",
                                    {"anchor": {"cell_id": "x", "kind": "cell"}, "body": "x"},
                                    token=None)
    assert response.code in (401, 403)
