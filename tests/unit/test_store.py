from __future__ import annotations

import asyncio
import sqlite3

import pytest

from jupyter_huddle.collab.store import DocumentRecord, MemoryStore, ServerStore, SQLiteStore


@pytest.fixture(params=["sqlite", "memory"])
def store(request, tmp_path, jp_asyncio_loop):
    """Both stores must behave the same (pytest-jupyter runs no async fixtures)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite_store = SQLiteStore(tmp_path / "store.db", commit_interval_ms=10)
    jp_asyncio_loop.run_until_complete(sqlite_store.start())
    yield sqlite_store
    jp_asyncio_loop.run_until_complete(sqlite_store.stop())


async def test_round_trip(store):
    await store.put_record(DocumentRecord("k", "epoch-1", saved_hash="h", path="a.ipynb"))
    for i in range(5):
        store.append("k", bytes([i]) * 3)
    await store.flush()
    history = await store.load("k")
    assert history.record.epoch == "epoch-1"
    assert history.record.saved_hash == "h"
    assert history.updates == [bytes([i]) * 3 for i in range(5)]
    assert await store.load("other") is None


async def test_compact_replaces_everything_appended_before(store):
    await store.put_record(DocumentRecord("k", "e"))
    for i in range(10):
        store.append("k", b"u%d" % i)
    await store.compact("k", b"STATE")
    store.append("k", b"after")
    await store.flush()
    assert (await store.load("k")).updates == [b"STATE", b"after"]


async def test_delete_and_purge(store):
    await store.put_record(DocumentRecord("gone", "e", deleted_at=100.0))
    await store.put_record(DocumentRecord("kept", "e", deleted_at=None))
    store.append("gone", b"x")
    assert await store.purge_deleted(older_than=200.0) == 1
    assert await store.load("gone") is None
    assert await store.load("kept") is not None
    await store.delete("kept")
    assert await store.record("kept") is None


async def test_group_commit_batches_bursts(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", commit_interval_ms=50)
    await store.start()
    await store.put_record(DocumentRecord("k", "e"))
    commits_before = store.commits
    for i in range(2000):
        store.append("k", b"%d" % i)
    await store.flush()
    assert store.commits - commits_before <= 3
    history = await store.load("k")
    assert history is not None
    assert len(history.updates) == 2000
    await store.stop()


async def test_survives_reopen(tmp_path):
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.start()
    await store.put_record(DocumentRecord("k", "e1"))
    store.append("k", b"data")
    await store.stop()
    again = SQLiteStore(path)
    await again.start()
    history = await again.load("k")
    assert history is not None
    assert history.updates == [b"data"]
    await again.stop()


@pytest.mark.parametrize("damage", ["garbage", "old_schema"])
async def test_broken_store_is_moved_aside_and_replaced(tmp_path, caplog, damage):
    path = tmp_path / "s.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE yupdates (path TEXT, yupdate BLOB)")
        con.execute("PRAGMA user_version = 2")
        con.commit()
        con.close()
    store = SQLiteStore(path)
    await store.start()
    assert await store.load("anything") is None
    await store.put_record(DocumentRecord("k", "e"))
    record = await store.record("k")
    assert record is not None
    assert record.epoch == "e"
    await store.stop()
    assert any(p.name.startswith("s.db.broken-") for p in tmp_path.iterdir())
    assert str(path) in caplog.text


async def test_unopenable_store_falls_back_to_memory(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    store = ServerStore(SQLiteStore(blocker / "sub" / "s.db", commit_interval_ms=10))
    await store.start()
    assert isinstance(store.active, MemoryStore)
    assert "will not survive a restart" in caplog.text


async def test_concurrent_appends_from_many_documents(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", commit_interval_ms=10)
    await store.start()

    async def writer(n: int) -> None:
        await store.put_record(DocumentRecord(f"d{n}", "e"))
        for i in range(50):
            store.append(f"d{n}", b"%d" % i)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(100)))
    await store.flush()
    for n in range(100):
        history = await store.load(f"d{n}")
        assert history is not None
        assert len(history.updates) == 50
    await store.stop()
