"""Files changed outside Huddle while their room is open, and deleted files."""

from __future__ import annotations

import json

import nbformat
import pytest
from pycrdt import Assoc, StickyIndex


@pytest.fixture
def huddle_config():
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "file_poll_interval_s": 0.1}


def rewrite(root, path, change):
    nb = nbformat.read(str(root / path), as_version=4)
    change(nb)
    nbformat.write(nb, str(root / path))


async def test_outside_edit_is_merged_as_a_minimal_diff(huddle, write_notebook, jp_root_dir):
    write_notebook("oob.ipynb", ["untouched = 1", "changed = 2"])
    async with huddle.open("oob.ipynb") as client:
        cursor = StickyIndex.new(client.source(0), 5, Assoc.AFTER)
        client.source(0).insert(0, "# unsaved\n")  # saved soon: not a conflict

        def saved() -> bool:
            return nbformat.read(str(jp_root_dir / "oob.ipynb"), 4).cells[0].source.startswith(
                "# unsaved")

        await client.wait_for(saved, timeout=10)

        def edit(nb):
            nb.cells[1].source = "changed = 3"
            nb.cells.append(nbformat.v4.new_markdown_cell("added outside"))

        rewrite(jp_root_dir, "oob.ipynb", edit)
        await client.wait_for(lambda: len(client.cells) == 3, timeout=10)
        assert str(client.source(1)) == "changed = 3"
        assert str(client.source(2)) == "added outside"
        # the untouched cell is the same shared text: a cursor in it did not move
        assert str(client.source(0)) == "# unsaved\nuntouched = 1"
        assert cursor.get_index() == len("# unsaved\n") + 5
        expected_hash = json.loads((await huddle.request(
            "GET", "api/contents/oob.ipynb?content=0&hash=1")).body)["hash"]
        await client.wait_for(lambda: client.state.get("hash") == expected_hash)


async def test_touching_a_file_changes_nothing(huddle, write_notebook, jp_root_dir):
    write_notebook("touch.ipynb", ["x"])
    async with huddle.open("touch.ipynb"):
        rooms = huddle.extension.rooms
        file_id = json.loads((await huddle.session("touch.ipynb")).body)["fileId"]
        room = rooms.rooms_for_file(file_id)[0]
        state_before = room.doc.get_state()
        (jp_root_dir / "touch.ipynb").touch()
        await rooms.file_changed("touch.ipynb")
        assert room.doc.get_state() == state_before


# Unsaved edits must stay unsaved while the disk changes under them.
SLOW_SAVES = {"save_delay_s": 60, "max_save_delay_s": 120, "file_poll_interval_s": 0.1}


@pytest.mark.parametrize("huddle_config", [SLOW_SAVES])
async def test_both_sides_changed_disk_wins_and_ours_is_kept(huddle, write_notebook,
                                                             jp_root_dir):
    write_notebook("both.ipynb", ["shared = 0", "other = 0"])
    async with huddle.open("both.ipynb") as client, huddle.open("both.ipynb") as witness:
        client.source(0).insert(0, "ours: ")
        await witness.wait_for(lambda: str(witness.source(0)).startswith("ours"))
        rewrite(jp_root_dir, "both.ipynb", lambda nb: setattr(nb.cells[0], "source", "disk: 1"))
        await client.wait_for(
            lambda: any(r.get("type") == "file_changed" for r in client.raw), timeout=10)
        notice = next(r for r in client.raw if r.get("type") == "file_changed")
        await client.wait_for(lambda: str(client.source(0)) == "disk: 1")
        assert notice["conflicts"] == [client.cells[0]["id"]]
        backup = nbformat.read(str(jp_root_dir / notice["backup"]), as_version=4)
        assert backup.cells[0].source == "ours: shared = 0"


@pytest.mark.parametrize("huddle_config", [SLOW_SAVES])
async def test_unsaved_edits_in_other_cells_survive_an_outside_edit(huddle, write_notebook,
                                                                    jp_root_dir):
    write_notebook("keep.ipynb", ["mine = 0", "theirs = 0"])
    async with huddle.open("keep.ipynb") as client, huddle.open("keep.ipynb") as witness:
        client.source(0).insert(0, "# unsaved\n")
        await witness.wait_for(lambda: str(witness.source(0)).startswith("# unsaved"))
        rewrite(jp_root_dir, "keep.ipynb", lambda nb: setattr(nb.cells[1], "source", "theirs = 1"))
        await client.wait_for(lambda: str(client.source(1)) == "theirs = 1", timeout=10)
        assert str(client.source(0)) == "# unsaved\nmine = 0"
        assert not any(r.get("type") == "file_changed" for r in client.raw)
        # the unsaved edit is still to be saved, on top of the outside change
        assert await client.save() == "success"
    on_disk = nbformat.read(str(jp_root_dir / "keep.ipynb"), as_version=4)
    assert [c.source for c in on_disk.cells] == ["# unsaved\nmine = 0", "theirs = 1"]


async def test_deleted_file_closes_the_room_and_keeps_history(huddle, write_notebook):
    write_notebook("doomed.ipynb", ["x"])
    room, _ = await huddle.room_id("doomed.ipynb")
    async with huddle.open("doomed.ipynb") as client:
        response = await huddle.request("DELETE", "api/contents/doomed.ipynb")
        assert response.code == 204
        code, reason = await client.wait_closed()
        assert code == 4410
        assert "deleted" in reason
    record = await huddle.extension.rooms.store.record(room)
    assert record is not None
    assert record.deleted_at is not None


async def test_file_removed_outside_huddle_closes_the_room(huddle, write_notebook, jp_root_dir):
    write_notebook("rm.ipynb", ["x"])
    async with huddle.open("rm.ipynb") as client:
        (jp_root_dir / "rm.ipynb").unlink()
        code, _ = await client.wait_closed(timeout=10)
        assert code == 4410


@pytest.mark.parametrize("huddle_config", [{"file_poll_interval_s": 60}])
async def test_filesystem_notifications_catch_changes_without_polling(huddle, write_notebook,
                                                                      jp_root_dir):
    """With polling effectively off, the change must arrive through the watcher."""
    write_notebook("notify.ipynb", ["before"])
    async with huddle.open("notify.ipynb") as client:
        rewrite(jp_root_dir, "notify.ipynb",
                lambda nb: setattr(nb.cells[0], "source", "after"))
        await client.wait_for(lambda: str(client.source(0)) == "after", timeout=5)
