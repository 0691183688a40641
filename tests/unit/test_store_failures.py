"""A store that fails must not take the server with it (issue 12): resolved once, bounded,
never waited on while failing, and restored whole once it works again."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pycrdt import Array, Doc

from jupyter_huddle.collab.access.roles import Role
from jupyter_huddle.collab.access.service import AccessService
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.rooms.manager import RoomManager
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.store import (
    DocumentRecord,
    MemoryStore,
    ServerStore,
    SQLiteStore,
    StoredHistory,
    sqlite_db,
)
from jupyter_huddle.collab.store import sqlite as sqlite_module
from jupyter_huddle.collab.store.queue import Op, WriteQueue
from tests.support.memory_backend import MemoryBackend

ROOM = DocumentRoomId("json", "notebook", "nb1")
SETTINGS = CollabSettings(save_delay_s=60, max_save_delay_s=120, room_cleanup_delay_s=0)
BOUND = 10_000
UPDATE = b"y" * 100
# One operation's own size on top of the bound: the update and its bookkeeping.
OVERSHOOT = len(UPDATE) + 200


class DiskFull:
    """Every commit of the store fails, as on a full disk, while ``failing``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.failing = False
        real = sqlite_db.apply  # what commit_batch calls, by this name, for each operation

        async def apply(db: Any, op: Op, now: float) -> Any:
            if self.failing:
                raise sqlite3.OperationalError("database or disk is full")
            return await real(db, op, now)

        monkeypatch.setattr(sqlite_db, "apply", apply)
        monkeypatch.setattr(sqlite_module, "_MAX_RETRY_DELAY_S", 0.05)


class Durability:
    """What a store told its listener, and a way to wait for it."""

    def __init__(self) -> None:
        self.told: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, durable: bool) -> None:
        self.told.append(durable)
        self._changed.set()

    async def until(self, durable: bool, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while not self.told or self.told[-1] != durable:
                self._changed.clear()
                await self._changed.wait()


def sqlite_store(path: Path, **options: Any) -> SQLiteStore:
    return SQLiteStore(path, commit_interval_ms=5, max_queue_bytes=BOUND, retry_delay_s=0.01,
                       **options)


def blocked_path(tmp_path: Path) -> Path:
    """A store path whose folder is a regular file: it cannot be created (even as root)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    return blocker / "sub" / "store.sqlite"


# --- one store, resolved once --------------------------------------------------------------

async def test_a_store_that_cannot_open_falls_back_inside_the_one_object(tmp_path):
    store = ServerStore(SQLiteStore(blocked_path(tmp_path)))
    told = Durability()
    store.listeners.append(told)
    manager = RoomManager(SETTINGS, MemoryBackend(), store)
    access = AccessService(store, open_store=manager.start)
    await access.ready()
    assert manager.store is store
    assert isinstance(store.active, MemoryStore)
    assert store.durable is False
    assert told.told == [False]
    link, token = await access.create_link("nb", Role.VIEWER, "owner")
    assert access.check_token(token, "ip").id == link.id
    await manager.close_all()


async def test_the_manager_never_swaps_the_store_the_access_service_holds(tmp_path):
    """As the app wires them: access gets ``manager.store`` before the store is opened."""
    manager = RoomManager(SETTINGS, MemoryBackend(), SQLiteStore(blocked_path(tmp_path)))
    access = AccessService(manager.store, open_store=manager.start)
    await access.ready()  # the store could not open: share links still work, in memory
    await access.assign("nb", "student", Role.EDITOR)
    assert access.store is manager.store
    assert await manager.store.values("roles") == {"nb student": "editor"}
    await manager.close_all()


# --- the bounded queue ----------------------------------------------------------------------

def test_a_document_whose_writes_do_not_fit_loses_them_until_a_full_state():
    queue = WriteQueue(max_bytes=1000)
    assert queue.put(Op("append", "a", b"a" * 500))
    assert queue.put(Op("append", "b", b"b" * 600))
    assert not queue.put(Op("append", "a", b"more"))  # full: "a" loses its queued writes
    assert queue.tainted == {"a"}
    assert [op.key for op in queue.ops] == ["b"]
    assert not queue.put(Op("record", "a", record=DocumentRecord("a", "e")))
    assert queue.put(Op("value", "l1", namespace="links", value="v"))  # always kept
    assert queue.put(Op("compact", "a", b"STATE"))  # the whole state: complete again
    assert queue.tainted == set()
    assert queue.put(Op("append", "a", b"after"))
    assert [op.kind for op in queue.ops] == ["append", "value", "compact", "append"]


async def test_nothing_waits_and_memory_stays_bounded_while_the_disk_is_full(
        tmp_path, monkeypatch):
    disk = DiskFull(monkeypatch)
    store = sqlite_store(tmp_path / "s.db")
    durability = Durability()
    store.on_durability = durability
    await store.start()
    await store.put_record(DocumentRecord("a", "e"))
    store.append("a", b"base")
    await store.flush()
    disk.failing = True
    store.append("a", UPDATE)
    await durability.until(False)
    async with asyncio.timeout(1):  # edits, saves and share links never wait on it
        for i in range(2000):
            store.append("ab"[i % 2], UPDATE)
            assert store.queued_bytes <= BOUND + OVERSHOOT
        for i in range(500):  # saves and share-link uses: the latest of each is kept
            await store.put_record(DocumentRecord("c", "e", saved_hash=f"h{i}"))
            await store.put_value("links", "l1", f"v{i}")
        await store.compact("c", b"C")
        await store.flush()
    assert not store.durable
    assert store.queued_bytes <= BOUND + OVERSHOOT + 1000  # + one compaction, record, value
    history = await store.load("a")
    assert history is not None
    assert history.complete is False  # its log lost writes
    record = await store.record("c")
    assert record is not None
    assert record.saved_hash == "h499"  # what was written reads back
    assert await store.values("links") == {"l1": "v499"}
    await store.stop()


# --- recovery -------------------------------------------------------------------------------

class Owner:
    """Stands in for the room manager: rewrites the documents it has open (their state,
    and, with ``records``, their record, as ``FileBinding.restore_history`` does)."""

    def __init__(self, store: SQLiteStore, open_documents: dict[str, bytes],
                 records: bool = False) -> None:
        self.store = store
        self.open = open_documents
        self.records = records
        self.asked: list[str] = []

    async def __call__(self, key: str) -> bool:
        self.asked.append(key)
        if key not in self.open:
            return False
        await self.store.compact(key, self.open[key])
        if self.records:
            await self.store.put_record(DocumentRecord(key, "e", saved_hash="live"))
        return True


async def test_once_writes_work_again_incomplete_logs_are_restored_then_durable(
        tmp_path, monkeypatch):
    disk = DiskFull(monkeypatch)
    path = tmp_path / "s.db"
    store = sqlite_store(path)
    durability = Durability()
    store.on_durability = durability
    owner = Owner(store, {"open": b"LIVE STATE"})
    store.restore = owner
    await store.start()
    for key in ("open", "closed"):
        await store.put_record(DocumentRecord(key, "e"))
        store.append(key, b"base")
    await store.flush()
    disk.failing = True
    for _ in range(200):  # more than the queue holds: both logs lose writes
        store.append("open", UPDATE)
        store.append("closed", UPDATE)
    await store.put_record(DocumentRecord("open", "e", saved_hash="saved meanwhile"))
    await durability.until(False)
    disk.failing = False
    await durability.until(True)
    assert sorted(owner.asked) == ["closed", "open"]
    await store.stop()

    again = SQLiteStore(path)  # what a restart finds
    await again.start()
    history = await again.load("open")
    assert history is not None
    assert history.updates == [b"LIVE STATE"]
    assert history.record.saved_hash == "saved meanwhile"
    assert await again.load("closed") is None  # nobody had it open: it loads from its file
    await again.stop()


async def test_a_removed_database_is_noticed_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_module, "_MAX_RETRY_DELAY_S", 0.05)
    folder = tmp_path / "db"
    store = sqlite_store(folder / "s.db")
    durability = Durability()
    store.on_durability = durability
    store.restore = Owner(store, {"open": b"LIVE STATE"}, records=True)
    await store.start()
    await store.put_value("share_links", "l1", "link")
    await store.put_record(DocumentRecord("open", "e"))
    store.append("open", b"base")
    await store.flush()
    shutil.rmtree(folder)  # the file is gone: writes would go nowhere
    folder.write_text("in the way")  # and no new one can be made yet
    store.append("open", b"edit")
    await durability.until(False)
    folder.unlink()
    await durability.until(True)
    await store.stop()

    again = SQLiteStore(folder / "s.db")
    await again.start()
    assert await again.values("share_links") == {"l1": "link"}
    history = await again.load("open")
    assert history is not None
    assert history.updates == [b"LIVE STATE"]
    assert history.record.saved_hash == "live"
    await again.stop()


# --- loading a document whose log is incomplete ---------------------------------------------

class IncompleteStore(MemoryStore):
    """A store whose logs all lost writes (as SQLiteStore reports after a failure)."""

    async def load(self, key: str) -> StoredHistory | None:
        history = await super().load(key)
        if history is None:
            return None
        return StoredHistory(history.record, history.updates, complete=False)


def cell_sources(updates: list[bytes]) -> list[str]:
    doc: Doc = Doc()
    for update in updates:
        doc.apply_update(update)
    return [str(cell["source"]) for cell in doc.get("cells", type=Array)]


async def test_an_incomplete_log_is_not_replayed_but_replaced_under_a_new_history():
    backend = MemoryBackend()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", id="c0")]
    backend.add(ROOM.file_id, "nb.ipynb", nbformat.from_dict(nb))
    store = IncompleteStore()
    partial: Doc = Doc()
    partial.get("cells", type=Array).append("not a cell")  # part of an older history
    await store.put_record(DocumentRecord(str(ROOM), "old", path="nb.ipynb"))
    store.append(str(ROOM), partial.get_update())
    manager = RoomManager(SETTINGS, backend, store)
    room = await manager.lease(ROOM)
    assert room.document is not None
    assert [c["source"] for c in room.document.export()["cells"]] == ["a = 1"]
    assert (await manager.session_for(ROOM, "nb.ipynb")) != "old"
    assert cell_sources(store.updates[str(ROOM)]) == ["a = 1"]  # the old log is gone
    manager.release(ROOM)
    await manager.close_all()
