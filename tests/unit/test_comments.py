"""Review threads: anchors that follow edits, authorship, suggestions, the saved file."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from pycrdt import Array, Doc

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.files.binding import file_content, load_file
from jupyter_huddle.collab.origins import ServerOrigin
from jupyter_huddle.collab.review import (
    AnchorRequest,
    CommentError,
    Comments,
    NotAuthor,
    TooLarge,
    UnknownThread,
    index_to_utf16,
    utf16_to_index,
)
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.connection import UserInfo

ANN, BOB = UserInfo("ann", "Ann"), UserInfo("bob", "Bob")
KNOWN = {"ann": "ann", "bob": "bob"}
SETTINGS = CollabSettings()


def notebook(*sources: str) -> NotebookDocument:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    doc = NotebookDocument()
    doc.load(nbformat.from_dict(nb), ServerOrigin.LOAD)
    return doc


def text(doc: NotebookDocument, index: int = 0):
    return doc.cells[index]["source"]


def test_utf16_offsets_round_trip():
    s = "a😀b"
    assert utf16_to_index(s, 3) == 2
    assert index_to_utf16(s, 2) == 3
    with pytest.raises(CommentError):
        utf16_to_index(s, 2)  # inside the emoji's surrogate pair
    with pytest.raises(CommentError):
        utf16_to_index(s, 9)


def test_text_anchor_follows_edits_before_inside_and_after():
    doc = notebook("value = compute(x)")
    comments = Comments(doc)
    thread = comments.create(ANN, AnchorRequest("c0", "text", 8, 18), "why compute?", KNOWN)
    assert thread["anchor"]["quote"] == "compute(x)"
    source = text(doc)
    source.insert(0, "é")            # before the range (2 UTF-8 bytes, 1 UTF-16 unit)
    source.insert(len("évalue = compute(".encode()), "y, ")  # inside
    source.insert(len(str(source).encode()), "  # done")      # after
    position = comments.threads()[0]["position"]
    assert position["state"] == "attached"
    assert position["text"] == "compute(y, x)"
    assert (position["start"], position["end"]) == (9, 22)


def test_deleted_text_detaches_and_deleted_cell_orphans():
    doc = notebook("keep this", "second")
    comments = Comments(doc)
    comments.create(ANN, AnchorRequest("c0", "text", 5, 9), "about this", KNOWN)
    comments.create(BOB, AnchorRequest("c1", "cell"), "about the cell", KNOWN)
    del text(doc)[4:9]
    del doc.cells[1]
    states = {t["anchor"]["cell_id"]: t["position"]["state"] for t in comments.threads()}
    assert states == {"c0": "detached", "c1": "orphaned"}
    by_cell = {t["anchor"]["cell_id"]: t for t in comments.threads()}
    assert by_cell["c0"]["anchor"]["quote"] == "this"


def test_messages_author_only_and_thread_goes_with_its_last_message():
    doc = notebook("x")
    comments = Comments(doc)
    thread = comments.create(ANN, AnchorRequest("c0", "cell"), "first", KNOWN)
    reply = comments.reply(thread["id"], BOB, "hi @ann and @nobody", KNOWN)
    with pytest.raises(NotAuthor):
        comments.edit(thread["id"], reply["id"], ANN, "rewritten by ann")
    comments.edit(thread["id"], reply["id"], BOB, "edited")
    current = comments.threads()[0]
    assert [m["body"] for m in current["messages"]] == ["first", "edited"]
    assert current["messages"][1]["edited"] is not None
    assert current["mentions"] == ["ann"]
    assert comments.unread_mentions("ann") == [thread["id"]]
    comments.mark_read(thread["id"], ANN)
    assert comments.unread_mentions("ann") == []
    comments.delete(thread["id"], reply["id"], BOB)
    first = current["messages"][0]["id"]
    assert comments.delete(thread["id"], first, ANN) is True
    assert comments.threads() == []
    with pytest.raises(UnknownThread):
        comments.reply(thread["id"], ANN, "gone", KNOWN)


def test_resolve_and_reopen_by_anyone():
    doc = notebook("x")
    comments = Comments(doc)
    thread = comments.create(ANN, AnchorRequest("c0", "cell"), "done?", KNOWN)
    comments.set_status(thread["id"], BOB, "resolved")
    assert comments.threads()[0]["resolved_by"]["username"] == "bob"
    comments.set_status(thread["id"], ANN, "open")
    assert comments.threads()[0]["resolved_by"] is None


@pytest.mark.parametrize(("body", "error"), [("", CommentError), ("   ", CommentError),
                                             ("x" * 1_000_000, TooLarge), (None, CommentError)])
def test_bad_bodies_write_nothing(body, error):
    doc = notebook("x")
    comments = Comments(doc)
    state = doc.doc.get_state()
    with pytest.raises(error):
        comments.create(ANN, AnchorRequest("c0", "cell"), body, KNOWN)
    assert doc.doc.get_state() == state


@pytest.mark.parametrize("anchor", [
    AnchorRequest("nope", "cell"), AnchorRequest("c0", "text", 0, 99),
    AnchorRequest("c0", "text", 2, 1), AnchorRequest("c0", "output", output_index=0),
    AnchorRequest("c0", "paragraph"),
])
def test_bad_anchors_write_nothing(anchor):
    doc = notebook("abc")
    state = doc.doc.get_state()
    with pytest.raises(CommentError):
        Comments(doc).create(ANN, anchor, "hi", KNOWN)
    assert doc.doc.get_state() == state


def test_accepting_a_suggestion_is_one_edit_that_converges_with_a_concurrent_one():
    doc = notebook("total = a + b")
    comments = Comments(doc)
    thread = comments.create(ANN, AnchorRequest("c0", "text", 8, 13), "use sum", KNOWN,
                             suggestion="sum([a, b])")
    # a collaborator edits the same line concurrently (on a replica)
    replica: Doc[Any] = Doc()
    replica.apply_update(doc.doc.get_update())
    replica_text = replica.get("cells", type=Array)[0]["source"]
    replica_text.insert(0, "# ")
    concurrent = replica.get_update(doc.doc.get_state())
    before = doc.doc.get_state()
    comments.decide(thread["id"], BOB, accept=True)
    assert str(text(doc)) == "total = sum([a, b])"
    ours = doc.doc.get_update(before)
    doc.doc.apply_update(concurrent)
    replica.apply_update(ours)
    assert str(text(doc)) == str(replica_text) == "# total = sum([a, b])"
    decided = comments.threads()[0]
    assert decided["suggestion"]["state"] == "accepted"
    assert decided["status"] == "resolved"
    # the thread now points at the text it put in, and follows it
    assert decided["anchor"]["quote"] == "sum([a, b])"
    assert decided["position"]["state"] == "attached"
    assert decided["position"]["text"] == "sum([a, b])"
    with pytest.raises(CommentError):
        comments.decide(thread["id"], BOB, accept=False)


def test_threads_travel_in_the_file_and_come_back():
    doc = notebook("alpha beta", "gamma")
    comments = Comments(doc)
    comments.create(ANN, AnchorRequest("c0", "text", 6, 10), "on beta", KNOWN)
    comments.create(BOB, AnchorRequest("c1", "cell"), "on the cell", KNOWN)
    saved = file_content(doc, SETTINGS)  # what the binding saves
    nbformat.validate(saved)
    assert len(saved["metadata"]["huddle"]["comments"]) == 2
    # a fresh server opens the file, after the text moved in an editor
    saved["cells"][0]["source"] = "new line\nalpha beta"
    fresh = NotebookDocument()
    load_file(fresh, saved)
    assert "huddle" not in fresh.meta["metadata"].to_py()  # threads live in their own root
    threads = {t["anchor"]["cell_id"]: t for t in Comments(fresh).threads()}
    assert threads["c0"]["position"]["text"] == "beta"
    assert threads["c0"]["messages"][0]["author"]["username"] == "ann"
    assert threads["c1"]["anchor"]["kind"] == "cell"


def test_saving_comments_can_be_turned_off():
    doc = notebook("x")
    Comments(doc).create(ANN, AnchorRequest("c0", "cell"), "hi", KNOWN)
    off = CollabSettings(save_comments=False)
    assert "huddle" not in file_content(doc, off)["metadata"]


@pytest.mark.parametrize(("source", "start", "end"), [
    ("", 0, 0),                  # an empty cell
    ("abc", 3, 3),               # an empty range at the very end
    ("abc", 0, 3),               # the whole text
    ("a😀", 1, 3),               # ending after a character outside the BMP
])
def test_ranges_at_the_edges_of_the_text(source, start, end):
    doc = notebook(source)
    comments = Comments(doc)
    comments.create(ANN, AnchorRequest("c0", "text", start, end), "edge", KNOWN)
    position = comments.threads()[0]["position"]
    assert (position["state"], position["start"], position["end"]) == ("attached", start, end)
    text(doc).insert(0, "x")
    moved = comments.threads()[0]["position"]
    assert (moved["start"], moved["end"]) == (start + 1, end + 1) if source else (0, 0)


def test_an_output_anchor_quotes_the_outputs_first_line():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hi')", id="c0")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\nworld\n"),
                    nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                           traceback=[])]
    nb.cells = [cell]
    doc = NotebookDocument()
    doc.load(nbformat.from_dict(nb), ServerOrigin.LOAD)
    comments = Comments(doc)
    first = comments.create(ANN, AnchorRequest("c0", "output", output_index=0), "why?", KNOWN)
    second = comments.create(ANN, AnchorRequest("c0", "output", output_index=1), "oops", KNOWN)
    assert first["anchor"]["quote"] == "hello"
    assert second["anchor"]["quote"] == "ValueError: bad"
    with pytest.raises(CommentError, match="no output 2"):
        comments.create(ANN, AnchorRequest("c0", "output", output_index=2), "x", KNOWN)


@pytest.mark.parametrize(("source", "target"), [
    ("hello world, bye", "world"),
    ("grüße aus 😀 wörld, tschüß", "wörld"),
])
def test_a_range_typed_into_comes_back_whole_on_a_server_without_the_history(source, target):
    """The file keeps what the range holds now, not only the text quoted at the start: a
    thread on "world" whose text became "wo--rld" is restored on "wo--rld" (edits inside,
    before and after the range), not widened to its whole cell."""
    doc = notebook(source)
    comments = Comments(doc)
    begin = index_to_utf16(source, source.index(target))
    end = begin + index_to_utf16(target, len(target))
    thread = comments.create(ANN, AnchorRequest("c0", "text", begin, end), "here", KNOWN)
    ytext = text(doc)  # (pycrdt counts UTF-8 bytes)
    inside = len(source[:source.index(target) + 2].encode())
    ytext.insert(len(source.encode()), " (after)")  # after the range
    ytext.insert(inside, "--")  # inside it
    ytext.insert(0, "before: ")  # before it
    typed_into = target[:2] + "--" + target[2:]
    live = Comments(doc).thread(thread["id"])
    assert live["position"]["text"] == typed_into

    fresh = NotebookDocument()  # a server whose store was lost: only the file
    load_file(fresh, file_content(doc, SETTINGS))
    (restored,) = Comments(fresh).threads()
    assert restored["anchor"]["kind"] == "text"
    assert restored["position"]["state"] == "attached"
    assert restored["position"]["text"] == typed_into
    assert restored["anchor"]["quote"] == target  # the text the thread began on
    assert (restored["position"]["start"], restored["position"]["end"]) == (
        live["position"]["start"], live["position"]["end"])
