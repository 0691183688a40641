"""Share links and roles on a real server, tried the way an attacker with a link would."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from pycrdt import Map

from tests.support.guests import Browser, guest_in, share, start_kernel, stop_kernels
from tests.support.yclient import YClient

BASE_CONFIG = {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
               "save_retry_delay_s": 0.2}


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(BASE_CONFIG)


async def test_a_view_link_reaches_only_its_notebook_and_changes_nothing(
        huddle, write_notebook, jp_root_dir):
    write_notebook("shared.ipynb", ["print('hello')"])
    write_notebook("private.ipynb", ["secret = 'do not read'"])
    (jp_root_dir / "notes.txt").write_text("private notes")
    kernel_id = await start_kernel(huddle, "shared.ipynb")
    try:
        guest, room, session = await guest_in(huddle, "shared.ipynb", "viewer", "Vera")
        private_room, _ = await huddle.room_id("private.ipynb")
        access = await guest.json("GET", f"api/huddle/access/{room}")
        assert access == {"role": "viewer", "capabilities": ["read"], "guest": True,
                          "copy": False}
        me = await guest.json("GET", "api/me")
        assert me["identity"]["name"] == "Vera"
        assert me["identity"]["username"].startswith("guest-")

        async with huddle.open("shared.ipynb") as owner, guest.client(room, session) as view:
            async with asyncio.timeout(20):
                await view.synced.wait()
            assert str(view.source(0)) == "print('hello')"
            cell_id = view.cells[0]["id"]
            # document updates and comment-root writes: refused, never applied
            view.source(0).insert(0, "import os; os.system('rm -rf ~')\n")
            view.doc.get("comments", type=Map)["fake"] = Map({"id": "fake"})
            await view.wait_for(lambda: any(r.get("reason") == "read_only" for r in view.raw))
            await owner.wait_for(lambda: view.awareness is not None)
            assert str(owner.source(0)) == "print('hello')"
            assert not owner.doc.get("comments", type=Map).to_py()
            # presence shows the name the server knows, whatever the client claims
            await view.send(_awareness(view.doc.client_id, {"user": {"name": "The Owner"}}))
            await owner.wait_for(lambda: view.doc.client_id in owner.awareness)
            assert owner.awareness[view.doc.client_id]["user"]["name"] == "Vera"

            refusals = [
                ("POST", f"api/huddle/comments/{room}",
                 {"anchor": {"cell_id": cell_id, "kind": "cell"}, "body": "hi"}),
                ("POST", f"api/kernels/{kernel_id}/execute",
                 {"document_id": room, "cells": [{"cell_id": cell_id}]}),
                ("POST", f"api/huddle/kernels/{kernel_id}/restart", None),
                ("POST", f"api/huddle/kernels/{kernel_id}/interrupt", None),
                ("POST", f"api/huddle/kernel/{room}", None),
                ("GET", f"api/huddle/links/{room}", None),
                ("POST", f"api/huddle/links/{room}", {"role": "editor"}),
                ("POST", f"api/huddle/grants/{room}",
                 {"username": me["identity"]["username"], "role": "editor"}),
                # Jupyter's own APIs: the file tree, other files, kernels, terminals,
                # sessions, settings
                ("GET", "api/contents", None),
                ("GET", "api/contents/private.ipynb", None),
                ("GET", "api/contents/shared.ipynb", None),
                ("PUT", "api/contents/shared.ipynb", {"type": "file", "content": "x"}),
                ("GET", "files/notes.txt", None),
                ("GET", "api/kernels", None),
                ("POST", "api/kernels", {"name": "python3"}),
                ("GET", "api/sessions", None),
                ("GET", "api/terminals", None),
                ("POST", "api/terminals", None),
                ("GET", "api/config/notebook", None),
                ("GET", "api/kernelspecs", None),
                ("GET", "lab/api/settings", None),
                ("GET", "api/huddle/users", None),
                # Huddle's routes for another notebook
                ("PUT", "api/collaboration/session/private.ipynb",
                 {"format": "json", "type": "notebook"}),
                ("PUT", "api/collaboration/session/no-such.ipynb",
                 {"format": "json", "type": "notebook"}),
                ("GET", f"api/huddle/comments/{private_room}", None),
                ("GET", f"api/huddle/export/{private_room}?format=ipynb", None),
                ("GET", f"api/huddle/queue/{private_room}", None),
            ]
            for method, path, body in refusals:
                response = await guest.request(method, path, body)
                assert response.code in (403, 404) if path.startswith("lab/") else \
                    response.code == 403, (method, path, response.code, response.body[:200])
            # a kernel websocket of their own, or a room of another notebook: refused
            for url in (f"{huddle.ws_url}api/kernels/{kernel_id}/channels",
                        f"{huddle.ws_url}api/collaboration/room/{private_room}?sessionId=x"):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    await websockets.connect(url, additional_headers={
                        "Cookie": guest.cookie_header()})
                assert refused.value.response.status_code == 403
            # the app's other pages lead back to the shared notebook
            home = await guest.request("GET", "huddle/")
            assert home.code == 302
            assert home.headers["Location"].endswith("huddle/notebooks/shared.ipynb")
            # reading what was shared works: export and the queue
            exported = await guest.request("GET", f"api/huddle/export/{room}?format=python")
            assert exported.code == 200
            assert b"print('hello')" in exported.body
            await guest.json("GET", f"api/huddle/queue/{room}")
            await guest.json("GET", f"api/huddle/comments/{room}")
            assert str(owner.source(0)) == "print('hello')"
        # the owner kept full access throughout
        assert (await huddle.request("GET", "api/contents")).code == 200
        assert (await huddle.request("GET", f"api/huddle/links/{room}")).code == 200
    finally:
        await stop_kernels(huddle)


def _awareness(client_id: int, state: dict) -> bytes:
    from tests.support.yclient import awareness_update

    return awareness_update(client_id, 10, state)


async def test_roles_decide_comment_run_edit_and_restart(huddle, write_notebook):
    write_notebook("class.ipynb", ["x = 1", "print(x)"])
    kernel_id = await start_kernel(huddle, "class.ipynb")
    try:
        commenter, room, _ = await guest_in(huddle, "class.ipynb", "commenter", "Cy")
        runner, _, runner_session = await guest_in(huddle, "class.ipynb", "runner", "Ru")
        editor, _, editor_session = await guest_in(huddle, "class.ipynb", "editor", "Ed")
        async with huddle.open("class.ipynb") as owner:
            ids = [c["id"] for c in owner.cells]
            execute = {"document_id": room, "cells": [{"cell_id": ids[1]}]}
            comment = {"anchor": {"cell_id": ids[0], "kind": "cell"}, "body": "why 1?"}
            await commenter.json("POST", f"api/huddle/comments/{room}", comment, expect=201)
            await commenter.json("POST", f"api/kernels/{kernel_id}/execute", execute,
                                 expect=403)
            # a runner runs cells (starting the notebook's kernel through Huddle, not the
            # sessions API), interrupts, but neither edits nor restarts
            started = await runner.json("POST", f"api/huddle/kernel/{room}")
            assert started["kernel_id"] == kernel_id
            await runner.json("POST", f"api/kernels/{kernel_id}/execute", execute, expect=202)
            await owner.wait_for(lambda: owner.cells[1].get("execution_count") is not None,
                                 timeout=60)
            await runner.json("POST", f"api/huddle/kernels/{kernel_id}/interrupt",
                              expect=204)
            await runner.json("POST", f"api/huddle/kernels/{kernel_id}/restart", expect=403)
            async with runner.client(room, runner_session) as run_view:
                async with asyncio.timeout(20):
                    await run_view.synced.wait()
                run_view.source(0).insert(0, "# runner edit\n")
                await run_view.wait_for(
                    lambda: any(r.get("reason") == "read_only" for r in run_view.raw))
            # an editor edits and restarts
            async with editor.client(room, editor_session) as edit_view:
                async with asyncio.timeout(20):
                    await edit_view.synced.wait()
                edit_view.source(0).insert(0, "# editor edit\n")
                await owner.wait_for(lambda: str(owner.source(0)).startswith("# editor edit"))
            assert "# runner edit" not in str(owner.source(0))
            await editor.json("POST", f"api/huddle/kernels/{kernel_id}/restart", expect=204)
            # nobody but an owner shares
            for guest in (commenter, runner, editor):
                await guest.json("POST", f"api/huddle/links/{room}", {"role": "viewer"},
                                 expect=403)
    finally:
        await stop_kernels(huddle)


async def test_expired_revoked_guessed_and_used_up_links_are_refused(huddle, write_notebook):
    write_notebook("links.ipynb", ["a = 1"])
    room, _ = await huddle.room_id("links.ipynb")
    # guessed: a well-formed token that was never issued, and a real id with a bad secret
    url, link = await share(huddle, "links.ipynb", "viewer", max_uses=1, label="once")
    real_token = url.rsplit("/", 1)[1]
    for token in ("0123456789abcdef.guess", f"{link['id']}.wrong-secret", "x"):
        page = await Browser(huddle).request("GET", f"huddle/s/{token}")
        assert page.code == 403, token
        assert b"not valid" in page.body
    # used up: a second person cannot claim a single-use link (replaying it)
    first = Browser(huddle)
    assert (await first.join(url, "First")).code == 302
    second = Browser(huddle)
    page = await second.request("GET", f"huddle/s/{real_token}")
    assert page.code == 200  # the link itself is still valid ...
    claimed = await second.request("POST", f"huddle/s/{real_token}", form={"name": "Second"})
    assert claimed.code == 403  # ... but it has been used
    assert b"used up" in claimed.body
    # the first guest still gets in (returning guests do not use the link again)
    assert (await first.request("GET", f"huddle/s/{real_token}")).code == 302
    listed = await huddle.request("GET", f"api/huddle/links/{room}")
    [shown] = json.loads(listed.body)["links"]
    assert shown["uses"] == 1
    assert "secret_hash" not in shown
    assert real_token.split(".", 1)[1] not in listed.body.decode()
    # expired
    url, _ = await share(huddle, "links.ipynb", "viewer", expires_in_s=0.3)
    token = url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 10
    while (await Browser(huddle).request("GET", f"huddle/s/{token}")).code != 403:
        assert time.monotonic() < deadline, "the link never expired"
        await asyncio.sleep(0.05)  # polling until the expiry time has passed
    page = await Browser(huddle).request("GET", f"huddle/s/{token}")
    assert b"expired" in page.body


async def test_revoking_a_link_cuts_its_guests_off_at_once(huddle, write_notebook):
    write_notebook("revoke.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "revoke.ipynb", "editor", "Eve")
    links = json.loads((await huddle.request("GET", f"api/huddle/links/{room}")).body)
    link_id = links["links"][0]["id"]
    async with guest.client(room, session) as view:
        async with asyncio.timeout(20):
            await view.synced.wait()
        response = await huddle.request("DELETE", f"api/huddle/links/{room}/{link_id}")
        assert response.code == 200
        assert json.loads(response.body)["link"]["revoked_at"] is not None
        code, reason = await view.wait_closed()
        assert code == 4403, (code, reason)
    # the cookie opens nothing any more
    for method, path in (("GET", f"api/huddle/access/{room}"),
                         ("PUT", "api/collaboration/session/revoke.ipynb")):
        response = await guest.request(method, path,
                                       {"format": "json", "type": "notebook"}
                                       if method == "PUT" else None)
        assert response.code == 403, (path, response.code)
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            f"{huddle.ws_url}api/collaboration/room/{room}?sessionId={session}",
            additional_headers={"Cookie": guest.cookie_header()})


async def test_handing_a_viewer_the_keyboard_for_a_moment(huddle, write_notebook):
    write_notebook("hand.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "hand.ipynb", "viewer", "Stu")
    student = (await guest.json("GET", "api/me"))["identity"]["username"]
    async with huddle.open("hand.ipynb") as owner, guest.client(room, session) as view:
        async with asyncio.timeout(20):
            await view.synced.wait()
        granted = await huddle.request("POST", f"api/huddle/grants/{room}",
                                       {"username": student, "role": "editor",
                                        "seconds": 60})
        assert granted.code == 200, granted.body
        code, _ = await view.wait_closed()
        assert code == 4001  # reconnect for the new rights
        await view.reconnect()
        async with asyncio.timeout(20):
            await view.synced.wait()
        view.source(0).insert(0, "# by the student\n")
        await owner.wait_for(lambda: str(owner.source(0)).startswith("# by the student"))
        assert (await guest.json("GET", f"api/huddle/access/{room}"))["role"] == "editor"
        # taken back early
        await huddle.request("POST", f"api/huddle/grants/{room}",
                             {"username": student, "role": None})
        code, _ = await view.wait_closed()
        assert code == 4001
        await view.reconnect()
        async with asyncio.timeout(20):
            await view.synced.wait()
        view.source(0).insert(0, "# again\n")
        await view.wait_for(lambda: any(r.get("reason") == "read_only" for r in view.raw))
        assert not str(owner.source(0)).startswith("# again")


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG,
                                            "share_link_attempts_per_minute": 5}])
async def test_bad_tokens_are_rate_limited(huddle, write_notebook):
    write_notebook("limit.ipynb", ["a = 1"])
    url, _ = await share(huddle, "limit.ipynb", "viewer")
    good = url.rsplit("/", 1)[1]
    attacker = Browser(huddle)
    codes = [(await attacker.request("GET", f"huddle/s/{i:016x}.guess")).code
             for i in range(7)]
    assert codes[:5] == [403] * 5
    assert codes[5:] == [429, 429]
    limited = await attacker.request("GET", f"huddle/s/{7:016x}.guess")
    assert limited.code == 429
    assert int(limited.headers["Retry-After"]) > 0
    # a good token still opens its link from the same address (a class behind one NAT)
    assert (await attacker.request("GET", f"huddle/s/{good}")).code == 200


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG,
                                            "share_link_attempts_per_minute": 100000}])
@pytest.mark.timing
async def test_refusal_time_does_not_depend_on_how_much_of_the_token_is_right(
        huddle, write_notebook):
    write_notebook("timing.ipynb", ["a = 1"])
    url, link = await share(huddle, "timing.ipynb", "viewer")
    secret = url.rsplit(".", 1)[1]
    candidates = {
        "right id, right prefix": f"{link['id']}.{secret[:-1]}X",
        "right id, wrong secret": f"{link['id']}.{'X' * len(secret)}",
        "wrong id": f"{'0' * 16}.{secret}",
    }
    browser = Browser(huddle)
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(40):
        for name, token in candidates.items():  # interleaved, so drift hits all alike
            start = time.perf_counter()
            response = await browser.request("GET", f"huddle/s/{token}")
            timings[name].append(time.perf_counter() - start)
            assert response.code == 403
    medians = {name: statistics.median(t) for name, t in timings.items()}
    spread = max(medians.values()) - min(medians.values())
    # the comparison is of SHA-256 digests in constant time: any difference is noise,
    # far below a millisecond on loopback
    assert spread < 0.002, medians


async def test_guest_names_are_text_everywhere(huddle, write_notebook):
    write_notebook("names.ipynb", ["a = 1"])
    hostile = '<img src=x onerror="alert(1)">'
    url, _ = await share(huddle, "names.ipynb", "viewer")
    guest = Browser(huddle)
    path = url.split(huddle.base_url, 1)[1]
    await guest.request("GET", path)
    assert (await guest.request("POST", path, form={"name": hostile})).code == 302
    me = await guest.json("GET", "api/me")
    assert me["identity"]["name"] == hostile  # kept as text ...
    # ... and the server's own pages escape it
    page = await guest.request("GET", "huddle/notebooks/names.ipynb")
    assert page.code == 200
    assert hostile.encode() not in page.body
    # an empty or very long name is refused
    fresh = Browser(huddle)
    await fresh.request("GET", path)
    assert (await fresh.request("POST", path, form={"name": "   "})).code == 403
    assert (await fresh.request("POST", path, form={"name": "x" * 65})).code == 403


async def test_bad_link_requests_get_clear_errors(huddle, write_notebook):
    write_notebook("api.ipynb", ["a = 1"])
    room, _ = await huddle.room_id("api.ipynb")
    cases = [
        ({"role": "owner"}, "owner"),
        ({"role": "admin"}, "role must be one of"),
        ({"role": "viewer", "expires_in_s": -5}, "positive"),
        ({"role": "viewer", "expires_in_s": "soon"}, "seconds"),
        ({"role": "viewer", "max_uses": 0}, "at least 1"),
        ({"role": "viewer", "max_uses": 1.5}, "whole number"),
    ]
    for body, reason in cases:
        response = await huddle.request("POST", f"api/huddle/links/{room}", body)
        assert response.code == 400, (body, response.body)
        assert reason in json.loads(response.body)["message"], response.body
    assert json.loads((await huddle.request("GET", f"api/huddle/links/{room}")).body)[
        "links"] == []
    unknown = await huddle.request("DELETE", f"api/huddle/links/{room}/{'0' * 16}")
    assert unknown.code == 404
    assert re.search(rb"no share link", unknown.body)


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "max_copy_kernels": 1,
                                                "guest_copies": True}])
async def test_make_my_copy_with_its_own_kernel_within_the_servers_limit(
        huddle, write_notebook, jp_root_dir):
    write_notebook("lesson.ipynb", ["print('lesson')"])
    try:
        ann, room, _ = await guest_in(huddle, "lesson.ipynb", "viewer", "Ann Example")
        url, _ = await share(huddle, "lesson.ipynb", "viewer")
        bob = Browser(huddle)
        assert (await bob.join(url, "Bob")).code == 302
        copy = await ann.json("POST", f"api/huddle/copies/{room}", expect=201)
        assert re.fullmatch(r"huddle-copies/Ann-Example-[0-9a-f]{8}/lesson\.ipynb",
                            copy["path"]), copy
        assert (jp_root_dir / copy["path"]).is_file()
        copy_room = copy["document_id"]
        assert (await ann.json("GET", f"api/huddle/access/{copy_room}"))["role"] == "editor"
        # Ann edits and runs her copy; the lesson is untouched
        session = await ann.json("PUT", f"api/collaboration/session/{quote(copy['path'])}",
                                 {"format": "json", "type": "notebook"})
        async with ann.client(copy_room, session["sessionId"]) as mine:
            async with asyncio.timeout(20):
                await mine.synced.wait()
            mine.source(0).insert(0, "# mine\n")
            await mine.flush()
            kernel = await ann.json("POST", f"api/huddle/kernel/{copy_room}")
            await ann.json("POST", f"api/kernels/{kernel['kernel_id']}/execute", {
                "document_id": copy_room, "cells": [{"cell_id": mine.cells[0]["id"]}]},
                expect=202)
            await mine.wait_for(lambda: mine.cells[0].get("execution_count") is not None,
                                timeout=60)
        async with huddle.open("lesson.ipynb") as lesson:
            assert str(lesson.source(0)) == "print('lesson')"
        # Bob may not open Ann's copy; his own copy cannot get a kernel: the limit is 1
        assert (await bob.request("GET", f"api/huddle/access/{copy_room}")).code == 403
        bobs = await bob.json("POST", f"api/huddle/copies/{room}", expect=201)
        refused = await bob.request("POST", f"api/huddle/kernel/{bobs['document_id']}")
        assert refused.code == 503
        assert b"kernels for personal copies are in use" in refused.body
        # the app page of the copy is Ann's to open; others are sent back to their link
        assert (await ann.request("GET", f"huddle/notebooks/{quote(copy['path'])}")).code \
            == 200
        bounced = await bob.request("GET", f"huddle/notebooks/{quote(copy['path'])}")
        assert bounced.code == 302
        assert bounced.headers["Location"].endswith("huddle/notebooks/lesson.ipynb")
    finally:
        await stop_kernels(huddle)


async def test_presenting_is_announced_to_everyone_and_only_owners_present(
        huddle, write_notebook):
    write_notebook("talk.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "talk.ipynb", "viewer", "Viv")
    assert (await huddle.request("POST", f"api/huddle/present/{room}", {"on": True})).code \
        == 409  # nobody has it open yet
    async with huddle.open("talk.ipynb") as owner, guest.client(room, session) as view:
        async with asyncio.timeout(20):
            await view.synced.wait()
        await guest.json("POST", f"api/huddle/present/{room}", {"on": True}, expect=403)
        answer = json.loads((await huddle.request("POST", f"api/huddle/present/{room}",
                                                  {"on": True})).body)
        me = json.loads((await huddle.request("GET", "api/me")).body)["identity"]
        assert answer["presenter"]["username"] == me["username"]

        def presenter(client: YClient) -> Any:
            for state in client.awareness.values():
                if isinstance(state, dict) and "huddle" in state:
                    return state["huddle"].get("presenter")
            return None

        await view.wait_for(lambda: presenter(view) is not None)
        assert presenter(view)["username"] == me["username"]
        await huddle.request("POST", f"api/huddle/present/{room}", {"on": False})
        await view.wait_for(lambda: presenter(view) is None)
        assert owner.close_code is None


async def test_a_guest_refused_a_page_gets_a_clean_403(huddle, write_notebook, caplog):
    write_notebook("page.ipynb", ["a = 1"])
    guest, _room, _session = await guest_in(huddle, "page.ipynb", "viewer", "Pat")
    for path in ("tree", "lab", "api/status"):
        response = await guest.request("GET", path)
        assert response.code == 403, (path, response.code)
    assert "Uncaught exception" not in caplog.text
