"""History that is not the room's (issue 12): a copy from another history is never merged,
whatever session id it presents; what it holds is kept; its tab does not storm.

Client S edits and goes quiet, the server stops, the update store is deleted, the server
restarts (its history is rebuilt from the file), S asks for a session again and reconnects
with its document: before, a fresh client then saw every cell twice.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import nbformat
import pytest
import websockets
from pycrdt import Array, Map, Text

from tests.integration.test_restarts import sources, synced, write
from tests.support.restartable import Restartable
from tests.support.waiting import eventually
from tests.support.yclient import YClient, room_url

# Reading the file while the server writes it: not saved yet.
FILE_BEING_WRITTEN = (ValueError, nbformat.reader.NotJSONError)
FAST = ("--HuddleApp.save_delay_s=0.1", "--HuddleApp.max_save_delay_s=0.3",
        "--HuddleApp.stale_tab_retry_s=1.5")


def login_cookie(server: Restartable) -> str:
    """A browser's login: the cookie, not the token, names the same person across sockets
    (a token in a websocket URL makes a new anonymous user each time)."""
    assert server.server is not None
    url = f"{server.server.http_url}huddle?token={server.token}"
    with urllib.request.urlopen(url, timeout=10) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    cookie = "; ".join(c.split(";")[0] for c in cookies)
    assert "username-" in cookie, cookies
    return cookie


def browser_client(server: Restartable, cookie: str, doc=None) -> YClient:
    room, session = server.session("nb.ipynb")
    assert server.server is not None
    return YClient(room_url(server.server.ws_url, room, session, None), doc=doc,
                   headers={"Cookie": cookie, "Origin": server.server.http_url.rstrip("/")})


def saved_sources(root: Path) -> list[str]:
    return [str(c.source) for c in nbformat.read(str(root / "nb.ipynb"), 4).cells]


def restart_without_store(server: Restartable) -> None:
    assert server.server is not None
    server.server.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(str(server.store_path) + suffix).unlink(missing_ok=True)
    server.start()


async def open_quiet_then_rebuild(server: Restartable, cookie: str) -> YClient:
    """S opens nb.ipynb, adds a cell (saved), goes quiet; the server restarts without its
    store, so the history is rebuilt from the file. S's client, closed, keeps its copy."""
    s = browser_client(server, cookie)
    await s.connect()
    await synced(s)
    s.cells.append(Map({"id": "s-cell", "cell_type": "code", "source": Text("S was here"),
                        "metadata": Map(), "outputs": Array(), "execution_count": None}))
    await eventually(lambda: saved_sources(server.root) == ["a", "b", "c", "S was here"], 15,
                     "S's edit to be saved", ignoring=FILE_BEING_WRITTEN)
    await s.close()
    restart_without_store(server)
    return s


async def fresh_sources(server: Restartable, cookie: str) -> list[str]:
    async with browser_client(server, cookie) as fresh:
        await fresh.connect()
        await synced(fresh)
        return sources(fresh)


def kept_in(client: YClient) -> str:
    (path,) = [r["kept_in"] for r in client.raw if r.get("type") == "stale_copy"]
    return str(path)


async def test_a_foreign_copy_with_a_new_session_is_refused_kept_and_never_merged(restartable):
    server = restartable(*FAST)
    write(server.root, "nb.ipynb", "a", "b", "c")
    server.start()
    cookie = login_cookie(server)
    s = await open_quiet_then_rebuild(server, cookie)

    stale = browser_client(server, cookie, doc=s.doc)  # a new session, the old document
    await stale.connect()
    code, reason = await stale.wait_closed()
    assert code == 1003, (code, reason)
    assert reason is not None
    assert json.loads(reason)["reloadable"] is True
    assert not list(server.root.glob("nb.recovered-*"))  # nothing in it the file lacks
    # the same person's fresh tab is not held back, and sees every cell once
    assert await fresh_sources(server, cookie) == ["a", "b", "c", "S was here"]
    assert saved_sources(server.root) == ["a", "b", "c", "S was here"]

    # the program kept typing into its copy: kept when it comes back, never merged
    stale.source(0).insert(0, "typed after the prompt ")
    await stale.reconnect()
    code, _ = await stale.wait_closed()
    assert code == 1003
    assert nbformat.read(str(server.root / kept_in(stale)), 4).cells[0].source == (
        "typed after the prompt a")
    assert await fresh_sources(server, cookie) == ["a", "b", "c", "S was here"]


async def test_a_tab_open_across_the_rebuild_is_told_once_and_does_not_storm(restartable):
    """A browser tab keeps its old session id when it reconnects (JupyterLab does)."""
    server = restartable(*FAST)
    write(server.root, "nb.ipynb", "a", "b", "c")
    server.start()
    cookie = login_cookie(server)
    s = browser_client(server, cookie)
    await s.connect()
    await synced(s)
    s.source(1).insert(1, " edited")
    await eventually(lambda: saved_sources(server.root)[1] == "b edited", 15,
                     "the edit to be saved", ignoring=FILE_BEING_WRITTEN)
    restart_without_store(server)
    await s.reconnect()  # the old session id
    code, reason = await s.wait_closed()
    assert code == 1003, (code, reason)
    assert reason is not None
    assert json.loads(reason)["reason"] == "unknown_session"
    # at once again: refused before the upgrade, so the browser backs off (no new prompt)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(s.url, additional_headers=s.headers)
    assert refused.value.response.status_code == 409
    # a fresh tab of the same person is not held back
    assert await fresh_sources(server, cookie) == ["a", "b edited", "c"]
    # what the old tab takes after the prompt is kept when it is let through again
    s.source(2).insert(1, " typed later")
    await s.reconnect()  # retries while refused before the upgrade
    code, _ = await s.wait_closed()
    assert code == 1003
    assert nbformat.read(str(server.root / kept_in(s)), 4).cells[2].source == "c typed later"
    assert await fresh_sources(server, cookie) == ["a", "b edited", "c"]


async def test_offline_edits_on_the_current_history_merge_once_with_a_new_session(
        restartable):
    server = restartable(*FAST)
    write(server.root, "nb.ipynb", "start")
    server.start()
    cookie = login_cookie(server)
    s = browser_client(server, cookie)
    await s.connect()
    await synced(s)
    await s.close()
    server.server.stop()  # the store is kept: the history goes on after the restart
    s.source(0).insert(0, "offline ")
    server.start()
    back = browser_client(server, cookie, doc=s.doc)  # asks for a session again
    await back.connect()
    await synced(back)
    async with browser_client(server, cookie) as fresh:
        await fresh.connect()
        await fresh.wait_for(lambda: sources(fresh) == ["offline start"], timeout=20)
    assert back.close_code is None
    await back.close()
