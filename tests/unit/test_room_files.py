"""Which open rooms a save, rename or deletion touches (collab/rooms/room_files.py, room_table.py):
only those of the files concerned, found by file id or path, never a walk that asks about
every room for every event."""

from __future__ import annotations

from typing import Any

from jupyter_huddle.collab.sync.close_codes import CloseCode
from tests.support.memory_backend import MemoryBackend
from tests.support.open_rooms import OpenRooms, Person


class AskedBackend(MemoryBackend):
    """Remembers which file ids the core asked the path of."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    async def path_for(self, file_id: str) -> str | None:
        self.asked.append(file_id)
        return await super().path_for(file_id)

    def move(self, file_id: str, path: str) -> None:
        self.files[path] = self.files.pop(self.ids[file_id])
        self.ids[file_id] = path


def state_path(rooms: OpenRooms, file_id: str) -> Any:
    (room,) = rooms.manager.rooms_for_file(file_id)
    assert room.document is not None
    return room.document.state.get("path")


async def open_all(rooms: OpenRooms, file_ids: list[str]) -> dict[str, Person]:
    people = {file_id: Person(f"user-{file_id}") for file_id in file_ids}
    for file_id, person in people.items():
        await rooms.join(file_id, person)
    if isinstance(rooms.backend, AskedBackend):
        rooms.backend.asked.clear()  # opening asks; the events under test come after
    return people


N = 40
FILES = {f"f{i}": f"nb{i}.ipynb" for i in range(N)}


async def test_a_save_asks_about_the_saved_files_rooms_only():
    backend = AskedBackend()
    async with OpenRooms(FILES, backend=backend) as rooms:
        await open_all(rooms, list(FILES))

        await rooms.manager.refresh_paths("f7")

        assert backend.asked == ["f7"]
        assert state_path(rooms, "f7") == "nb7.ipynb"


async def test_a_rename_moves_that_room_and_asks_about_no_other():
    backend = AskedBackend()
    async with OpenRooms(FILES, backend=backend) as rooms:
        await open_all(rooms, list(FILES))
        backend.move("f7", "renamed.ipynb")

        await rooms.manager.files_moved("nb7.ipynb", "f7")

        assert backend.asked == ["f7"]
        assert state_path(rooms, "f7") == "renamed.ipynb"
        assert state_path(rooms, "f8") == "nb8.ipynb"
        assert len(rooms.manager) == N  # the room stayed open


async def test_a_folder_rename_moves_the_rooms_inside_it_only():
    files = {"a": "dir/a.ipynb", "b": "dir/sub/b.ipynb", "twin": "dir.ipynb",
             "near": "dirt/c.ipynb"}
    backend = AskedBackend()
    async with OpenRooms(files, backend=backend) as rooms:
        await open_all(rooms, list(files))
        backend.move("a", "new/a.ipynb")
        backend.move("b", "new/sub/b.ipynb")

        await rooms.manager.files_moved("dir", None)  # no open room has the folder's id

        assert sorted(backend.asked) == ["a", "b"]
        assert state_path(rooms, "a") == "new/a.ipynb"
        assert state_path(rooms, "b") == "new/sub/b.ipynb"


async def test_a_rename_follows_a_room_known_only_by_its_file_id():
    backend = AskedBackend()
    async with OpenRooms({"f1": "one.ipynb", "f2": "two.ipynb"}, backend=backend) as rooms:
        await open_all(rooms, ["f1", "f2"])
        backend.move("f1", "elsewhere.ipynb")  # moved before the room heard of it

        await rooms.manager.files_moved("not-where-the-room-thinks.ipynb", "f1")

        assert backend.asked == ["f1"]
        assert state_path(rooms, "f1") == "elsewhere.ipynb"


async def test_deleting_a_folder_closes_the_rooms_inside_it_only():
    files = {"a": "dir/a.ipynb", "twin": "dir.ipynb", "near": "dirt/c.ipynb"}
    async with OpenRooms(files) as rooms:
        people = await open_all(rooms, list(files))

        await rooms.manager.files_deleted("dir")

        assert people["a"].closed_with is not None
        assert people["a"].closed_with[0] == CloseCode.GONE
        assert rooms.manager.rooms_for_file("a") == []
        assert people["twin"].closed_with is None
        assert people["near"].closed_with is None
        assert len(rooms.manager) == 2


async def test_a_file_change_merges_into_that_files_room():
    async with OpenRooms({"f1": "one.ipynb", "f2": "two.ipynb"}) as rooms:
        await open_all(rooms, ["f1", "f2"])
        rooms.backend.files["one.ipynb"]["cells"][0]["source"] = "changed outside"

        await rooms.manager.file_changed("one.ipynb")

        (room,) = rooms.manager.rooms_for_file("f1")
        assert room.document is not None
        assert room.document.export()["cells"][0]["source"] == "changed outside"
