"""What the contents API's save and rename events do to open rooms: the rooms of the files
concerned follow them, outside saves are merged, and no other room is asked about."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import nbformat
import pytest

from tests.support.waiting import eventually


def read_nb(root: Any, path: str) -> Any:
    return nbformat.read(str(root / path), as_version=4)


async def test_a_save_through_the_contents_api_touches_only_that_notebooks_room(
        huddle, write_notebook, monkeypatch):
    paths = [write_notebook(f"n{i}.ipynb", [f"x = {i}"]) for i in range(5)]
    backend = huddle.extension.backend
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(huddle.open(path)) for path in paths]
        saved_id = json.loads((await huddle.session("n2.ipynb")).body)["fileId"]
        asked: list[str] = []
        path_for = backend.path_for

        async def counting_path_for(file_id: str) -> str | None:
            asked.append(file_id)
            return await path_for(file_id)

        monkeypatch.setattr(backend, "path_for", counting_path_for)
        model = json.loads((await huddle.request("GET", "api/contents/n2.ipynb")).body)
        model["content"]["cells"][0]["source"] = "x = 'saved by another program'"
        response = await huddle.request("PUT", "api/contents/n2.ipynb", {
            "type": "notebook", "format": "json", "content": model["content"]})
        assert response.code == 200

        # the outside save is merged into the open room
        await clients[2].wait_for(
            lambda: str(clients[2].source(0)) == "x = 'saved by another program'")

        async def asked_about_it() -> bool:
            return saved_id in asked

        await eventually(asked_about_it, timeout=10, what="the saved file's room refreshed")
        assert set(asked) == {saved_id}  # not every open room, once per room


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "file_poll_interval_s": 0.2}


async def test_renaming_a_folder_keeps_the_rooms_inside_it(huddle, write_notebook,
                                                           jp_root_dir):
    write_notebook("course/week1.ipynb", ["a = 1"])
    rooms = huddle.extension.rooms
    file_id = json.loads((await huddle.session("course/week1.ipynb")).body)["fileId"]
    # The test server's file id service (ArbitraryFileIdManager) moves a folder's files
    # only if it knows the folder (LocalFileIdManager indexes folders on its own).
    huddle.extension.backend.file_id("course")
    async with huddle.open("course/week1.ipynb") as client:
        (room,) = rooms.rooms_for_file(file_id)
        response = await huddle.request("PATCH", "api/contents/course",
                                        {"path": "course-2024"})
        assert response.code == 200
        await client.wait_for(lambda: client.state.get("path") == "course-2024/week1.ipynb")
        client.source(0).insert(0, "moved = True\n")
        assert await client.save() == "success"
        assert rooms.rooms_for_file(file_id) == [room]
        assert len(rooms) == 1
    assert read_nb(jp_root_dir, "course-2024/week1.ipynb").cells[0].source == \
        "moved = True\na = 1"
