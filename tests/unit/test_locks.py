"""Locked cells hold against peers who may edit but not manage the notebook."""

from __future__ import annotations

from pycrdt import Array, Map

from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.room import Room
from tests.support.memory_peer import MemoryPeer
from tests.unit.test_room import ROOM, notebook, source


def cells(peer: MemoryPeer) -> Array:
    return peer.doc.get("cells", type=Array)


def texts(peer: MemoryPeer) -> list[str]:
    return [str(c["source"]) for c in cells(peer)]


def sync(*peers: MemoryPeer) -> None:
    for _ in range(3):
        for peer in peers:
            peer.pump()


async def test_a_student_cannot_change_delete_or_unlock_locked_cells():
    async with Room(ROOM, notebook("answer = 42", "setup()", "work here"),
                    CollabSettings()) as room:
        teacher = MemoryPeer(room, "teacher", manage=True).join()
        student = MemoryPeer(room, "student").join()
        other = MemoryPeer(room, "other").join()
        cells(teacher)[0]["metadata"]["editable"] = False
        cells(teacher)[1]["metadata"]["deletable"] = False
        sync(teacher, student, other)
        assert cells(student)[0]["metadata"]["editable"] is False

        source(student, 0).insert(0, "# cheat\n")  # inside a locked cell
        sync(teacher, student, other)
        assert any(r.get("reason") == "locked" for r in student.raw)
        assert texts(student)[0] == texts(other)[0] == "answer = 42"

        del cells(student)[1]  # an undeletable cell
        sync(teacher, student, other)
        assert texts(student) == texts(other) == ["answer = 42", "setup()", "work here"]

        cells(student)[0]["metadata"]["editable"] = True  # unlocking
        sync(teacher, student, other)
        assert cells(other)[0]["metadata"]["editable"] is False
        assert cells(student)[0]["metadata"]["editable"] is False

        cells(student)[2]["metadata"]["editable"] = False  # locking is the teacher's too
        sync(teacher, student, other)
        assert "editable" not in cells(other)[2]["metadata"]

        # the unlocked cell is the student's to edit; the undeletable one to edit as well
        source(student, 2).insert(0, "mine: ")
        source(student, 1).insert(0, "# note\n")
        sync(teacher, student, other)
        assert texts(other) == ["answer = 42", "# note\nsetup()", "mine: work here"]
        # the teacher edits locked cells and unlocks them
        source(teacher, 0).insert(0, "# hint\n")
        cells(teacher)[0]["metadata"]["editable"] = True
        sync(teacher, student, other)
        assert texts(student)[0] == "# hint\nanswer = 42"
        source(student, 0).insert(0, "# now allowed\n")
        sync(teacher, student, other)
        assert texts(other)[0] == "# now allowed\n# hint\nanswer = 42"


async def test_a_new_cell_and_moves_elsewhere_are_fine():
    async with Room(ROOM, notebook("locked", "free"), CollabSettings()) as room:
        teacher = MemoryPeer(room, "teacher", manage=True).join()
        student = MemoryPeer(room, "student").join()
        cells(teacher)[0]["metadata"]["editable"] = False
        sync(teacher, student)
        cells(student).append(Map({"id": "new", "cell_type": "code", "source": "x",
                                   "metadata": {}, "outputs": [],
                                   "execution_count": None}))
        sync(teacher, student)
        assert [str(c["source"]) for c in cells(teacher)] == ["locked", "free", "x"]
        assert not any(r.get("reason") == "locked" for r in student.raw)
