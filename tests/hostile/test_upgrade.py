"""Hostile websocket upgrades: bad room ids, no or wrong credentials, foreign sessions.

Each is refused with an HTTP error at the upgrade (400/403/404) or a 4xxx/1003 close,
never a 500 or 1011, and none of them creates a room."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.waiting import eventually
from tests.support.yclient import room_url

from .helpers import DEADLINE, RawPeer, honest_room


async def _attempt(url: str, *, expect_open: bool = False, **kwargs: Any) -> tuple[str, int, str]:
    """("http", status, body) if the upgrade is refused, else ("close", code, reason); with
    ``expect_open``, ("open", 0, "") if the server answers on the socket."""
    try:
        peer = await RawPeer.connect(url, **kwargs)
    except InvalidStatus as err:
        return "http", err.response.status_code, err.response.body.decode(errors="replace")
    if expect_open:
        alive = await peer.probe()
        await peer.aclose()
        if alive:
            return "open", 0, ""
    code, reason = await peer.closed(DEADLINE)
    return "close", code or 0, reason


def _no_rooms(huddle: Any) -> None:
    rooms = huddle.extension.rooms
    assert len(rooms) == 0, list(rooms._entries)
    assert not rooms._loading


async def _no_room_left(huddle: Any) -> None:
    """A refused session may load the document (to learn which history it holds), but the
    refused socket never becomes a peer, and the room does not outlive the cleanup delay."""
    rooms = huddle.extension.rooms
    assert all(not entry.room.peers for entry in rooms._entries.values())
    await eventually(lambda: len(rooms) == 0 and not rooms._loading,
                     what="the refused session's room to be evicted")


BAD_ROOM_IDS = {
    "traversal-encoded": "..%2F..%2Fetc%2Fpasswd",
    "traversal-in-file-id": "json:notebook:..%2F..%2Fsecret.ipynb",
    "slash-in-file-id": "json:notebook:abc%2Fdef",
    "backslash-in-file-id": "json:notebook:..%5C..%5Cwin.ini",
    "non-ascii-file-id": "json:notebook:%C3%A9t%C3%A9",
    "non-ascii-awareness": "%E2%98%83",
    "invalid-utf8": "json:notebook:%FF%FE",
    "invalid-utf8-awareness": "%C3%28",
    "nul": "json:notebook:a%00b",
    "newline": "json:notebook:a%0Ab",
    "space": "json:notebook:a%20b",
    "1000-chars-file-id": "json:notebook:" + "a" * 1000,
    "1000-chars-awareness": "a" * 1000,
    "10000-chars": "json:notebook:" + "%C3%A9" * 3000,
    "unknown-kind": "x:y:z",
    "json-file": "json:file:abc",
    "text-notebook": "text:notebook:abc",
    "empty-file-id": "json:notebook:",
    "colons-only": "::",
    "query-smuggling": "json:notebook:abc%3Ftoken%3Dx",
}

# Well-formed ids that name nothing: refused once the lookup fails.
UNKNOWN_ROOM_IDS = {
    "unknown-uuid": "json:notebook:00000000-0000-0000-0000-000000000000",
    "dot-dot-file-id": "json:notebook:..",
    "dot-file-id": "text:file:.",
}


async def test_invalid_room_ids_are_refused_without_a_room(huddle, write_notebook):
    write_notebook("victim.ipynb")
    for name, raw_id in BAD_ROOM_IDS.items():
        url = room_url(huddle.ws_url, "PLACEHOLDER", "sid", huddle.token).replace(
            "PLACEHOLDER", raw_id)
        how, code, detail = await _attempt(url)
        assert (how, code) in {("http", 400), ("http", 404), ("close", 4400),
                               ("close", 4404)}, (name, how, code, detail)
        _no_rooms(huddle)
    # The server is fine: a real room still opens.
    async with honest_room(huddle, write_notebook, "victim.ipynb") as room:
        await room.healthy()


@pytest.mark.parametrize("raw_id", list(UNKNOWN_ROOM_IDS.values()), ids=list(UNKNOWN_ROOM_IDS))
async def test_unknown_room_is_refused_without_a_room(huddle, raw_id):
    url = room_url(huddle.ws_url, "PLACEHOLDER", "sid", huddle.token).replace(
        "PLACEHOLDER", raw_id)
    # The session id does not matter: a nonexistent document is refused either way.
    how, code, detail = await _attempt(url)
    assert (how, code) in {("http", 400), ("http", 404), ("close", 4400), ("close", 4404),
                           ("close", 1003)}, (how, code, detail)
    assert len(detail.encode()) <= 123
    _no_rooms(huddle)


async def test_unknown_room_with_right_session_is_4404(huddle, write_notebook):
    write_notebook("real.ipynb")
    _, session_id = await huddle.room_id("real.ipynb")
    url = room_url(huddle.ws_url, "json:notebook:00000000-0000-0000-0000-000000000000",
                   session_id, huddle.token)
    how, code, detail = await _attempt(url)
    assert (how, code) in {("http", 404), ("close", 4404)}, (how, code, detail)
    assert len(detail.encode()) <= 123
    _no_rooms(huddle)


# --- credentials ------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 5000],
                         ids=["none", "empty", "wrong", "huge"])
async def test_without_a_valid_token_the_upgrade_is_403(huddle, write_notebook, token):
    write_notebook("secret.ipynb")
    room, session_id = await huddle.room_id("secret.ipynb")
    how, code, _ = await _attempt(room_url(huddle.ws_url, room, session_id, token))
    assert (how, code) == ("http", 403)
    _no_rooms(huddle)


async def _login_cookie(huddle: Any) -> str:
    """Log in through the login form, as a browser does: a session cookie, no token."""
    from http.cookies import SimpleCookie

    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient()
    page = await client.fetch(huddle.http_url + "login", raise_error=False)
    jar: SimpleCookie = SimpleCookie()
    for header in page.headers.get_list("Set-Cookie"):
        jar.load(header)
    xsrf = jar["_xsrf"].value
    response = await client.fetch(
        huddle.http_url + "login", method="POST", raise_error=False, follow_redirects=False,
        body=f"_xsrf={xsrf}&password={huddle.token}",
        headers={"Cookie": f"_xsrf={xsrf}"})
    assert response.code in (302, 303), response.code
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


async def test_cross_site_websocket_hijacking_is_refused(huddle, write_notebook):
    """A page on another site, riding the user's login cookie, cannot open the socket.
    (With the token itself jupyter_server skips the origin check by design: a page that
    knows the token is already in.)"""
    write_notebook("secret.ipynb")
    room, session_id = await huddle.room_id("secret.ipynb")
    cookie = await _login_cookie(huddle)
    url = room_url(huddle.ws_url, room, session_id, None)
    # Same-origin with the cookie works: the cookie is a real credential.
    how, code, reason = await _attempt(url, additional_headers={"Cookie": cookie},
                                       origin=f"http://127.0.0.1:{huddle.port}",
                                       expect_open=True)
    assert how == "open", (how, code, reason)
    how, code, _ = await _attempt(url, additional_headers={"Cookie": cookie},
                                  origin="http://evil.example")
    assert (how, code) == ("http", 403)
    assert len(huddle.extension.rooms) <= 1


# --- sessions ---------------------------------------------------------------------------


SESSION_IDS = {
    "wrong": "00000000-0000-0000-0000-000000000000",
    "missing": None,
    "empty": "",
    "garbage": "not a uuid at all",
}


@pytest.mark.parametrize("session_id", list(SESSION_IDS.values()), ids=list(SESSION_IDS))
async def test_foreign_session_is_1003_with_json_reason(huddle, write_notebook, session_id):
    write_notebook("doc.ipynb")
    room, _ = await huddle.room_id("doc.ipynb")
    how, code, reason = await _attempt(room_url(huddle.ws_url, room, session_id, huddle.token))
    assert (how, code) == ("close", 1003), (how, code, reason)
    assert len(reason.encode()) <= 123
    payload = json.loads(reason)
    assert payload["reason"] == "unknown_session"
    assert payload["reloadable"] is True
    await _no_room_left(huddle)


@pytest.mark.parametrize("session_id", [
    pytest.param("s" * 1000, id="1000-chars"),
    pytest.param("é" * 40, id="non-ascii"),
    pytest.param('"\\' * 30, id="json-escapes"),
    pytest.param("s" * 60, id="60-chars"),
])
async def test_hostile_session_id_still_gives_a_parseable_reason(huddle, write_notebook,
                                                                 session_id):
    write_notebook("doc.ipynb")
    room, _ = await huddle.room_id("doc.ipynb")
    how, code, reason = await _attempt(room_url(huddle.ws_url, room, session_id, huddle.token))
    assert (how, code) == ("close", 1003), (how, code, reason)
    assert len(reason.encode()) <= 123
    payload = json.loads(reason)
    assert payload["reason"] == "unknown_session"
    await _no_room_left(huddle)


async def test_foreign_session_on_a_very_long_path(huddle, write_notebook):
    """A 240-byte path (the reference server's close reason overflowed on ~100)."""
    path = "d" * 30 + "/" + "é" * 50 + "n" * 100 + ".ipynb"
    write_notebook(path)
    room, session_id = await huddle.room_id(path)
    how, code, reason = await _attempt(room_url(huddle.ws_url, room, "stale-" + session_id,
                                                huddle.token))
    assert (how, code) == ("close", 1003), (how, code, reason)
    assert len(reason.encode()) <= 123
    assert json.loads(reason)["reason"] == "unknown_session"
    await _no_room_left(huddle)


async def test_refused_sockets_do_not_disturb_a_live_room(huddle, write_notebook):
    """Refusals aimed at a room that is open do not touch it."""
    async with honest_room(huddle, write_notebook, "live.ipynb") as room:
        room_id, _ = await huddle.room_id("live.ipynb")
        for url in (
            room_url(huddle.ws_url, room_id, "wrong-session", huddle.token),
            room_url(huddle.ws_url, room_id, None, huddle.token),
            room_url(huddle.ws_url, room_id, "x", None),
            room_url(huddle.ws_url, room_id, "x", "bad-token"),
        ):
            how, code, _ = await _attempt(url)
            assert (how, code) in {("close", 1003), ("http", 403)}
        assert len(room.server_room.peers) == 2
        assert len(huddle.extension.rooms) == 1
        await room.healthy()


async def test_many_refused_upgrades(huddle, write_notebook):
    """A burst of refused upgrades leaves no room behind and the server serving."""
    write_notebook("victim.ipynb")
    for i in range(100):
        raw = list(BAD_ROOM_IDS.values())[i % len(BAD_ROOM_IDS)]
        url = room_url(huddle.ws_url, "P", "sid", huddle.token).replace("P", raw)
        how, code, _ = await _attempt(url)
        assert how == "http" or code >= 4000
    _no_rooms(huddle)
    async with honest_room(huddle, write_notebook, "victim.ipynb") as room:
        await room.healthy()
