"""Point 8: locks and server-owned state hold for editors.

An editor link may edit cells, but not: a cell its owner locked (not even by deleting it
and inserting a look-alike under its id in the same update), the notebook's raw JSON
through a text-file view of the ``.ipynb`` (which has no locks and no role checks of its
own), or the fields of ``state`` that only the server writes (``save_error``, ``path``,
``hash``; ``document_id`` only as the room's own id).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import nbformat
from pycrdt import Array, Map, Text

from tests.support.guests import guest_in
from tests.support.waiting import eventually


def saved_sources(jp_root_dir, path: str) -> list[str]:
    return [str(c.source) for c in nbformat.read(str(jp_root_dir / path), 4).cells]


async def test_a_locked_cell_cannot_be_replaced_under_its_own_id(huddle, write_notebook,
                                                                  jp_root_dir):
    write_notebook("quiz.ipynb", ["answer = 42", "work = 0"])
    guest, room, session = await guest_in(huddle, "quiz.ipynb", "editor", "Ed")
    async with huddle.open("quiz.ipynb") as owner, guest.client(room, session) as student:
        async with asyncio.timeout(20):
            await student.synced.wait()
        locked = owner.cells[0]
        locked["metadata"]["editable"] = False
        locked["metadata"]["deletable"] = False
        await student.wait_for(lambda: student.cells[0]["metadata"].get("editable") is False)
        original = student.cells[0].to_py()

        # delete the locked cell and insert a look-alike: same id, same flags, new source
        forged = {**original, "source": Text("answer = 0  # forged"),
                  "metadata": Map(original["metadata"]), "outputs": Array()}
        with student.doc.transaction():
            del student.cells[0]
            student.cells.insert(0, Map(forged))
        await student.wait_for(lambda: any(r.get("reason") == "locked" for r in student.raw))
        await student.wait_for(lambda: str(student.source(0)) == "answer = 42")
        assert str(owner.source(0)) == "answer = 42"
        assert [str(c["source"]) for c in owner.cells] == ["answer = 42", "work = 0"]

        # moving the locked cell unchanged (JupyterLab moves by delete + insert) is fine
        moved = dict(student.cells[0].to_py())
        with student.doc.transaction():
            del student.cells[0]
            student.cells.insert(1, Map({**moved, "source": Text(moved["source"]),
                                         "metadata": Map(moved["metadata"]),
                                         "outputs": Array()}))
        await owner.wait_for(lambda: str(owner.source(1)) == "answer = 42")
        assert owner.cells[1]["metadata"]["editable"] is False

    async def saved() -> bool:
        try:
            return saved_sources(jp_root_dir, "quiz.ipynb") == ["work = 0", "answer = 42"]
        except (ValueError, nbformat.reader.NotJSONError):
            return False  # read while the server was writing it

    await eventually(saved, timeout=10, what="the moved notebook to be saved")


async def test_the_notebooks_text_view_is_read_only_for_editors(huddle, write_notebook,
                                                                jp_root_dir):
    write_notebook("raw.ipynb", ["answer = 42"])
    before = (jp_root_dir / "raw.ipynb").read_text()
    guest, _room, _ = await guest_in(huddle, "raw.ipynb", "editor", "Ed")
    model = await guest.json("PUT", f"api/collaboration/session/{quote('raw.ipynb')}",
                             {"format": "text", "type": "file"})
    text_room = f"text:file:{model['fileId']}"
    async with guest.client(text_room, model["sessionId"]) as view:
        async with asyncio.timeout(20):
            await view.synced.wait()
        source = view.doc.get("source", type=Text)
        assert '"answer = 42"' in str(source)
        source.insert(0, '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        await view.wait_for(lambda: any(r.get("reason") == "read_only" for r in view.raw))
    async with huddle.open("raw.ipynb") as owner:
        assert str(owner.source(0)) == "answer = 42"
    assert (jp_root_dir / "raw.ipynb").read_text() == before


async def test_an_editor_cannot_write_the_servers_save_state(huddle, write_notebook):
    write_notebook("state.ipynb", ["a = 1"])
    guest, room, session = await guest_in(huddle, "state.ipynb", "editor", "Ed")
    async with huddle.open("state.ipynb") as owner, guest.client(room, session) as editor:
        async with asyncio.timeout(20):
            await editor.synced.wait()
        owner_state = owner.doc.get("state", type=Map)
        await owner.wait_for(lambda: owner_state.get("path") == "state.ipynb")
        before = {k: owner_state.get(k) for k in ("path", "hash", "save_error")}
        state = editor.doc.get("state", type=Map)
        with editor.doc.transaction():
            state["save_error"] = "Disk full: open http://evil.example to recover"
            state["path"] = "../../etc/passwd"
            state["hash"] = "0"
            state["document_id"] = "json:notebook:someone-elses"
        await editor.wait_for(lambda: any(r.get("reason") == "protected" for r in editor.raw))
        await editor.wait_for(lambda: state.get("path") == "state.ipynb")
        assert {k: owner_state.get(k) for k in ("path", "hash", "save_error")} == before
        assert owner_state.get("document_id") in (None, room)
        refusals = len(editor.raw)

        # what JupyterLab itself writes there passes: dirty with an edit, its own room id
        with editor.doc.transaction():
            editor.source(0).insert(0, "# edited\n")
            state["dirty"] = True
            state["document_id"] = room
        await owner.wait_for(lambda: "# edited" in str(owner.source(0)))
        assert owner_state.get("document_id") == room
        assert len(editor.raw) == refusals, editor.raw
        assert json.dumps(owner_state.to_py())  # still plain JSON for every reader
