"""The update store under load, in one process (no reference: jupyter-collaboration's
store is measured by the throughput and rooms scenarios through its server).

    python -m bench.store_bench [--edits 100000] [--runs 3]

Measures, with the real SQLite store and Huddle's rooms and documents:
- store size and load (replay) time of a notebook after N single-character edits, with
  compaction held off, then after compaction;
- reopening a 1000-cell notebook from the store against building it from the file;
- appends per second the store commits while 10 peers type, and commits per second.
Prints a Markdown table; paste it into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from pycrdt import Array, Doc

from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.rooms.manager import RoomManager
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.store import SQLiteStore
from tests.support.memory_backend import MemoryBackend
from tests.support.memory_peer import MemoryPeer

ROOM = DocumentRoomId("json", "notebook", "bench")


def notebook(cells: int) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}\nprint(x{i})") for i in range(cells)]
    return nbformat.from_dict(nb)


async def open_peer(manager: RoomManager, name: str = "a") -> MemoryPeer:
    session = await manager.session_for(ROOM, "nb.ipynb")
    peer = MemoryPeer(None, name)
    peer.room = await manager.join(ROOM, peer.conn, session)
    peer.start_sync()
    return peer


async def replay(store: SQLiteStore) -> tuple[float, int]:
    """Seconds to load and apply the stored history, and how many rows it had."""
    started = time.perf_counter()
    history = await store.load(str(ROOM))
    doc: Doc = Doc()
    for update in history.updates if history else []:
        doc.apply_update(update)
    return time.perf_counter() - started, len(history.updates) if history else 0


async def edits_then_compaction(edits: int, tmp: Path) -> dict[str, float]:
    backend = MemoryBackend()
    backend.add(ROOM.file_id, "nb.ipynb", notebook(1))
    store = SQLiteStore(tmp / "edits.sqlite")
    settings = CollabSettings(save_delay_s=3600, max_save_delay_s=7200,
                              compact_after_updates=10**9, file_poll_interval_s=3600)
    manager = RoomManager(settings, backend, store)
    await manager.start()
    peer = await open_peer(manager)
    text = peer.doc.get("cells", type=Array)[0]["source"]
    for n in range(edits):
        text.insert(n, "x")
        peer.pump()
    binding = next(iter(manager._entries.values())).binding
    assert binding is not None
    before = await store.stored_bytes(str(ROOM))
    load_before, rows_before = await replay(store)
    await binding.compact()
    after = await store.stored_bytes(str(ROOM))
    load_after, _ = await replay(store)
    state = len(binding.document.doc.get_update())
    await manager.close_all()
    return {"rows_before": rows_before, "bytes_before": before,
            "load_before_ms": load_before * 1000, "bytes_after": after,
            "load_after_ms": load_after * 1000, "state_bytes": state}


async def edits_with_compaction(edits: int, tmp: Path) -> dict[str, float]:
    """The default settings: compaction on. What the store holds after ``edits`` edits."""
    backend = MemoryBackend()
    backend.add(ROOM.file_id, "nb.ipynb", notebook(1))
    store = SQLiteStore(tmp / "default.sqlite")
    settings = CollabSettings(save_delay_s=3600, max_save_delay_s=7200,
                              file_poll_interval_s=3600)
    manager = RoomManager(settings, backend, store)
    await manager.start()
    peer = await open_peer(manager)
    text = peer.doc.get("cells", type=Array)[0]["source"]
    for n in range(edits):
        text.insert(n, "x")
        peer.pump()
        if n % 1000 == 0:
            await asyncio.sleep(0)  # let compaction and the writer run, as a server would
    await store.flush()
    binding = next(iter(manager._entries.values())).binding
    assert binding is not None
    if binding._compaction is not None:
        await binding._compaction
    stored = await store.stored_bytes(str(ROOM))
    state = len(binding.document.doc.get_update())
    await manager.close_all()
    return {"stored_bytes": stored, "state_bytes": state, "ratio": stored / state}


async def reopen(tmp: Path) -> dict[str, float]:
    backend = MemoryBackend()
    backend.add(ROOM.file_id, "nb.ipynb", notebook(1000))
    settings = CollabSettings(room_cleanup_delay_s=0, file_poll_interval_s=3600)
    manager = RoomManager(settings, backend, SQLiteStore(tmp / "reopen.sqlite"))
    await manager.start()
    started = time.perf_counter()
    peer = await open_peer(manager)
    from_disk = time.perf_counter() - started
    manager.leave(peer.room, peer.conn)
    while len(manager):  # noqa: ASYNC110 - eviction has no event; immediate here
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    await open_peer(manager, "b")
    from_store = time.perf_counter() - started
    await manager.close_all()
    return {"from_disk_ms": from_disk * 1000, "from_store_ms": from_store * 1000}


async def typing_load(tmp: Path, seconds: float = 5.0) -> dict[str, float]:
    backend = MemoryBackend()
    nb = notebook(10)
    backend.add(ROOM.file_id, "nb.ipynb", copy.deepcopy(nb))
    store = SQLiteStore(tmp / "typing.sqlite")
    settings = CollabSettings(save_delay_s=3600, max_save_delay_s=7200,
                              file_poll_interval_s=3600)
    manager = RoomManager(settings, backend, store)
    await manager.start()
    peers = [await open_peer(manager, f"p{i}") for i in range(10)]
    deadline = time.perf_counter() + seconds
    appended, commits = store.appended, store.commits
    while time.perf_counter() < deadline:
        for i, peer in enumerate(peers):
            text = peer.doc.get("cells", type=Array)[i]["source"]
            text.insert(0, "k")
        for peer in peers:
            peer.pump()
        await asyncio.sleep(0)  # let the writer task run
    await store.flush()
    result = {"appends_per_s": (store.appended - appended) / seconds,
              "commits_per_s": (store.commits - commits) / seconds}
    await manager.close_all()
    return result


def median(runs: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in runs]
    return f"{statistics.median(values):,.1f} [{min(values):,.1f}–{max(values):,.1f}]"


async def main(edits: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        compaction = [await edits_then_compaction(edits, tmp / f"c{r}") for r in range(runs)
                      if (tmp / f"c{r}").mkdir() is None]
        default = [await edits_with_compaction(edits, tmp / f"d{r}") for r in range(runs)
                   if (tmp / f"d{r}").mkdir() is None]
        reopening = [await reopen(tmp / f"r{r}") for r in range(runs)
                     if (tmp / f"r{r}").mkdir() is None]
        typing = [await typing_load(tmp / f"t{r}") for r in range(runs)
                  if (tmp / f"t{r}").mkdir() is None]
    print(f"| figure ({runs} runs, median [min–max]) | value |")
    print("|---|---:|")
    print(f"| rows after {edits:,} one-character edits, no compaction | "
          f"{median(compaction, 'rows_before')} |")
    for key, label in [("bytes_before", "store bytes before compaction"),
                       ("load_before_ms", "load (replay) before compaction, ms"),
                       ("bytes_after", "store bytes after compaction"),
                       ("load_after_ms", "load (replay) after compaction, ms"),
                       ("state_bytes", "compacted state bytes")]:
        print(f"| {label} | {median(compaction, key)} |")
    print(f"| default settings (compaction on): store bytes after {edits:,} edits | "
          f"{median(default, 'stored_bytes')} |")
    print(f"| default settings: store bytes / compacted state bytes | "
          f"{median(default, 'ratio')} |")
    print(f"| 1000-cell notebook: open from the file, ms | {median(reopening, 'from_disk_ms')} |")
    print(f"| 1000-cell notebook: reopen from the store, ms | "
          f"{median(reopening, 'from_store_ms')} |")
    print(f"| 10 peers typing: updates appended per second | "
          f"{median(typing, 'appends_per_s')} |")
    print(f"| 10 peers typing: store commits per second | {median(typing, 'commits_per_s')} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.edits, args.runs))
