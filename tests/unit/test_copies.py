"""How a personal copy is made (collab/access/copies.py): from the live notebook, into the
person's folder, under a free name, within the person's quota, with the right role."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from jupyter_huddle.collab.access.copies import CopyRefused, PersonalCopies, folder_name
from jupyter_huddle.collab.access.roles import Role
from jupyter_huddle.collab.access.service import AccessService
from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.errors import DocumentNotFound, SaveError
from jupyter_huddle.collab.files.backend import FileSnapshot
from jupyter_huddle.collab.ids import DocumentRoomId, DocumentType
from jupyter_huddle.collab.store import MemoryStore
from jupyter_huddle.collab.sync.connection import UserInfo
from tests.support.memory_backend import MemoryBackend
from tests.support.open_rooms import OpenRooms, notebook, room_of

ADA = UserInfo("ada", "Ada Lovelace")


class CopyBackend(MemoryBackend):
    """Memory files with what copies need: existence, ids for new files, folders."""

    def __init__(self) -> None:
        super().__init__()
        self.folders: set[str] = set()
        self.refuse_writes = False

    async def exists(self, path: str) -> bool:
        return path in self.files

    def file_id(self, path: str) -> tuple[str, bool]:
        for file_id, known in self.ids.items():
            if known == path:
                return file_id, False
        file_id = f"id{len(self.ids)}"
        self.ids[file_id] = path
        return file_id, True

    async def save(self, path: str, kind: DocumentType, content: Any) -> FileSnapshot:
        if self.refuse_writes:
            raise SaveError(f"{path}: disk full")
        return await super().save(path, kind, content)

    async def notebooks_in(self, folder: str) -> int:
        return sum(1 for path in self.files
                   if posixpath.dirname(path) == folder and path.endswith(".ipynb"))

    async def make_folders(self, folder: str) -> None:
        self.folders.add(folder)


class Setup:
    def __init__(self, rooms: OpenRooms, backend: CopyBackend, access: AccessService,
                 max_per_person: int) -> None:
        self.rooms, self.backend, self.access = rooms, backend, access
        self.copies = PersonalCopies(rooms.manager, backend, backend, access, "copies/",
                                     max_per_person)


async def setup(rooms: OpenRooms, backend: CopyBackend, max_per_person: int = 3) -> Setup:
    access = AccessService(MemoryStore(), owners={"teacher"})
    await access.ready()
    return Setup(rooms, backend, access, max_per_person)


async def test_a_copy_is_the_live_notebook_in_the_persons_folder_and_theirs_to_edit():
    backend = CopyBackend()
    async with OpenRooms({"f1": "lessons/intro.ipynb"}, backend=backend) as rooms:
        s = await setup(rooms, backend)
        room = await rooms.manager.lease(room_of("f1"))  # someone is in it, typing
        assert isinstance(room.document, NotebookDocument)
        room.document.cells[0]["source"].insert(0, "unsaved ")

        copy = await s.copies.make(room_of("f1"), ADA)
        rooms.manager.release(room_of("f1"))

        assert copy.path == "copies/Ada-Lovelace-ada/intro.ipynb"
        assert copy.document_id == f"json:notebook:{copy.file_id}"
        assert backend.files[copy.path]["cells"][0]["source"] == "unsaved # lessons/intro.ipynb"
        assert backend.files["lessons/intro.ipynb"]["cells"][0]["source"] == \
            "# lessons/intro.ipynb"  # the original is untouched
        assert "copies/Ada-Lovelace-ada" in backend.folders
        assert s.access.role_of("ada", copy.file_id) == Role.EDITOR
        # The copy says what it copies, and whose it is (the web app's "Your copy of …").
        assert backend.files[copy.path]["metadata"]["huddle"]["copy_of"] == {
            "path": "lessons/intro.ipynb", "by": "ada"}


async def test_a_second_copy_takes_the_next_free_name_and_owners_get_no_role():
    backend = CopyBackend()
    async with OpenRooms({"f1": "intro.ipynb"}, backend=backend) as rooms:
        s = await setup(rooms, backend)
        teacher = UserInfo("teacher", "Teacher")
        first = await s.copies.make(room_of("f1"), teacher)
        second = await s.copies.make(room_of("f1"), teacher)
        assert [first.path, second.path] == ["copies/Teacher-teacher/intro.ipynb",
                                             "copies/Teacher-teacher/intro (2).ipynb"]
        assert s.access.roles(second.file_id) == {}


async def test_a_guest_becomes_the_editor_of_their_copy():
    backend = CopyBackend()
    async with OpenRooms({"f1": "intro.ipynb"}, backend=backend) as rooms:
        s = await setup(rooms, backend)
        # a guest whose username happens to be an owner's is still no owner
        copy = await s.copies.make(room_of("f1"), UserInfo("teacher", "Bea", guest_id="g1"))
        assert s.access.roles(copy.file_id) == {"teacher": Role.EDITOR}


async def test_a_person_at_their_quota_is_refused_and_nothing_is_written():
    backend = CopyBackend()
    async with OpenRooms({"f1": "intro.ipynb"}, backend=backend) as rooms:
        s = await setup(rooms, backend, max_per_person=2)
        await s.copies.make(room_of("f1"), ADA)
        await s.copies.make(room_of("f1"), ADA)
        files_before = dict(backend.files)
        with pytest.raises(CopyRefused, match="you already keep 2 personal copies"):
            await s.copies.make(room_of("f1"), ADA)
        assert backend.files == files_before
        # someone else still may
        await s.copies.make(room_of("f1"), UserInfo("bob"))


async def test_review_threads_stay_behind():
    backend = CopyBackend()

    class WithThreads:
        async def export(self, room_id: DocumentRoomId) -> Any:
            nb = notebook("x")
            nb["metadata"] = {"huddle": {"comments": [{"id": "t1"}], "other": 1}, "k": 2}
            return nb

    backend.add("f1", "intro.ipynb", notebook("x"))
    access = AccessService(MemoryStore())
    copies = PersonalCopies(WithThreads(), backend, backend, access, "copies", 5)
    copy = await copies.make(room_of("f1"), ADA)
    assert backend.files[copy.path]["metadata"] == {
        "huddle": {"other": 1, "copy_of": {"path": "intro.ipynb", "by": "ada"}}, "k": 2}


async def test_what_cannot_be_read_or_written_is_said():
    backend = CopyBackend()
    async with OpenRooms({"f1": "intro.ipynb"}, backend=backend) as rooms:
        s = await setup(rooms, backend)
        with pytest.raises(DocumentNotFound, match="no notebook json:notebook:nope"):
            await s.copies.make(room_of("nope"), ADA)
        backend.refuse_writes = True
        with pytest.raises(SaveError, match=r"could not write the copy: .*disk full"):
            await s.copies.make(room_of("f1"), ADA)


@pytest.mark.parametrize(("display", "username", "folder"), [
    ("Ada Lovelace", "ada", "Ada-Lovelace-ada"),
    ("Zoë Ångström", "zoe", "Zo-ngstr-m-zoe"),
    ("../../etc", "guest-0123456789abcdef", "etc-89abcdef"),
    ("", "", "user-x"),
])
def test_folder_names_are_readable_safe_and_per_person(display, username, folder):
    assert folder_name(display, username) == folder
