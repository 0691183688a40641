"""Huddle's documents on jupyter_ydoc's: the schema comes from there, and these tests fail
loudly when a release of jupyter_ydoc changes what Huddle relies on (its private ``meta``
and ``source`` roots, which cell fields are shared types) or reads a notebook differently
from Huddle's own, faster reading (``NotebookDocument.export``)."""

from __future__ import annotations

import copy
from typing import Any

import nbformat
import pytest
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Array, Doc, Map, Text

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.documents.schema import output_to_ymap
from jupyter_huddle.collab.documents.text import TextDocument
from jupyter_huddle.collab.documents.upstream import meta_root, notebook_schema, source_root
from jupyter_huddle.collab.documents.values import restore_numbers
from jupyter_huddle.collab.origins import ServerOrigin

LOAD = ServerOrigin.LOAD


def typed(value: Any) -> Any:
    """A shared value as plain data that keeps which parts are which shared type."""
    if isinstance(value, Text):
        return ("Text", str(value))
    if isinstance(value, Map):
        return ("Map", {key: typed(value[key]) for key in value.keys()})  # noqa: SIM118
    if isinstance(value, Array):
        return ("Array", [typed(item) for item in value])
    return value


def integrated(prelim: Map[Any]) -> Map[Any]:
    doc: Doc[Any] = Doc()
    doc["m"] = prelim
    return doc.get("m", type=Map)


def stream(text: Any) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


OUTPUTS = [
    stream("é\n"),
    stream(["a\n", "b\n"]),
    {"output_type": "execute_result", "execution_count": 3, "metadata": {},
     "data": {"text/plain": "1", "application/json": {"x": [1, 2.5]}}},
    {"output_type": "display_data", "metadata": {"isolated": True},
     "data": {"image/png": "AAA="}},
    {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]},
]


def notebooks() -> dict[str, dict[str, Any]]:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "nbgrader": {"points": 2, "ratio": 1.0, "weight": 0.5},
    })
    nb.cells = [
        nbformat.v4.new_code_cell("print('é')", execution_count=3,
                                  outputs=copy.deepcopy(OUTPUTS)),
        nbformat.v4.new_code_cell(["x = 1\n", "x"]),
        nbformat.v4.new_markdown_cell("# t", attachments={"a.png": {"image/png": "AAA="}}),
        nbformat.v4.new_markdown_cell("no attachments", attachments={}),
        nbformat.v4.new_raw_cell("raw", metadata={"format": "text/plain", "n": 1.0}),
    ]
    current = nbformat.from_dict(nb)
    older = copy.deepcopy(current)
    older["nbformat_minor"] = 4
    for cell in older["cells"]:
        del cell["id"]
    return {"4.5": current, "4.4": older, "empty": nbformat.v4.new_notebook()}


def test_the_private_roots_read_are_the_documents_roots() -> None:
    doc: Doc[Any] = Doc()
    meta = meta_root(notebook_schema(doc))
    meta["nbformat"] = 4
    assert doc.get("meta", type=Map)["nbformat"] == 4, "YNotebook._ymeta is not 'meta'"
    text_doc: Doc[Any] = Doc()
    source = source_root(YUnicode(text_doc))
    source += "x"
    assert str(text_doc.get("source", type=Text)) == "x", "YUnicode._ysource is not 'source'"


def test_documents_wrap_jupyter_ydoc_over_the_same_doc() -> None:
    notebook = NotebookDocument()
    assert notebook.schema.ydoc is notebook.doc
    assert notebook.version == YNotebook().version
    assert notebook.state == notebook.schema.ystate
    text = TextDocument()
    assert text.schema.ydoc is text.doc
    assert text.version == YUnicode().version


def test_jupyter_ydocs_undo_manager_keeps_nothing() -> None:
    document = NotebookDocument()
    document.load(notebooks()["4.5"], LOAD)
    document.cells[0]["source"] += "no origin"
    peer: Doc[Any] = Doc()
    peer.apply_update(document.doc.get_update())
    peer.get("cells", type=Array)[1]["source"] += "a peer's"
    document.doc.apply_update(peer.get_update(document.doc.get_state()))
    assert document.schema.undo_manager.undo_stack == []


def test_cells_have_the_shared_types_huddle_writes_into() -> None:
    # Repairs, kernel outputs and review anchors edit these types in place.
    document = NotebookDocument()
    document.load(notebooks()["4.5"], LOAD)
    code, markdown = document.cells[0], document.cells[2]
    assert isinstance(code["source"], Text)
    assert isinstance(code["metadata"], Map)
    assert isinstance(code["outputs"], Array)
    assert all(isinstance(output, Map) for output in code["outputs"])
    assert isinstance(code["outputs"][0]["text"], Text)
    assert code["execution_state"] == "idle"
    assert isinstance(markdown["source"], Text)
    assert isinstance(markdown["attachments"], dict)
    assert "attachments" not in document.cells[3]


def test_kernel_outputs_are_made_as_jupyter_ydoc_makes_them() -> None:
    cell: dict[str, Any] = {"id": "a", "cell_type": "code", "source": "", "metadata": {},
                            "execution_count": None, "outputs": copy.deepcopy(OUTPUTS)}
    theirs = typed(integrated(YNotebook().create_ycell(cell)))[1]["outputs"]
    ours = typed(integrated(Map({"o": Array([output_to_ymap(o) for o in OUTPUTS])})))
    assert ours[1]["o"] == theirs


@pytest.mark.parametrize("name", ["4.5", "4.4", "empty"])
def test_export_reads_what_jupyter_ydoc_reads(name: str) -> None:
    content = notebooks()[name]
    document = NotebookDocument()
    document.load(copy.deepcopy(content), LOAD)
    # A collaborator's edits through jupyter_ydoc, and live state that is never saved.
    document.schema.append_cell({"cell_type": "code", "source": "y = 2.0", "metadata": {},
                                 "outputs": [stream("out")], "execution_count": 4})
    document.cells[0]["execution_state"] = "running"
    theirs = document.schema.get(deduplicate=False)
    assert document.export() == restore_numbers(theirs, document.baseline)


def test_text_export_is_jupyter_ydocs_reading() -> None:
    document = TextDocument()
    document.load("héllo\r\nworld\r\n", LOAD)
    assert document.schema.get() == "héllo\nworld\n"
    assert document.export() == "héllo\r\nworld\r\n"
