from __future__ import annotations

import nbformat
import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc, Text

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.documents.text import TextDocument
from jupyter_huddle.collab.documents.values import restore_numbers
from jupyter_huddle.collab.errors import SaveError
from jupyter_huddle.collab.origins import ServerOrigin

LOAD = ServerOrigin.LOAD


def sample_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "nbgrader": {"grade": True, "points": 2, "ratio": 1.0},
        "widgets": {"state": {"model": {"value": 3}}},
    })
    nb.cells = [
        nbformat.v4.new_code_cell("print('é')", execution_count=3, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="é\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "1"},
                                   execution_count=3),
        ]),
        nbformat.v4.new_markdown_cell("# title", attachments={"a.png": {"image/png": "AAA="}}),
        nbformat.v4.new_raw_cell("raw"),
    ]
    return nbformat.from_dict(nb)


def test_round_trip_preserves_content_and_number_types():
    nb = sample_notebook()
    doc = NotebookDocument()
    doc.load(nb, LOAD)
    exported = doc.export()
    expected = nbformat.from_dict(nb)
    assert exported == expected
    assert isinstance(exported["metadata"]["nbgrader"]["points"], int)
    assert isinstance(exported["metadata"]["nbgrader"]["ratio"], float)
    assert isinstance(exported["cells"][0]["execution_count"], int)
    nbformat.validate(exported)


def test_schema_matches_jupyter_ydoc():
    doc = NotebookDocument()
    doc.load(sample_notebook(), LOAD)
    # jupyter_ydoc reads our document as its own YNotebook (what JupyterLab's models use).
    theirs = YNotebook(doc.doc).get()
    assert theirs["cells"][0]["source"] == "print('é')"
    assert isinstance(doc.cells[0]["source"], Text)
    assert isinstance(doc.cells[0]["outputs"][0]["text"], Text)
    assert doc.cells[0]["execution_state"] == "idle"
    assert theirs["metadata"] == doc.export()["metadata"]


def test_execution_state_never_reaches_the_file():
    doc = NotebookDocument()
    doc.load(sample_notebook(), LOAD)
    doc.cells[0]["execution_state"] = "running"
    assert "execution_state" not in doc.export()["cells"][0]


def test_empty_notebook_gets_one_cell_and_repair_keeps_one():
    doc = NotebookDocument()
    doc.load(nbformat.v4.new_notebook(), LOAD)
    assert len(doc.cells) == 1
    del doc.cells[0]
    doc.repair(ServerOrigin.REPAIR)
    assert len(doc.cells) == 1


def test_missing_and_duplicate_ids_are_replaced():
    nb = sample_notebook()
    nb.cells[1]["id"] = nb.cells[0]["id"]
    doc = NotebookDocument()
    doc.load(nb, LOAD)
    ids = [c["id"] for c in doc.export()["cells"]]
    assert len(set(ids)) == 3
    # A client can still create a duplicate; it never reaches the file.
    doc.cells[2]["id"] = ids[0]
    doc.prepare_for_save(ServerOrigin.REPAIR)
    assert len({c["id"] for c in doc.export()["cells"]}) == 3


def test_old_minor_versions_save_without_ids():
    nb = sample_notebook()
    nb["nbformat_minor"] = 4
    for cell in nb.cells:
        del cell["id"]
    doc = NotebookDocument()
    doc.load(nb, LOAD)
    exported = doc.export()
    assert all("id" not in c for c in exported["cells"])
    nbformat.validate(exported)


def test_invalid_notebook_is_refused():
    doc = NotebookDocument()
    doc.load(sample_notebook(), LOAD)
    doc.cells[0]["cell_type"] = "spreadsheet"
    with pytest.raises(SaveError, match="not valid nbformat"):
        doc.check(doc.export())


def test_restore_numbers_prefers_the_baseline_type():
    assert restore_numbers({"a": 1.0, "b": 2.0, "c": 2.5}, {"a": 1.0, "b": 2}) == {
        "a": 1.0, "b": 2, "c": 2.5}
    assert isinstance(restore_numbers({"a": 1.0}, {"a": 1.0})["a"], float)
    assert restore_numbers([1.0, {"x": 3.0}]) == [1, {"x": 3}]
    assert restore_numbers({"flag": 1.0}, {"flag": True}) == {"flag": 1}


@pytest.mark.parametrize(("text", "newline"), [("a\nb\n", "\n"), ("a\r\nb\r\n", "\r\n")])
def test_text_document_keeps_line_endings(text, newline):
    doc = TextDocument()
    doc.load(text, LOAD)
    assert "\r" not in str(doc.source)
    assert doc.newline == newline
    assert doc.export() == text


def test_text_state_and_source_roots():
    doc = TextDocument(Doc())
    doc.load("héllo", LOAD)
    doc.set_state(ServerOrigin.LOAD, path="x.txt", dirty=False)
    assert doc.state.to_py() == {"path": "x.txt", "dirty": False}


def test_running_cells_are_settled_when_a_notebook_is_opened_again():
    doc = NotebookDocument()
    doc.load(sample_notebook(), LOAD)
    doc.cells[0]["execution_state"] = "running"
    doc.settle_execution(LOAD)
    assert doc.cells[0]["execution_state"] == "idle"
