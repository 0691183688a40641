"""OutputWriter on an in-memory notebook: what peers see of a run's output."""

from __future__ import annotations

import nbformat

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.origins import ServerOrigin
from jupyter_huddle.kernels.displays import DisplayRegistry
from jupyter_huddle.kernels.outputs import OutputLimits, OutputWriter


def notebook() -> NotebookDocument:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", id="c1"), nbformat.v4.new_code_cell("y", id="c2")]
    doc = NotebookDocument()
    doc.load(nbformat.from_dict(nb), ServerOrigin.LOAD)
    return doc


def writer(doc: NotebookDocument, cell: str = "c1", **limits) -> OutputWriter:
    w = OutputWriter(doc, cell, DisplayRegistry(), OutputLimits(**limits))
    assert w.begin()
    return w


def stream(text: str, name: str = "stdout") -> tuple[str, dict]:
    return "stream", {"name": name, "text": text}


def outputs(doc: NotebookDocument, index: int = 0) -> list[dict]:
    return doc.cells[index]["outputs"].to_py()


async def test_streams_of_one_name_extend_one_output_with_progress_redrawn():
    doc = notebook()
    w = writer(doc)
    for n in range(5000):
        w.add(*stream(f"line {n}\n"))
    for pct in range(101):
        w.add(*stream(f"\r{pct}%"))
    w.add(*stream("\n"))
    w.add(*stream("warn\n", "stderr"))
    w.add(*stream("é😀\n"))
    w.end(3)
    outs = outputs(doc)
    assert [o["name"] for o in outs] == ["stdout", "stderr", "stdout"]
    assert outs[0]["text"] == "".join(f"line {n}\n" for n in range(5000)) + "100%\n"
    assert outs[2]["text"] == "é😀\n"
    assert doc.cells[0]["execution_count"] == 3
    assert doc.cells[0]["execution_state"] == "idle"


async def test_backspace_and_carriage_return_split_across_chunks():
    doc = notebook()
    w = writer(doc)
    for chunk in ["abc", "\x08", "\x08d\n", "progress 1", "\r", "progress 2", "\rdone\n"]:
        w.add(*stream(chunk))
    w.end(1)
    assert outputs(doc)[0]["text"] == "ad\ndone\n"


async def test_clear_output_wait_replaces_in_one_step():
    doc = notebook()
    w = writer(doc)
    w.add(*stream("frame 0\n"))
    w.flush()
    w.add("clear_output", {"wait": True})
    w.flush()
    assert outputs(doc)[0]["text"] == "frame 0\n"  # not cleared until the next frame
    w.add(*stream("frame 1\n"))
    w.end(1)
    assert [o["text"] for o in outputs(doc)] == ["frame 1\n"]


async def test_caps_end_a_flood_with_one_notice_that_stays():
    doc = notebook()
    w = writer(doc, max_output_bytes=1000, max_execution_bytes=5000)
    w.add(*stream("x" * 5000))  # one chunk over the per-output cap
    w.add(*stream("more"))
    w.add("clear_output", {"wait": True})
    w.add(*stream("after clear"))
    w.end(1)
    outs = outputs(doc)
    assert len(outs) == 1
    assert outs[0]["text"].startswith("x" * 1000)
    assert "truncated" in outs[0]["text"]


async def test_display_updates_replace_in_place_even_in_another_cell():
    doc = notebook()
    registry = DisplayRegistry()
    first = OutputWriter(doc, "c1", registry, OutputLimits())
    first.begin()
    first.add("display_data", {"data": {"text/plain": "v1"}, "metadata": {},
                               "transient": {"display_id": "d"}})
    first.end(1)
    assert registry.update("d", {"text/plain": "v2"}, {}) == 1
    assert outputs(doc, 0)[0]["data"] == {"text/plain": "v2"}
    assert registry.update("unknown", {"text/plain": "x"}, {}) == 0
    # a collaborator cleared the cell: the reference is dropped, nothing is appended
    doc.cells[0]["outputs"].clear()
    assert registry.update("d", {"text/plain": "v3"}, {}) == 0
    assert outputs(doc, 0) == []


async def test_deleted_cell_drops_output_quietly():
    doc = notebook()
    w = writer(doc)
    del doc.cells[0]
    w.add(*stream("lost\n"))
    w.end(1)
    assert not w.cell_found
    assert outputs(doc, 0) == []


def display(value: str, display_id: str) -> tuple[str, dict]:
    return "display_data", {"data": {"text/plain": value}, "metadata": {},
                            "transient": {"display_id": display_id}}


async def test_display_ids_are_forgotten_when_their_cell_is_cleared():
    doc = notebook()
    registry = DisplayRegistry()
    for run in range(5):  # the same cell run again and again
        w = OutputWriter(doc, "c1", registry, OutputLimits())
        w.begin()
        w.add(*display(f"run {run}", f"d{run}"))
        w.end(run + 1)
    assert len(registry) == 1
    assert list(registry.refs) == ["d4"]
    other = OutputWriter(doc, "c2", registry, OutputLimits())
    other.begin()
    other.add(*display("c2", "e"))
    other.add("clear_output", {"wait": False})
    other.end(6)
    assert list(registry.refs) == ["d4"]  # cleared with its output, the other cell's kept


async def test_display_registry_is_capped_oldest_first():
    doc = notebook()
    registry = DisplayRegistry(max_refs=3)
    w = OutputWriter(doc, "c1", registry, OutputLimits())
    w.begin()
    for n in range(5):
        w.add(*display(str(n), f"d{n}"))
    w.end(1)
    assert len(registry) == 3
    assert list(registry.refs) == ["d2", "d3", "d4"]
    assert registry.update("d0", {"text/plain": "lost"}, {}) == 0
    assert registry.update("d4", {"text/plain": "kept"}, {}) == 1
    assert outputs(doc, 0)[4]["data"] == {"text/plain": "kept"}


async def test_display_registry_retains_open_documents_and_clears():
    kept, closed = notebook(), notebook()
    registry = DisplayRegistry()
    for doc, display_id in ((kept, "k"), (closed, "c")):
        w = OutputWriter(doc, "c1", registry, OutputLimits())
        w.begin()
        w.add(*display("x", display_id))
        w.end(1)
    registry.retain([kept])
    assert list(registry.refs) == ["k"]
    assert len(registry) == 1
    registry.queue_update("k", {"text/plain": "y"}, {}, 60.0)
    registry.clear()
    assert registry.refs == {}
    assert registry.pending == {}
    assert len(registry) == 0
