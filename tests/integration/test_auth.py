"""Authentication and authorization before any room exists; read-only collaborators."""

from __future__ import annotations

import json

import pytest
import websockets
from pycrdt import Map
from websockets.typing import Origin

from tests.support.yclient import room_url


@pytest.fixture
def jp_server_config(huddle_config, request):
    from traitlets.config import Config

    authorizer = getattr(request, "param", None)
    config = {
        "ServerApp": {"jpserver_extensions": {"jupyter_huddle": True,
                                               "jupyter_server_fileid": True}},
        "HuddleApp": huddle_config,
    }
    if authorizer:
        config["ServerApp"]["authorizer_class"] = authorizer
    return Config(config)


READ_ONLY = "tests.support.auth.ReadOnlyAuthorizer"
NO_ACCESS = "tests.support.auth.NoAccessAuthorizer"


@pytest.mark.parametrize("jp_server_config", [READ_ONLY], indirect=True)
async def test_read_only_user_syncs_but_edits_are_refused(huddle, write_notebook, jp_root_dir):
    write_notebook("ro.ipynb", ["original"])
    before = (jp_root_dir / "ro.ipynb").read_bytes()
    async with huddle.open("ro.ipynb") as viewer, huddle.open("ro.ipynb") as other:
        assert str(viewer.source(0)) == "original"
        viewer.source(0).insert(0, "hacked ")
        await viewer.wait_for(lambda: any(r.get("reason") == "read_only" for r in viewer.raw))
        assert await viewer.save() == "failed"
        # the other peer never saw the refused edit, and the room still has the original
        assert str(other.source(0)) == "original"
        room = huddle.extension.rooms.rooms_for_file(json.loads(
            (await huddle.session("ro.ipynb")).body)["fileId"])[0]
        assert str(room.document.cells[0]["source"]) == "original"
    assert (jp_root_dir / "ro.ipynb").read_bytes() == before


@pytest.mark.parametrize("jp_server_config", [READ_ONLY], indirect=True)
async def test_read_only_user_reads_comments_but_cannot_comment(huddle, write_notebook):
    write_notebook("review-ro.ipynb", ["x = 1"])
    async with huddle.open("review-ro.ipynb") as viewer:
        room = json.loads((await huddle.session("review-ro.ipynb")).body)
        room_id = f"json:notebook:{room['fileId']}"
        listing = await huddle.request("GET", f"api/huddle/comments/{room_id}")
        assert listing.code == 200
        assert json.loads(listing.body) == {"threads": [], "unread_mentions": []}
        created = await huddle.request("POST", f"api/huddle/comments/{room_id}", {
            "anchor": {"cell_id": viewer.cells[0]["id"], "kind": "cell"}, "body": "hi"})
        assert created.code == 403
        assert b"may not comment" in created.body
        assert not viewer.doc.get("comments", type=Map).to_py()


@pytest.mark.parametrize("jp_server_config", [NO_ACCESS], indirect=True)
async def test_no_read_permission_gets_403_and_no_room(huddle, write_notebook):
    write_notebook("secret.ipynb")
    assert (await huddle.session("secret.ipynb")).code == 403
    url = room_url(huddle.ws_url, "json:notebook:whatever", "s", huddle.token)
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(url)
    assert info.value.response.status_code == 403
    assert len(huddle.extension.rooms) == 0


async def test_unauthenticated_websocket_is_refused_before_any_room(huddle, write_notebook):
    write_notebook("a.ipynb")
    room, session = await huddle.room_id("a.ipynb")
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(room_url(huddle.ws_url, room, session, None))
    assert info.value.response.status_code == 403
    assert len(huddle.extension.rooms) == 0


async def test_cross_origin_websocket_with_cookie_is_refused(huddle, write_notebook):
    """A browser page elsewhere carries the user's cookie, not the token: jupyter_server's
    origin policy (allow_origin) applies. Token-authenticated sockets skip it by design."""
    write_notebook("a.ipynb")
    room, session = await huddle.room_id("a.ipynb")
    login = await huddle.request("GET", f"huddle?token={huddle.token}", token=None,
                                 headers={})
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies
    url = room_url(huddle.ws_url, room, session, None)
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(url, origin=Origin("http://evil.example"),
                                 additional_headers={"Cookie": cookies})
    assert info.value.response.status_code == 403
    assert len(huddle.extension.rooms) == 0
    same_origin = Origin(f"http://127.0.0.1:{huddle.port}")
    async with websockets.connect(url, origin=same_origin,
                                  additional_headers={"Cookie": cookies}) as ws:
        assert b"server_presence" in await ws.recv()  # which presence entry is the server's
        assert (await ws.recv())[0] == 0  # the server's SyncStep1


async def test_page_config_publishes_disable_rtc(huddle):
    assert huddle.app.web_app.settings["page_config_data"]["disableRTC"] is False


@pytest.mark.parametrize("huddle_config", [{"disable_rtc": True}])
async def test_disable_rtc_reaches_page_config(huddle):
    # JupyterLab's PageConfig stringifies it to "true", which the docprovider checks for.
    assert huddle.app.web_app.settings["page_config_data"]["disableRTC"] is True
