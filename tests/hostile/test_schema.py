"""Well-formed updates with hostile content: they decode and apply, but break the notebook
schema (a cell that is not a map, a string where nbformat expects a number...).

Whatever the server does with them (refuse them, or repair them), the honest peers must
keep syncing, a save request must get an answer, and the honest edits must keep reaching
the file: one bad peer must not be able to stop a room (or the server) from saving."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pycrdt import Array, Map, Text

from tests.support.waiting import eventually
from tests.support.yclient import YClient

from .helpers import DEADLINE, append, honest_room, marker, text_of

POISONS: dict[str, Callable[[YClient], None]] = {
    "string-cell": lambda h: h.cells.append("evil"),
    "number-cell": lambda h: h.cells.append(42),
    "array-cell": lambda h: h.cells.append(Array([1, 2])),
    "text-cell": lambda h: h.cells.append(Text("x")),
    "nbformat-string": lambda h: h.meta.__setitem__("nbformat", "four"),
    "cell-without-type": lambda h: h.cells.append(Map({"source": Text("x")})),
    "source-is-a-map": lambda h: h.cells.append(Map({
        "cell_type": "code", "source": Map({"a": 1}), "metadata": Map(),
        "outputs": Array(), "execution_count": None})),
    "metadata-is-text": lambda h: h.meta.__setitem__("metadata", Text("zzz")),
    "all-cells-deleted": lambda h: h.cells.clear(),
    "duplicate-cell-ids": lambda h: h.cells[1].__setitem__("id", h.cells[0]["id"]),
    "state-forged": lambda h: h.state.update({"dirty": False, "hash": "forged"}),
}


def _on_disk(root: Path, path: str) -> str:
    return (root / path).read_text()


@pytest.mark.parametrize("poison", list(POISONS))
async def test_schema_poison_does_not_stop_saving(huddle, write_notebook, jp_root_dir, poison):
    apply_poison = POISONS[poison]
    async with honest_room(huddle, write_notebook) as room, huddle.open(room.path) as mallory:
        before = room.a.doc.get_state()
        apply_poison(mallory)
        # Either the server relays it or it closes Mallory for it.
        await room.a.wait_for(
            lambda: room.a.doc.get_state() != before or mallory.close_code is not None,
            DEADLINE)
        if mallory.close_code is not None:
            assert mallory.close_code in {1002, 1003, 1007, 1008}

        cell = len(room.a.cells) - 1 if poison == "all-cells-deleted" else 0
        first = marker()
        append(room.a, first, cell)
        await room.b.wait_for(lambda: first in text_of(room.b, cell), DEADLINE)
        # A save request is answered, and says the edit is on disk.
        status = await room.a.save(41, timeout=1)
        assert status == "success", status
        assert first in _on_disk(jp_root_dir, room.path)
        # Autosave goes on too.
        second = marker()
        append(room.b, second, cell)
        await eventually(lambda: second in _on_disk(jp_root_dir, room.path), DEADLINE,
                         what="the autosave of a later honest edit")
        nb = json.loads(_on_disk(jp_root_dir, room.path))
        assert nb["cells"], "a notebook is never saved without cells"


@pytest.mark.parametrize("huddle_config", [{
    "save_delay_s": 30, "max_save_delay_s": 60, "room_cleanup_delay_s": 60,
    "save_retry_delay_s": 30}])
async def test_poisoned_room_does_not_cost_other_rooms_their_edits_at_shutdown(
        huddle, write_notebook, jp_root_dir, huddle_config):
    """Shutdown flushes every room even when one of them cannot be saved."""
    write_notebook("poisoned.ipynb")
    write_notebook("innocent.ipynb", ["a = 1"])
    async with huddle.open("poisoned.ipynb") as mallory, \
            huddle.open("innocent.ipynb") as alice:
        mallory.cells.append("evil")
        edit = marker()
        append(alice, edit)
        rooms = huddle.extension.rooms
        poisoned, innocent = rooms._entries.values()  # in opening order: poisoned first
        assert poisoned.binding.path == "poisoned.ipynb"
        await eventually(lambda: len(poisoned.room.doc.get("cells", type=Array)) == 2,
                         what="the poison to reach the server")
        await eventually(lambda: edit in str(innocent.room.doc.get("cells", type=Array)[0]
                                             ["source"]),
                         what="alice's edit to reach the server")
        assert innocent.binding.saver.dirty  # not saved yet: shutdown must write it
        # What matters is what reaches the disk, not whether close_all raises.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(DEADLINE):
                await rooms.close_all()
        assert edit in _on_disk(jp_root_dir, "innocent.ipynb")


async def test_poisoned_room_is_still_evicted(huddle, write_notebook):
    write_notebook("poisoned.ipynb")
    async with huddle.open("poisoned.ipynb") as mallory:
        mallory.cells.append("evil")
        rooms = huddle.extension.rooms
        (entry,) = rooms._entries.values()
        await eventually(lambda: len(entry.room.doc.get("cells", type=Array)) == 2,
                         what="the poison to reach the server")
    # room_cleanup_delay_s is 0.5 s in the default test config.
    await eventually(lambda: len(rooms) == 0, 2, what="the empty room to be evicted")
