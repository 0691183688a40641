from __future__ import annotations

import copy
from typing import Any

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Assoc, Doc, StickyIndex, Text

from jupyter_huddle.collab.documents.merge import apply_notebook, merge_notebooks, set_text
from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.documents.schema import notebook_digest
from jupyter_huddle.collab.origins import ServerOrigin

FILE = ServerOrigin.LOAD


def text_doc(value: str) -> tuple[Doc, Text]:
    doc: Doc[Any] = Doc()
    text = doc.get("t", type=Text)
    text += value
    return doc, text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hello world", "hello brave world"),
        ("héllo wörld 😀", "héllo 😀 wörld"),
        ("abc", ""),
        ("", "新しい"),
        ("line1\nline2\nline3\n", "line1\nLINE2\nline3\nline4\n"),
    ],
)
def test_set_text_reaches_target(old, new):
    _, text = text_doc(old)
    set_text(text, new)
    assert str(text) == new


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_set_text_any_strings(old, new):
    _, text = text_doc(old)
    set_text(text, new)
    assert str(text) == new


def test_set_text_keeps_untouched_items():
    doc, text = text_doc("keep this prefix and change the end")
    before = doc.get_state()
    set_text(text, "keep this prefix and change THE end")
    # only a few new items: the untouched text was not re-inserted
    update = doc.get_update(before)
    assert b"keep this prefix" not in update
    assert b"THE" in update


def make_nb(*cells: tuple[str, str]) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells]
    return nbformat.from_dict(nb)


def loaded(nb: dict) -> NotebookDocument:
    doc = NotebookDocument()
    doc.load(copy.deepcopy(nb), FILE)
    return doc


def test_apply_notebook_edits_in_place_and_keeps_cells():
    doc = loaded(make_nb(("a", "x = 1"), ("b", "y = 2"), ("c", "z = 3")))
    # a collaborator's cursor after "x = " in cell a, and at the end of cell c
    cursor_a = StickyIndex.new(doc.cells[0]["source"], 4, Assoc.AFTER)
    cursor_c = StickyIndex.new(doc.cells[2]["source"], 5, Assoc.BEFORE)
    target = make_nb(("a", "x = 10"), ("c", "z = 3"), ("d", "new"))
    target["cells"][1]["metadata"] = {"tags": ["t"]}
    apply_notebook(doc, target, FILE)
    assert doc.export() == target
    # cells a and c were edited in place, so the cursors in them still resolve
    assert cursor_a.get_index() == 4
    assert cursor_c.get_index() == 5


def test_apply_notebook_reorders_and_retypes():
    doc = loaded(make_nb(("a", "1"), ("b", "2"), ("c", "3")))
    target = make_nb(("c", "3"), ("a", "1"), ("b", "2"))
    target["cells"][2] = nbformat.v4.new_markdown_cell("now markdown", id="b")
    apply_notebook(doc, target, FILE)
    assert doc.export() == target


cell_ids = st.sampled_from(list("abcdefgh"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(cell_ids, st.text(max_size=8)), max_size=6, unique_by=lambda t: t[0]),
       st.lists(st.tuples(cell_ids, st.text(max_size=8)), min_size=1, max_size=6,
                unique_by=lambda t: t[0]))
def test_apply_notebook_reaches_any_target(start, end):
    doc = loaded(make_nb(*start) if start else make_nb(("z", "")))
    target = make_nb(*end)
    apply_notebook(doc, target, FILE)
    assert doc.export() == target


def test_three_way_keeps_both_sides_and_reports_conflicts():
    base = make_nb(("a", "a0"), ("b", "b0"), ("c", "c0"), ("d", "d0"))
    ours = make_nb(("a", "a-ours"), ("b", "b0"), ("c", "c-ours"), ("d", "d-ours"), ("n", "mine"))
    theirs = make_nb(("a", "a0"), ("b", "b-disk"), ("c", "c-disk"))  # d deleted on disk
    result = merge_notebooks(notebook_digest(base), ours, theirs)
    sources = {c["id"]: c["source"] for c in result.content["cells"]}
    assert sources == {"a": "a-ours", "b": "b-disk", "c": "c-disk", "n": "mine"}
    assert [c["id"] for c in result.content["cells"]] == ["a", "b", "c", "n"]
    assert sorted(result.conflicts) == ["c", "d"]
    assert {c["source"] for c in result.overwritten} == {"c-ours", "d-ours"}


def test_three_way_without_unsaved_edits_is_the_disk():
    base = make_nb(("a", "1"), ("b", "2"))
    theirs = make_nb(("b", "2!"), ("c", "3"))
    result = merge_notebooks(notebook_digest(base), copy.deepcopy(base), theirs)
    assert result.content == theirs
    assert result.conflicts == []


def test_digests_ignore_the_trusted_flag():
    a = make_nb(("a", "1"))
    b = copy.deepcopy(a)
    b["cells"][0]["metadata"]["trusted"] = True
    assert notebook_digest(a) == notebook_digest(b)
