"""Version history through the REST API of a real server, with websocket peers editing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pycrdt import Array, Map, Text

from tests.conftest import Huddle
from tests.support.guests import guest_in
from tests.support.waiting import eventually
from tests.support.yclient import YClient

BASE_CONFIG = {"save_delay_s": 0.05, "max_save_delay_s": 0.2, "room_cleanup_delay_s": 0.1,
               "save_retry_delay_s": 0.2, "version_interval_s": 0.3}


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(BASE_CONFIG)


def other_user(huddle: Huddle) -> Huddle:
    """The same server, as another person (their own login cookie, so their own name)."""
    return Huddle(huddle.app, huddle.port)


async def api(huddle: Huddle, method: str, path: str, body: Any = None,
              expect: int = 200) -> Any:
    response = await huddle.request(method, f"api/huddle/history/{path}", body)
    assert response.code == expect, (method, path, response.code, response.body[:500])
    return json.loads(response.body) if response.body else None


async def versions(huddle: Huddle, room: str) -> list[dict[str, Any]]:
    return list((await api(huddle, "GET", room))["versions"])


async def me(huddle: Huddle) -> str:
    response = await huddle.request("GET", "api/me")
    return str(json.loads(response.body)["identity"]["username"])


def as_person(huddle: Huddle, path: str) -> Any:
    """Open the notebook's room as the person ``huddle`` is (their login cookie), so
    their edits are attributed to the name the REST calls see."""
    return huddle.open(path, headers={
        "Cookie": "; ".join(f"{k}={v}" for k, v in huddle.cookies.items())})


def sources(client: YClient) -> list[str]:
    return [str(cell["source"]) for cell in client.cells]


def code_cell(cell_id: str, source: str, metadata: dict[str, Any] | None = None) -> Map:
    return Map({"id": cell_id, "cell_type": "code", "source": Text(source),
                "metadata": Map(metadata or {}), "outputs": Array(),
                "execution_count": None})


async def until_version(huddle: Huddle, room: str, count: int,
                        kind: str | None = None) -> list[dict[str, Any]]:
    """Wait until the notebook has at least ``count`` versions (of ``kind``)."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal found
        found = await versions(huddle, room)
        return len([v for v in found if kind is None or v["kind"] == kind]) >= count

    await eventually(enough, timeout=15)
    return found


async def test_saves_record_versions_with_contributors_and_summaries(huddle, write_notebook):
    write_notebook("h.ipynb", ["a = 1", "b = 2"])
    room, _ = await huddle.room_id("h.ipynb")
    await me(huddle)
    async with as_person(huddle, "h.ipynb") as client:
        [opened] = await versions(huddle, room)
        assert opened["kind"] == "opened"
        assert opened["summary"]["added"] == 2
        client.source(0).insert(5, "0")
        await client.flush()
        listed = await until_version(huddle, room, 1, kind="auto")
        auto = listed[0]
        assert auto["kind"] == "auto"
        assert [a["username"] for a in auto["authors"]] == [await me(huddle)]
        assert auto["summary"]["changed"] == 1
        assert auto["summary"]["added"] == 0
        # a named version, by anyone who may edit, is kept under its name
        named = await api(huddle, "POST", room, {"name": "submitted"}, expect=201)
        assert named["name"] == "submitted"
        assert named["kind"] == "named"
        assert named["by"]["username"] == await me(huddle)
        listing = await versions(huddle, room)
        assert listing[0]["id"] == named["id"]  # newest first
        assert [v["id"] for v in listing] == sorted((v["id"] for v in listing), reverse=True)
        renamed = await api(huddle, "PATCH", f"{room}/versions/{named['id']}",
                            {"name": "final"})
        assert renamed["name"] == "final"
        preview = await api(huddle, "GET", f"{room}/versions/{auto['id']}")
        assert [c["source"] for c in preview["notebook"]["cells"]] == ["a = 10", "b = 2"]
        # bad input is refused clearly
        await api(huddle, "POST", room, {"name": ""}, expect=400)
        await api(huddle, "POST", room, {"name": "x" * 500}, expect=400)
        await api(huddle, "GET", f"{room}/versions/{'0' * 18}", expect=404)
        await api(huddle, "GET", f"{room}/diff?from=nope", expect=400)


async def test_diff_shows_added_deleted_moved_edited_cells_and_outputs(huddle, write_notebook):
    write_notebook("d.ipynb", ["first = 1", "second = 2", "third = 3", "fourth = 4"])
    room, _ = await huddle.room_id("d.ipynb")
    async with as_person(huddle, "d.ipynb") as client:
        [base] = await versions(huddle, room)
        ids = [str(cell["id"]) for cell in client.cells]
        with client.doc.transaction():
            client.source(0).insert(len("first = "), "10")  # edit text
            moved = client.cells[3].to_py()
            del client.cells[3]  # move "fourth" to the top, as JupyterLab does
            client.cells.insert(0, code_cell(moved["id"], moved["source"], moved["metadata"]))
            del client.cells[3]  # delete "third"
            client.cells.append(code_cell("added-cell", "fifth = 5"))
            client.cells[2]["outputs"].append(Map({
                "output_type": "stream", "name": "stdout", "text": "2\n"}))
        await client.flush()
        diff = await api(huddle, "GET", f"{room}/diff?from={base['id']}&to=live")
        status = {c["id"]: c["status"] for c in diff["cells"]}
        assert status == {ids[3]: "moved", ids[0]: "changed", ids[1]: "changed",
                          ids[2]: "deleted", "added-cell": "added"}
        edited = next(c for c in diff["cells"] if c["id"] == ids[0])
        assert [(line["op"], line["text"]) for line in edited["source"]] == [
            ("-", "first = 1"), ("+", "first = 101")]
        # the changed characters are marked: two inserted, none removed
        [[start, end]] = edited["source"][1]["spans"]
        assert (start, end) in ((8, 10), (9, 11))
        assert edited["source"][0]["spans"] == []
        with_output = next(c for c in diff["cells"] if c["id"] == ids[1])
        assert "source" not in with_output
        assert with_output["outputs"] == {"from": 0, "to": 1, "added": 1, "removed": 0,
                                          "changed": 0}
        assert diff["summary"] == {"added": 1, "deleted": 1, "changed": 1, "moved": 1,
                                   "outputs_changed": 1, "metadata_changed": 0}
        # the same changes between two recorded versions
        named = await api(huddle, "POST", room, {"name": "after"}, expect=201)
        between = await api(huddle, "GET", f"{room}/diff?from={base['id']}&to={named['id']}")
        assert {c["id"]: c["status"] for c in between["cells"]} == status


async def test_restore_a_cell_while_someone_types_elsewhere_converges(huddle, write_notebook):
    write_notebook("r.ipynb", ["x = 1", "y = 2"])
    room, _ = await huddle.room_id("r.ipynb")
    bob = other_user(huddle)
    await me(huddle), await me(bob)
    async with as_person(huddle, "r.ipynb") as ann_client, as_person(bob, "r.ipynb") as bob_client:
        [base] = await versions(huddle, room)
        x_id = str(ann_client.cells[0]["id"])
        ann_client.source(0).insert(5, "00")  # x = 100
        await ann_client.flush()
        await bob_client.wait_for(lambda: sources(bob_client)[0] == "x = 100")
        # bob types in the other cell while ann restores cell 1
        bob_client.source(1).insert(5, "22")
        restored = await api(huddle, "POST", f"{room}/versions/{base['id']}/restore",
                             {"cell_id": x_id})
        assert restored["changed"]
        assert restored["restore_id"]
        assert restored["version"]["kind"] == "restore"
        assert restored["version"]["label"].startswith("restored cell 1 from ")
        await bob_client.flush()
        for client in (ann_client, bob_client):
            await client.wait_for(lambda c=client: sources(c) == ["x = 1", "y = 222"])
        # the restorer can undo it; bob's typing stays
        await api(huddle, "POST", f"{room}/restores/{restored['restore_id']}/undo", {},
                  expect=403 if False else 200)
        for client in (ann_client, bob_client):
            await client.wait_for(lambda c=client: sources(c) == ["x = 100", "y = 222"])
        kinds = [v["kind"] for v in await versions(huddle, room)]
        assert kinds[:3] == ["undo", "restore", "before-restore"]


async def test_whole_restore_with_concurrent_typing_has_no_duplicate_cells(huddle,
                                                                          write_notebook):
    write_notebook("w.ipynb", ["one", "two", "three"])
    room, _ = await huddle.room_id("w.ipynb")
    bob = other_user(huddle)
    await me(huddle), await me(bob)
    async with as_person(huddle, "w.ipynb") as ann_client, as_person(bob, "w.ipynb") as bob_client:
        [base] = await versions(huddle, room)
        with ann_client.doc.transaction():
            del ann_client.cells[1]
            ann_client.cells.append(code_cell("later", "four"))
            ann_client.source(0).insert(3, " changed")
        await ann_client.flush()
        await bob_client.wait_for(lambda: len(bob_client.cells) == 3
                                  and sources(bob_client)[2] == "four")
        # bob types in "three" while the restore happens: his edit is made before he
        # receives the restore and reaches the server after it (offline meanwhile, so the
        # order is certain)
        await bob_client.close()
        bob_client.source(1).insert(0, "# bob\n")
        restored = await api(huddle, "POST", f"{room}/versions/{base['id']}/restore", {})
        assert restored["changed"]
        await bob_client.reconnect()

        def converged(client: YClient) -> bool:
            return sources(client) == ["one", "two", "# bob\nthree"]

        for client in (ann_client, bob_client):
            await client.wait_for(lambda c=client: converged(c))
        ids = [str(cell["id"]) for cell in ann_client.cells]
        assert len(ids) == len(set(ids)) == 3
        # restoring the version again (nobody else editing) yields its content exactly
        again = await api(huddle, "POST", f"{room}/versions/{base['id']}/restore", {})
        assert again["changed"]
        await ann_client.wait_for(lambda: sources(ann_client) == ["one", "two", "three"])
        preview = await api(huddle, "GET", f"{room}/versions/{base['id']}")
        assert [c["id"] for c in preview["notebook"]["cells"]] == [
            str(c["id"]) for c in ann_client.cells]


async def test_blame_after_three_people_edit_one_cell(huddle, write_notebook):
    write_notebook("b.ipynb", ["line one\nline two\nline three"])
    room, _ = await huddle.room_id("b.ipynb")
    people = [huddle, other_user(huddle), other_user(huddle)]
    names = [await me(person) for person in people]
    assert len(set(names)) == 3
    async with (as_person(people[0], "b.ipynb") as a, as_person(people[1], "b.ipynb") as b,
                as_person(people[2], "b.ipynb") as c):
        cell_id = str(a.cells[0]["id"])
        a.source(0).insert(len("line one"), " by a")
        await a.flush()
        await b.wait_for(lambda: sources(b)[0].startswith("line one by a"))
        b.source(0).insert(len("line one by a\nline two"), " by b")
        await b.flush()
        await c.wait_for(lambda: "two by b" in sources(c)[0])
        c.source(0).insert(len(sources(c)[0]), "\nline four by c")
        await c.flush()
        await a.wait_for(lambda: sources(a)[0].endswith("four by c"))
        blame = await api(huddle, "GET", f"{room}/blame?cell_id={cell_id}")
        lines = blame["cells"][cell_id]
        assert [line["text"] for line in lines] == [
            "line one by a", "line two by b", "line three", "line four by c"]
        authors = [line["author"]["username"] if line["author"] else None for line in lines]
        # "line three" came from the file, before anyone here typed: unknown, not guessed
        assert authors == [names[0], names[1], None, names[2]]
        assert all(line["at"] for line in lines if line["author"])
        # the whole notebook at once, and a version's blame
        everything = await api(huddle, "GET", f"{room}/blame")
        assert everything["cells"][cell_id] == lines
        await api(huddle, "GET", f"{room}/blame?cell_id=no-such-cell", expect=404)


async def test_changes_since_you_last_looked(huddle, write_notebook):
    write_notebook("c.ipynb", ["alpha", "beta", "gamma"])
    room, _ = await huddle.room_id("c.ipynb")
    bob = other_user(huddle)
    await me(huddle), await me(bob)
    # ann has never looked: nothing is marked
    assert (await api(huddle, "GET", f"{room}/changes"))["since"] is None
    async with as_person(huddle, "c.ipynb") as ann_client:
        ids = [str(cell["id"]) for cell in ann_client.cells]
        await api(huddle, "POST", f"{room}/seen", {})
    async with as_person(bob, "c.ipynb") as bob_client:
        bob_client.source(1).insert(4, " by bob")
        bob_client.cells.append(code_cell("new-one", "delta"))
        await bob_client.flush()
        changes: dict[str, Any] = {}

        async def noticed() -> bool:
            nonlocal changes
            changes = await api(huddle, "GET", f"{room}/changes")
            return len(changes["cells"]) == 2

        await eventually(noticed, timeout=10)
    bob_name = await me(bob)
    by_id = {c["id"]: c for c in changes["cells"]}
    assert by_id[ids[1]]["change"] == "changed"
    assert [p["username"] for p in by_id[ids[1]]["by"]] == [bob_name]
    assert by_id["new-one"]["change"] == "added"
    assert ids[0] not in by_id
    assert ids[2] not in by_id
    # once ann looks again, nothing is new
    await api(huddle, "POST", f"{room}/seen", {})
    assert (await api(huddle, "GET", f"{room}/changes"))["cells"] == []
    # bob's marks are his own
    assert (await api(bob, "GET", f"{room}/changes"))["since"] is None


async def test_roles_read_may_browse_edit_may_restore_guests_see_only_theirs(
        huddle, write_notebook):
    write_notebook("mine.ipynb", ["shared = 1"])
    write_notebook("secret.ipynb", ["secret = 42"])
    room, _ = await huddle.room_id("mine.ipynb")
    secret_room, _ = await huddle.room_id("secret.ipynb")
    [version] = await versions(huddle, room)
    viewer, viewer_room, _ = await guest_in(huddle, "mine.ipynb", "viewer", "Vi")
    assert viewer_room == room
    base = "api/huddle/history/"
    listing = await viewer.json("GET", base + room)
    assert [v["id"] for v in listing["versions"]] == [version["id"]]
    await viewer.json("GET", f"{base}{room}/diff?from={version['id']}&to=live")
    await viewer.json("GET", f"{base}{room}/blame")
    await viewer.json("POST", f"{base}{room}/seen", {})
    for method, path, body in [
            ("POST", f"{base}{room}", {"name": "mine"}),
            ("PATCH", f"{base}{room}/versions/{version['id']}", {"name": "x"}),
            ("POST", f"{base}{room}/versions/{version['id']}/restore", {})]:
        response = await viewer.request(method, path, body)
        assert response.code == 403, (method, path, response.code)
    # another notebook's history is not reachable with this link
    for path in (base + secret_room, f"{base}{secret_room}/blame"):
        response = await viewer.request("GET", path)
        assert response.code == 403, (path, response.code)
    editor, _, _ = await guest_in(huddle, "mine.ipynb", "editor", "Ed")
    named = await editor.json("POST", base + room, {"name": "guest's"}, expect=201)
    assert named["by"]["display_name"] == "Ed"


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "max_named_versions": 2,
                                            "history_actions_per_minute": 5}])
async def test_named_versions_and_actions_are_bounded_and_bad_input_refused(
        huddle, write_notebook):
    write_notebook("bounds.ipynb", ["x = 1"])
    room, _ = await huddle.room_id("bounds.ipynb")
    for name in ("one", "two"):
        await api(huddle, "POST", room, {"name": name}, expect=201)
    await api(huddle, "POST", room, {"name": "three"}, expect=409)  # max_named_versions
    # removing a name frees a place
    first = next(v for v in await versions(huddle, room) if v["name"] == "one")
    await api(huddle, "PATCH", f"{room}/versions/{first['id']}", {"name": None})
    await api(huddle, "POST", room, {"name": "three"}, expect=201)
    # five actions a minute: the sixth is refused with Retry-After
    response = await huddle.request("POST", f"api/huddle/history/{room}", {"name": "four"})
    assert response.code == 429
    assert int(response.headers["Retry-After"]) >= 1
    # paging
    page = await api(huddle, "GET", f"{room}?limit=2")
    assert len(page["versions"]) == 2
    assert page["more"]
    rest = await api(huddle, "GET", f"{room}?limit=1000&before={page['versions'][-1]['id']}")
    assert not rest["more"]
    assert {v["id"] for v in page["versions"]}.isdisjoint(v["id"] for v in rest["versions"])
    for path, body in [(room, ["not", "an", "object"]), (room, {"name": 5}),
                       (f"{room}/versions/{first['id']}/restore", {"cell_id": "../x"}),
                       (f"{room}/versions/{first['id']}/restore", {"cell_id": 3})]:
        response = await huddle.request("POST", f"api/huddle/history/{path}", body)
        assert response.code in (400, 429), (path, body, response.code)
    for query in ("?limit=0", "?limit=x", "?before=zz", "/blame?cell_id=%2E%2E",
                  "/diff?from=live&to=nope"):
        response = await huddle.request("GET", f"api/huddle/history/{room}{query}")
        assert response.code == 400, (query, response.code)
    response = await huddle.request("GET", "api/huddle/history/not-a-document-id")
    assert response.code == 400


async def test_history_follows_renames_and_records_before_outside_changes(
        huddle, write_notebook, jp_root_dir):
    write_notebook("old name.ipynb", ["x = 1"])
    room, _ = await huddle.room_id("old name.ipynb")
    async with as_person(huddle, "old name.ipynb") as client:
        named = await api(huddle, "POST", room, {"name": "start"}, expect=201)
        response = await huddle.request("PATCH", "api/contents/old%20name.ipynb",
                                        {"path": "new name.ipynb"})
        assert response.code == 200
        # the file changes outside Huddle: the live notebook is recorded first
        client.source(0).insert(5, "0")
        await client.flush()
        await eventually(lambda: "x = 10" in (jp_root_dir / "new name.ipynb").read_text(),
                         timeout=10)
        await until_version(huddle, room, 1, kind="auto")  # recorded once the save is done
        nb = json.loads((jp_root_dir / "new name.ipynb").read_text())
        nb["cells"][0]["source"] = "x = 99  # from git"
        (jp_root_dir / "new name.ipynb").write_text(json.dumps(nb))
        await client.wait_for(lambda: sources(client) == ["x = 99  # from git"])
        # the notebook as it was before the outside change is a version (the auto one
        # recorded after the save; a "before-outside" one only when it differs)
        listed = await versions(huddle, room)
    renamed_room, _ = await huddle.room_id("new name.ipynb")
    assert renamed_room == room  # the file id, and so the history, follows the rename
    previews = [await api(huddle, "GET", f"{room}/versions/{v['id']}") for v in listed
                if v["kind"] in ("auto", "before-outside")]
    assert any(p["notebook"]["cells"][0]["source"] == "x = 10" for p in previews)
    assert named["id"] in {v["id"] for v in listed}
    blame = await api(huddle, "GET", f"{room}/blame")
    [[line]] = blame["cells"].values()
    assert line["author"] == {"username": None, "display_name": "changed on disk"}
