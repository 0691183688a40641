"""Point 7: what guests write is bounded.

Presence states have a size (200 MB states were accepted and relayed to every peer);
review threads have a count per notebook and per person and a rate per person; copies a
count per person. The bad-token limiter slows guessing without locking out valid links from
the same address (a class behind one NAT was locked out for 60 s).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pycrdt import Array

from tests.security.conftest import FAST_SAVES
from tests.support.guests import Browser, guest_in, share
from tests.support.yclient import awareness_update

MAX_STATE = 4096


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "max_awareness_state_bytes": MAX_STATE}])
async def test_an_oversized_presence_state_cuts_off_its_sender_only(huddle, write_notebook):
    write_notebook("big.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "big.ipynb", "viewer", "Bea")
    async with huddle.open("big.ipynb") as owner, guest.client(room, session) as viewer:
        async with asyncio.timeout(20):
            await viewer.synced.wait()
        fits = {"user": {}, "note": "x" * (MAX_STATE // 2)}
        await viewer.send(awareness_update(31337, 1, fits))
        await owner.wait_for(lambda: 31337 in owner.awareness)
        await viewer.send(awareness_update(31337, 2, {"user": {}, "note": "y" * 1_000_000}))
        code, reason = await viewer.wait_closed()
        assert code == 1009, (code, reason)
        # the others never got it, and carry on
        await owner.wait_for(lambda: 31337 not in owner.awareness)
        source = owner.source(0)
        source.insert(0, "# still here\n")
        async with huddle.open("big.ipynb") as newcomer:
            await newcomer.wait_for(lambda: "# still here" in str(newcomer.source(0)))
        assert owner.close_code is None


LIMITS = {**FAST_SAVES, "max_threads_per_notebook": 5, "max_threads_per_person": 3,
          "comment_actions_per_minute": 1000}


async def _thread(browser: Browser, room: str, cell_id: str, body: str = "hi") -> int:
    response = await browser.request("POST", f"api/huddle/comments/{room}", {
        "anchor": {"cell_id": cell_id, "kind": "cell"}, "body": body})
    return response.code


async def _first_cell_id(huddle, path: str) -> str:
    async with huddle.open(path) as client:
        return str(client.doc.get("cells", type=Array)[0]["id"])


@pytest.mark.parametrize("huddle_config", [LIMITS])
async def test_threads_are_bounded_per_person_and_per_notebook(huddle, write_notebook):
    write_notebook("review.ipynb", ["a = 1"])
    cell = await _first_cell_id(huddle, "review.ipynb")
    first, room, _ = await guest_in(huddle, "review.ipynb", "commenter", "Cy")
    second, _, _ = await guest_in(huddle, "review.ipynb", "commenter", "Di")
    assert [await _thread(first, room, cell) for _ in range(4)] == [201, 201, 201, 409]
    refused = await first.request("POST", f"api/huddle/comments/{room}", {
        "anchor": {"cell_id": cell, "kind": "cell"}, "body": "one more"})
    assert b"the most one person may" in refused.body
    assert [await _thread(second, room, cell) for _ in range(3)] == [201, 201, 409]
    # the notebook is full for everyone, owners included, until threads are deleted
    owner = await huddle.request("POST", f"api/huddle/comments/{room}", {
        "anchor": {"cell_id": cell, "kind": "cell"}, "body": "owner"})
    assert owner.code == 409, owner.body
    listing = json.loads((await huddle.request("GET", f"api/huddle/comments/{room}")).body)
    assert len(listing["threads"]) == 5


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "comment_actions_per_minute": 4}])
async def test_review_writes_are_rate_limited_per_person(huddle, write_notebook):
    write_notebook("rate.ipynb", ["a = 1"])
    cell = await _first_cell_id(huddle, "rate.ipynb")
    spammer, room, _ = await guest_in(huddle, "rate.ipynb", "commenter", "Sam")
    other, _, _ = await guest_in(huddle, "rate.ipynb", "commenter", "Ola")
    thread = json.loads((await spammer.request("POST", f"api/huddle/comments/{room}", {
        "anchor": {"cell_id": cell, "kind": "cell"}, "body": "start"})).body)
    codes = [(await spammer.request(
        "POST", f"api/huddle/comments/{room}/{thread['id']}/messages", {"body": f"{i}"})).code
        for i in range(4)]
    assert codes == [201, 201, 201, 429]
    limited = await spammer.request(
        "POST", f"api/huddle/comments/{room}/{thread['id']}/messages", {"body": "more"})
    assert limited.code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    # someone else is not slowed down by the spammer
    reply = await other.request(
        "POST", f"api/huddle/comments/{room}/{thread['id']}/messages", {"body": "me too"})
    assert reply.code == 201, reply.body


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "guest_copies": True,
                                            "max_copies_per_person": 2}])
async def test_copies_are_bounded_per_person(huddle, write_notebook, jp_root_dir):
    write_notebook("lesson.ipynb")
    guest, room, _ = await guest_in(huddle, "lesson.ipynb", "viewer", "Cora")
    codes = [(await guest.request("POST", f"api/huddle/copies/{room}")).code for _ in range(3)]
    assert codes == [201, 201, 409]
    assert len(list((jp_root_dir / "huddle-copies").glob("*/*.ipynb"))) == 2


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES,
                                            "share_link_attempts_per_minute": 3}])
async def test_a_guessing_neighbour_does_not_lock_a_class_out(huddle, write_notebook):
    """Everyone here comes from 127.0.0.1, as a class behind one NAT does."""
    write_notebook("class.ipynb")
    url, _ = await share(huddle, "class.ipynb", "viewer")
    token = url.rsplit("/", 1)[1]
    guesser = Browser(huddle)
    codes = [(await guesser.request("GET", f"huddle/s/{i:016x}.guess")).code for i in range(5)]
    assert codes == [403, 403, 403, 429, 429]
    student = Browser(huddle)
    joined = await student.join(url, "Stu")
    assert joined.code == 302, joined.body[:300]
    assert (await guesser.request("GET", f"huddle/s/{token}")).code == 200
