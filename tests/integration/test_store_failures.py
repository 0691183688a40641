"""A store that fails must not take the server with it (issue 12).

An update store that cannot be opened, or fails while the server runs, leaves editing,
syncing, saving and sharing working; every client is told history is not durable (the
server presence field ``huddle.history_durable``), and told again once it is.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_huddle.collab.store import SQLiteStore
from jupyter_huddle.collab.store import sqlite as sqlite_store
from tests.support.restartable import stored_sources
from tests.support.yclient import YClient

BASE_CONFIG = {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
               "save_retry_delay_s": 0.2}
QUEUE_BOUND = 32 * 1024


@pytest.fixture
def huddle_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "unwritable":
        # A regular file where the store's folder should be (tests run as root, so a
        # read-only folder would not stop the store).
        blocker = tmp_path / "blocker"
        blocker.write_text("a file, not a folder")
        return {**BASE_CONFIG, "store_path": str(blocker / "huddle" / "store.sqlite")}
    return {**BASE_CONFIG, "store_path": str(tmp_path / "store" / "store.sqlite"),
            "max_store_queue_bytes": QUEUE_BOUND}


def history_durable(client: YClient) -> Any:
    """``huddle.history_durable`` in the server's own presence entry (None: not set)."""
    state = client.awareness.get(client.server_client_id or -1)
    return state.get("huddle", {}).get("history_durable") if isinstance(state, dict) else None


async def create_link(huddle: Any, room: str) -> dict[str, Any]:
    response = await huddle.request("POST", f"api/huddle/links/{room}", {"role": "viewer"})
    assert response.code == 201, response.body
    return dict(json.loads(response.body))


@pytest.mark.parametrize("huddle_config", ["unwritable"], indirect=True)
async def test_a_store_that_cannot_open_leaves_the_server_serving(
        huddle, write_notebook, jp_root_dir):
    write_notebook("nb.ipynb", ["a = 1"])
    me = await huddle.request("GET", "api/me")
    assert me.code == 200, me.body  # authenticated requests need the access service
    room, session = await huddle.room_id("nb.ipynb")
    link = await create_link(huddle, room)
    listed = await huddle.request("GET", f"api/huddle/links/{room}")
    assert listed.code == 200
    assert [item["id"] for item in json.loads(listed.body)["links"]] == [link["link"]["id"]]
    async with huddle.client(room, session) as one, huddle.client(room, session) as two:
        async with asyncio.timeout(20):
            await one.synced.wait()
            await two.synced.wait()
        one.source(0).insert(0, "# one\n")
        await two.wait_for(lambda: str(two.source(0)).startswith("# one"))
        two.source(0).insert(len(str(two.source(0)).encode()), "\nb = 2")
        await one.wait_for(lambda: str(one.source(0)).endswith("b = 2"))
        for client in (one, two):
            await client.wait_for(lambda c=client: history_durable(c) is False)
        assert await one.save() == "success"
    saved = nbformat.read(str(jp_root_dir / "nb.ipynb"), as_version=4)
    assert saved.cells[0].source == "# one\na = 1\nb = 2"


def break_store(folder: Path) -> None:
    """The store's folder removed, and a file put where it was: the store can neither keep
    writing to the old file (it is gone) nor create a new one."""
    shutil.rmtree(folder)
    folder.write_text("in the way")


def stored_values(path: Path, namespace: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT count(*) FROM kv WHERE ns = ?",
                               (namespace,)).fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("huddle_config", ["failing"], indirect=True)
async def test_a_store_failing_while_running_is_told_and_recovers(
        huddle, write_notebook, jp_root_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "_MAX_RETRY_DELAY_S", 0.2)
    store = huddle.extension.store.active
    assert isinstance(store, SQLiteStore)
    store.retry_delay_s = 0.05
    write_notebook("nb.ipynb", ["a = 1"])
    room, session = await huddle.room_id("nb.ipynb")
    await create_link(huddle, room)
    async with huddle.client(room, session) as one, huddle.client(room, session) as two:
        async with asyncio.timeout(20):
            await one.synced.wait()
            await two.synced.wait()
        assert history_durable(one) is None  # nothing to tell while all is well

        break_store(tmp_path / "store")
        one.source(0).insert(0, "x")
        for client in (one, two):
            await client.wait_for(lambda c=client: history_durable(c) is False)

        # Edits go on and sync; what waits for the store stays bounded.
        most = 0
        for i in range(100):
            one.source(0).insert(0, f"{i:04d}" + "y" * 1000 + "\n")
            if i % 10 == 9:
                await two.wait_for(lambda i=i: str(two.source(0)).startswith(f"{i:04d}"))
                most = max(most, store.queued_bytes)
        assert most <= QUEUE_BOUND + 2048  # the bound, overshot by one update at most
        assert await one.save() == "success"
        saved = nbformat.read(str(jp_root_dir / "nb.ipynb"), as_version=4)
        assert saved.cells[0].source == str(one.source(0))
        assert history_durable(one) is False

        (tmp_path / "store").unlink()  # writes can work again
        for client in (one, two):
            await client.wait_for(lambda c=client: history_durable(c) is True, timeout=20)
        # The new database holds the document's whole history and the share link.
        path = tmp_path / "store" / "store.sqlite"
        assert stored_sources(path, room) == [str(one.source(0))]
        assert stored_values(path, "share_links") == 1
        history = await huddle.extension.store.load(room)
        assert history.complete
        assert history.record.epoch == session
