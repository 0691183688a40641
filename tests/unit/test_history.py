"""Version history's parts without a server: content blobs, retention, blame, diffs,
restores (with a property test), and a recorder on the memory and SQLite stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.history import HistoryRecorder, HistorySettings
from jupyter_huddle.collab.history.blame import BlameTracker, CellLines, attribute
from jupyter_huddle.collab.history.content import (
    assemble,
    decode_blob,
    decode_manifest,
    encode_blob,
    encode_manifest,
    split,
)
from jupyter_huddle.collab.history.diffing import align, summarize
from jupyter_huddle.collab.history.restoring import Restorer, restore_origin
from jupyter_huddle.collab.history.retention import expired
from jupyter_huddle.collab.origins import ServerOrigin
from jupyter_huddle.collab.store import MemoryStore, SQLiteStore, VersionRow
from jupyter_huddle.collab.sync.connection import UserInfo

HOUR = 3600.0
DAY = 86400.0


def notebook(*cells: tuple[str, str], outputs: dict[str, list[Any]] | None = None
             ) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "py"}},
            "cells": [{"id": cid, "cell_type": "code", "source": src, "metadata": {},
                       "outputs": (outputs or {}).get(cid, []), "execution_count": None}
                      for cid, src in cells]}


def live(content: dict[str, Any]) -> NotebookDocument:
    document = NotebookDocument()
    document.load(content, ServerOrigin.LOAD)
    return document


def cells_of(document: NotebookDocument) -> list[tuple[str, str]]:
    return [(c["id"], c["source"]) for c in document.export()["cells"]]


# --- content ------------------------------------------------------------------------------


def test_split_and_assemble_round_trip_and_share_unchanged_cells() -> None:
    one = notebook(("a", "x = 1"), ("b", "print(x)"),
                   outputs={"b": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]})
    snapshot, blobs = split(one)
    stored = {h: decode_blob(encode_blob(data)) for h, data in blobs.items()}
    assert assemble(decode_manifest(encode_manifest(snapshot)), stored) == one
    two = json.loads(json.dumps(one))
    two["cells"][0]["source"] = "x = 2"
    snapshot_two, _ = split(two)
    # only the edited cell's body is new
    assert snapshot_two.refs - snapshot.refs == {snapshot_two.cells[0].body}
    assert summarize(snapshot, snapshot_two)["changed"] == 1


# --- retention ------------------------------------------------------------------------------


def row(hours_ago: float, now: float, name: str | None = None) -> VersionRow:
    at = now - hours_ago * HOUR
    return VersionRow("k", f"{int(at * 1000):012x}000000", at, "auto", name, "{}")


def test_retention_keeps_a_day_then_hourly_then_daily_and_named_forever() -> None:
    now = 1_800_000_000.0
    settings_ = HistorySettings()
    rows = [row(h / 4, now) for h in range(0, 4 * 24 * 100)]  # every 15 min for 100 days
    rows.append(row(24 * 200, now, name="submitted"))
    doomed = set(expired(rows, now, settings_))
    kept = [r for r in rows if r.id not in doomed]
    ages = [(now - r.created_at) / HOUR for r in kept]
    assert sum(1 for a in ages if a < 24) == 4 * 24  # every version of the last day
    # one per hour between a day and a week, one per day until 90 days
    assert 6 * 24 - 2 <= sum(1 for a in ages if 24 <= a < 7 * 24) <= 6 * 24 + 1
    assert 82 <= sum(1 for a in ages if 7 * 24 <= a < 90 * 24) <= 84
    assert not [a for a in ages if 90 * 24 <= a < 200 * 24]
    assert any(r.name == "submitted" for r in kept)
    # the newest version is never thinned, however old
    lone = [row(24 * 365, now)]
    assert expired(lone, now, settings_) == []


# --- blame --------------------------------------------------------------------------------


def test_attribution_gives_the_changed_middle_to_its_author() -> None:
    start = CellLines(["a", "b", "c"], [("u:x", 1.0)] * 3)
    typed = attribute(start, "a\nB!\nc", "u:y", 2.0)
    assert typed.marks == [("u:x", 1.0), ("u:y", 2.0), ("u:x", 1.0)]
    appended = attribute(typed, "a\nB!\nc\nd\ne", "u:z", 3.0)
    assert appended.marks[3:] == [("u:z", 3.0)] * 2
    assert appended.marks[:3] == typed.marks
    removed = attribute(appended, "a\nd\ne", "u:x", 4.0)
    assert removed.marks == [("u:x", 1.0), ("u:z", 3.0), ("u:z", 3.0)]


def test_blame_survives_encoding_and_marks_lines_changed_since_as_unknown() -> None:
    from jupyter_huddle.collab.history.blame import decode

    tracker = BlameTracker()
    tracker.changed("c", "one\ntwo", "u:ann", 10.0)
    entry = tracker.encode()["c"]
    assert decode(entry, "one\ntwo") == [("u:ann", 10.0), ("u:ann", 10.0)]
    assert decode(entry, "one\ntwo changed") is None  # another text: not guessed


# --- diff ---------------------------------------------------------------------------------


def test_alignment_by_id_reports_moves_not_similar_cells() -> None:
    a, _ = split(notebook(("a", "same text"), ("b", "two"), ("c", "three")))
    b, _ = split(notebook(("c", "three"), ("a", "same text"), ("d", "same text")))
    assert align(a, b).rows == [("c", "moved"), ("a", "same"), ("b", "deleted"),
                                ("d", "added")]


# --- restore --------------------------------------------------------------------------------

ANN = UserInfo("ann", "Ann")

cell_sources = st.text(alphabet="ab\nxé😀", max_size=12)


@settings(max_examples=60, deadline=None)
@given(target=st.lists(st.tuples(st.sampled_from("abcdef"), cell_sources), max_size=6,
                       unique_by=lambda c: c[0]),
       current=st.lists(st.tuples(st.sampled_from("abcdefgh"), cell_sources), max_size=7,
                        unique_by=lambda c: c[0]))
def test_restoring_a_version_with_nobody_else_editing_yields_its_content(
        target: list[tuple[str, str]], current: list[tuple[str, str]]) -> None:
    document = live(notebook(*current))
    version = notebook(*target)
    restorer = Restorer(document, 8, 3600)
    restorer.restore_notebook(restore_origin(ANN), version)
    assert document.export()["cells"] == version["cells"]
    # and each single cell of it, restored alone, becomes the version's cell
    for cell_id, source in target:
        other = live(notebook(*current))
        Restorer(other, 8, 3600).restore_cell(restore_origin(ANN), version, cell_id)
        assert (cell_id, source) in cells_of(other)
        assert len({c for c, _ in cells_of(other)}) == len(cells_of(other))


def test_undo_takes_back_only_the_restore_and_only_for_its_author() -> None:
    from jupyter_huddle.collab.history.errors import NotRestorer, UnknownVersion

    document = live(notebook(("a", "x = 1"), ("b", "y = 2")))
    version = document.export()
    with document.doc.transaction(origin="someone"):
        document.cells[0]["source"].insert(5, "00")
    restorer = Restorer(document, 8, 3600)
    origin = restore_origin(ANN)
    restorer.restore_cell(origin, version, "a")
    restorer.describe(origin, "restored cell 1")
    assert cells_of(document)[0] == ("a", "x = 1")
    with document.doc.transaction(origin="someone"):
        document.cells[1]["source"].insert(0, "# later\n")
    with pytest.raises(NotRestorer):
        restorer.undo(origin.token, UserInfo("bob"), lambda _: None)
    assert restorer.undo(origin.token, ANN, lambda _: None) == "restored cell 1"
    assert cells_of(document) == [("a", "x = 100"), ("b", "# later\ny = 2")]
    with pytest.raises(UnknownVersion):
        restorer.undo(origin.token, ANN, lambda _: None)


def test_undoable_restores_are_bounded() -> None:
    document = live(notebook(("a", "0")))
    restorer = Restorer(document, 2, 3600)
    origins = []
    for n in range(4):
        origin = restore_origin(ANN)
        restorer.restore_notebook(origin, notebook(("a", str(n + 1))))
        origins.append(origin)
    assert [restorer.changed(o) for o in origins] == [False, False, True, True]


# --- a recorder on a real store -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_recorder_records_once_per_content_and_resumes_after_a_restart(
        kind: str, tmp_path: Path) -> None:
    async def open_store() -> Any:
        store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
        await store.start()
        return store

    store = await open_store()
    document = live(notebook(("a", "x = 1")))
    recorder = HistoryRecorder("k", document, store, HistorySettings())
    await recorder.start()
    assert [r.kind for r in await store.versions("k")] == ["opened"]
    assert await recorder.record("auto") is None  # nothing changed
    with document.doc.transaction(origin=ServerOrigin.FILE):
        document.cells[0]["source"].insert(5, "0")
    auto = await recorder.record("auto")
    assert auto is not None
    assert json.loads(auto.info)["flags"] == ["disk"]
    named = await recorder.record("named", name="v1", force=True)
    assert named is not None
    assert named.name == "v1"
    await recorder.close()
    if kind == "sqlite":
        await store.stop()
        store = await open_store()
    # the same notebook opened again: no new version, blame from the latest one
    again = HistoryRecorder("k", live(document.export()), store, HistorySettings())
    await again.start()
    assert [r.kind for r in await store.versions("k")] == ["opened", "auto", "named"]
    assert [author for _, author, _ in again.blame.lines("a")] == ["disk"]
    content = await again.content(await again.snapshot(auto.id))
    assert content["cells"][0]["source"] == "x = 10"
    await again.close()
    await store.stop()


async def test_deleting_versions_frees_blobs_no_version_uses() -> None:
    store = MemoryStore()
    document = live(notebook(("a", "first")))
    recorder = HistoryRecorder("k", document, store, HistorySettings())
    await recorder.start()
    with document.doc.transaction(origin=ServerOrigin.FILE):
        document.cells[0]["source"].insert(5, " edit")
    await recorder.record("auto")
    first, second = await store.versions("k")
    before = set(store.version_blobs)
    await store.delete_versions("k", [first.id])
    gone = before - set(store.version_blobs)
    assert len(gone) == 1  # the first body; metadata and outputs are shared
    assert await recorder.content(await recorder.snapshot(second.id))
    await recorder.close()


def test_a_deep_observer_sees_the_origin_object() -> None:
    # the recorder attributes changes through ``deep_event_origin``: pycrdt must keep
    # handing deep observers the origin object itself
    from jupyter_huddle.collab.origins import deep_event_origin

    doc: Doc[Any] = Doc()
    document = NotebookDocument(doc)
    document.load(notebook(("a", "1")), ServerOrigin.LOAD)
    seen: list[object] = []
    document.cells.observe_deep(lambda events: seen.append(deep_event_origin(events[0])))
    marker = ANN
    with doc.transaction(origin=marker):
        document.cells[0]["source"].insert(1, "2")
    assert seen == [marker]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_purged_document_loses_its_versions_and_marks_others_keep_theirs(
        kind: str, tmp_path: Path) -> None:
    from jupyter_huddle.collab.store import DocumentRecord

    store: Any = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
    await store.start()
    for key in ("json:notebook:gone", "json:notebook:kept"):
        await store.put_record(DocumentRecord(key, "e", deleted_at=1.0 if "gone" in key
                                              else None))
        recorder = HistoryRecorder(key, live(notebook(("a", key))), store, HistorySettings())
        await recorder.start()
        await recorder.close()
        await store.put_value(f"history-seen:{key}", "ann", "{}")
    assert await store.purge_deleted(older_than=2.0) == 1
    assert await store.versions("json:notebook:gone") == []
    assert len(await store.versions("json:notebook:kept")) == 1
    if kind == "sqlite":  # values are read back from the database after a restart
        await store.stop()
        store = SQLiteStore(tmp_path / "s.db")
        await store.start()
    assert await store.values("history-seen:json:notebook:gone") == {}
    assert await store.values("history-seen:json:notebook:kept") == {"ann": "{}"}
    # compaction of the update log leaves versions alone
    await store.compact("json:notebook:kept", b"\x00\x00")
    assert len(await store.versions("json:notebook:kept")) == 1
    await store.stop()


async def test_cell_inserts_deletes_and_moves_keep_blame_without_rereading_the_notebook(
        ) -> None:
    from pycrdt import Array, Map, Text

    from jupyter_huddle.collab.origins import PersonOrigin

    document = live(notebook(("a", "one"), ("b", "two"), ("c", "three")))
    recorder = HistoryRecorder("k", document, MemoryStore(), HistorySettings())
    await recorder.start()
    bob = PersonOrigin("bob", "Bob", "edit", "t1")
    ann = PersonOrigin("ann", "Ann", "edit", "t2")
    with document.doc.transaction(origin=bob):
        document.cells[1]["source"].insert(3, "!")  # b: "two!" by bob
    with document.doc.transaction(origin=ann):
        moved = document.cells[1].to_py()
        del document.cells[1]  # move b to the end, as JupyterLab does
        document.cells.append(Map({"id": "b", "cell_type": "code", "source": Text(
            moved["source"]), "metadata": Map(), "outputs": Array(),
            "execution_count": None}))
        document.cells.insert(0, Map({"id": "new", "cell_type": "code", "source": Text(
            "x\ny"), "metadata": Map(), "outputs": Array(), "execution_count": None}))
        del document.cells[1]  # a
        document.cells[1]["source"].insert(0, "# ")  # c, in the same transaction
    assert recorder._ids == [c["id"] for c in document.export()["cells"]] == ["new", "c", "b"]
    authors = {cid: [a for _, a, _ in recorder.blame.lines(cid)] for cid in recorder._ids}
    assert authors == {"new": ["u:ann", "u:ann"], "c": ["u:ann"], "b": ["u:bob"]}
    assert "a" not in recorder.blame.cells
    assert recorder.changed
    await recorder.record("auto")
    assert not recorder.changed
    await recorder.close()
