"""The session route: paths to stable file ids, as stock JupyterLab calls it."""

from __future__ import annotations

import json

import pytest


async def test_new_path_is_201_then_200_with_same_id(huddle, write_notebook):
    write_notebook("a.ipynb")
    first = await huddle.session("a.ipynb")
    second = await huddle.session("a.ipynb")
    assert (first.code, second.code) == (201, 200)
    one, two = json.loads(first.body), json.loads(second.body)
    assert one["fileId"] == two["fileId"]
    assert one == {"format": "json", "type": "notebook", "fileId": one["fileId"],
                   "sessionId": one["sessionId"]}
    assert "/" not in one["fileId"]


async def test_missing_file_is_404_and_not_indexed(huddle):
    response = await huddle.session("nope.ipynb")
    assert response.code == 404
    file_ids = huddle.app.web_app.settings["file_id_manager"]
    assert file_ids.get_id("nope.ipynb") is None


@pytest.mark.parametrize("path", ["../outside.ipynb", "a/../../x.ipynb", ".hidden.ipynb"])
async def test_paths_outside_root_or_hidden_are_404(huddle, jp_root_dir, path):
    (jp_root_dir / ".hidden.ipynb").write_text("{}")
    response = await huddle.session(path)
    assert response.code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"format": 1, "type": "notebook"}', 400),
        (b'{"format": "json", "type": "spreadsheet"}', 400),
    ],
)
async def test_bad_bodies_are_400(huddle, write_notebook, body, status):
    write_notebook("a.ipynb")
    response = await huddle.request("PUT", "api/collaboration/session/a.ipynb", raw_body=body)
    assert response.code == status
    assert json.loads(response.body)["message"]


async def test_unauthenticated_is_refused(huddle, write_notebook):
    write_notebook("a.ipynb")
    response = await huddle.session("a.ipynb", token=None)
    assert response.code == 403


async def test_non_ascii_and_long_names(huddle, write_notebook):
    # 200 characters, 245 bytes: under the 255-byte limit of most filesystems.
    name = "données/" + "é" * 39 + "n" * 155 + ".ipynb"
    assert len(name.split("/")[1]) == 200
    write_notebook(name)
    response = await huddle.session(name)
    assert response.code == 201
    room, session_id = await huddle.room_id(name)
    async with huddle.client(room, session_id) as client:
        await client.synced.wait()
        assert client.state.get("path") == name


async def test_file_id_survives_rename(huddle, write_notebook):
    write_notebook("before.ipynb")
    file_id = json.loads((await huddle.session("before.ipynb")).body)["fileId"]
    response = await huddle.request("PATCH", "api/contents/before.ipynb",
                                    {"path": "after.ipynb"})
    assert response.code == 200
    renamed = json.loads((await huddle.session("after.ipynb")).body)
    assert renamed["fileId"] == file_id


async def test_concurrent_first_requests_agree_on_the_session(huddle, write_notebook):
    """Two tabs opening a new file at the same moment must both be allowed in."""
    import asyncio

    for n in range(5):
        write_notebook(f"race{n}.ipynb")
        responses = await asyncio.gather(*(huddle.session(f"race{n}.ipynb") for _ in range(4)))
        sessions = {json.loads(r.body)["sessionId"] for r in responses}
        assert len(sessions) == 1
