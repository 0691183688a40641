"""Point 6: sockets are capped per identity (``max_sockets_per_user``, server-wide) and per
room (``max_peers_per_room``), so a flood of sockets cannot make the server hold without
bound. A socket past a cap is refused with 1013 and says why; the room and everyone else
in it carry on, and a freed place can be taken again.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest

from jupyter_huddle.collab.ids import parse_room_id
from tests.hostile.helpers import RawPeer
from tests.security.conftest import FAST_SAVES
from tests.support.guests import Browser, guest_in, share
from tests.support.waiting import eventually

PER_USER = 3
PER_ROOM = 4


def room_url(huddle: Any, room: str, session: str) -> str:
    return f"{huddle.ws_url}api/collaboration/room/{room}?sessionId={quote(session)}"


async def cookie_socket(huddle: Any, room: str, session: str, cookies: str) -> RawPeer:
    """A socket authenticated as a browser's is: by its cookies alone."""
    return await RawPeer.connect(room_url(huddle, room, session),
                                 additional_headers={"Cookie": cookies})


async def assert_refused(peer: RawPeer, why: str) -> None:
    code, reason = await peer.closed()
    assert code == 1013, (code, reason)
    assert why in reason, reason


async def assert_alive(peers: list[RawPeer]) -> None:
    for peer in peers:
        assert await peer.probe(), peer.ws.close_code


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "max_sockets_per_user": PER_USER}])
async def test_one_guest_holds_at_most_max_sockets_per_user(huddle, write_notebook):
    write_notebook("lesson.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "lesson.ipynb", "viewer", "Flo")
    tabs = [await cookie_socket(huddle, room, session, guest.cookie_header())
            for _ in range(PER_USER)]
    await assert_alive(tabs)
    extra = await cookie_socket(huddle, room, session, guest.cookie_header())
    await assert_refused(extra, "too many sockets")
    # Another guest of the same link is another identity: not refused.
    other, _, other_session = await guest_in(huddle, "lesson.ipynb", "viewer", "Gus")
    neighbour = await cookie_socket(huddle, room, other_session, other.cookie_header())
    await assert_alive([*tabs, neighbour])
    # A closed tab frees its place.
    server_room = huddle.extension.rooms.get(_room_id(huddle, room))
    peers = len(server_room.peers)
    await tabs.pop().aclose()
    await eventually(lambda: len(server_room.peers) == peers - 1, what="the tab to leave")
    again = await cookie_socket(huddle, room, session, guest.cookie_header())
    await assert_alive([*tabs, again, neighbour])
    for peer in [*tabs, again, neighbour]:
        await peer.aclose()


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "max_sockets_per_user": PER_USER}])
async def test_the_cap_per_identity_is_server_wide(huddle, write_notebook):
    """A member's sockets in every room count together (the owner here, by its login
    cookie, as a browser connects)."""
    for name in ("one.ipynb", "two.ipynb"):
        write_notebook(name, ["b = 2"])
    rooms: list[tuple[str, str]] = [await huddle.room_id(name)
                                    for name in ("one.ipynb", "two.ipynb")]
    cookies = "; ".join(f"{k}={v}" for k, v in huddle.cookies.items())
    assert cookies, "the server set no login cookie"
    first = [await cookie_socket(huddle, *rooms[0], cookies) for _ in range(PER_USER - 1)]
    second = await cookie_socket(huddle, *rooms[1], cookies)
    await assert_alive([*first, second])
    await assert_refused(await cookie_socket(huddle, *rooms[1], cookies), "too many sockets")
    await assert_refused(await cookie_socket(huddle, *rooms[0], cookies), "too many sockets")
    await assert_alive([*first, second])
    for peer in [*first, second]:
        await peer.aclose()


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "max_peers_per_room": PER_ROOM}])
async def test_a_room_holds_at_most_max_peers_per_room(huddle, write_notebook):
    write_notebook("class.ipynb", ["c = 3"])
    url, _link = await share(huddle, "class.ipynb", "viewer")
    async with huddle.open("class.ipynb") as presenter:
        students = []
        for i in range(PER_ROOM - 1):
            browser, room, session = await _claim(huddle, url, f"Student {i}")
            students.append(await cookie_socket(huddle, room, session, browser.cookie_header()))
        await assert_alive(students)
        late, room, late_session = await _claim(huddle, url, "Late")
        await assert_refused(await cookie_socket(huddle, room, late_session,
                                                 late.cookie_header()), "room full")
        # The room goes on: the presenter's edits still reach a newcomer once one leaves.
        presenter.source(0).insert(0, "# still live\n")
        await students.pop().aclose()
        server_room = huddle.extension.rooms.get(_room_id(huddle, room))
        await eventually(lambda: len(server_room.peers) == PER_ROOM - 1,
                         what="the student to leave")
        async with late.client(room, late_session) as newcomer:
            async with asyncio.timeout(20):
                await newcomer.synced.wait()
            await newcomer.wait_for(lambda: "# still live" in str(newcomer.source(0)))
        await assert_alive(students)
        assert presenter.close_code is None
    for peer in students:
        await peer.aclose()


async def _claim(huddle: Any, url: str, name: str) -> tuple[Browser, str, str]:
    browser = Browser(huddle)
    joined = await browser.join(url, name)
    assert joined.code == 302, joined.body[:300]
    session = await browser.json("PUT", "api/collaboration/session/class.ipynb",
                                 {"format": "json", "type": "notebook"})
    return browser, f"json:notebook:{session['fileId']}", session["sessionId"]


def _room_id(huddle: Any, room: str) -> Any:
    return parse_room_id(room)
