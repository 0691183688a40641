"""Server-wide bounds: rooms per server."""

from __future__ import annotations

import pytest


@pytest.fixture
def huddle_config():
    return {"max_rooms": 1, "room_cleanup_delay_s": 30, "save_delay_s": 0.1}


async def test_busy_server_refuses_new_rooms_then_evicts_idle_ones(huddle, write_notebook):
    write_notebook("one.ipynb")
    write_notebook("two.ipynb")
    rooms = huddle.extension.rooms
    async with huddle.open("one.ipynb"):
        room, session = await huddle.room_id("two.ipynb")
        refused = huddle.client(room, session)
        await refused.connect()
        code, reason = await refused.wait_closed()
        assert code == 1013
        assert "busy rooms" in reason
    # "one" is idle now (kept for 30 s): opening "two" evicts it instead of refusing.
    async with huddle.open("two.ipynb") as client:
        assert len(rooms) == 1
        assert len(client.cells) == 1
