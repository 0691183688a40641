"""Relative positions resolve to the same character after any edits, also in text that is
not ASCII (where pycrdt's StickyIndex alone is off; see collab/review/positions.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Assoc, Doc, Text

from jupyter_huddle.collab.review.positions import TextPositions

# Distinct characters of 1 to 4 UTF-8 bytes and 1 or 2 UTF-16 units, so every one can be
# found again by identity.
ALPHABET = [chr(c) for c in [*range(0x41, 0x5B), *range(0xC0, 0xD0), *range(0x4E00, 0x4E10),
                             *range(0x1F600, 0x1F610)]]


def utf16(text: str) -> list[int]:
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


edits = st.lists(st.tuples(st.sampled_from(["insert", "delete"]), st.integers(0, 10_000),
                           st.integers(1, 3), st.integers(0, 2)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(initial=st.integers(3, 12), edits=edits, pick=st.integers(0, 10_000))
def test_positions_follow_their_character_through_edits_by_three_clients(initial, edits,
                                                                          pick):
    fresh = iter(ALPHABET)
    docs: list[Doc[Any]] = [Doc(client_id=i + 1) for i in range(3)]
    texts = [d.get("t", type=Text) for d in docs]
    texts[0] += "".join(next(fresh) for _ in range(initial))
    for d in docs[1:]:
        d.apply_update(docs[0].get_update())
    # the anchored character, and one position on each side of it
    current = str(texts[0])
    target = pick % len(current)
    anchored = current[target]
    positions = TextPositions(texts[0])
    after = positions.position(utf16(current)[target], Assoc.AFTER)
    before = positions.position(utf16(current)[target + 1], Assoc.BEFORE)
    for kind, where, size, who in edits:
        text = texts[who]
        value = str(text)
        index = where % (len(value) + 1)
        if kind == "insert":
            try:
                chunk = "".join(next(fresh) for _ in range(size))
            except StopIteration:
                break
            text.insert(byte_offset(value, index), chunk)
        else:
            # delete anything except the anchored character
            stop = min(index + size, len(value))
            keep = value.find(anchored, index, stop)
            stop = keep if keep >= 0 else stop
            if index < stop:
                del text[byte_offset(value, index):byte_offset(value, stop)]
        # everyone syncs with everyone now and then, so items interleave and split
        if where % 3 == 0:
            for a in docs:
                for b in docs:
                    if a is not b:
                        b.apply_update(a.get_update(b.get_state()))
    for a in docs:
        for b in docs:
            if a is not b:
                b.apply_update(a.get_update(b.get_state()))
    for text in texts:
        value = str(text)
        offsets = utf16(value)
        index = value.index(anchored)
        resolved = TextPositions(text)
        assert resolved.offset(after) == offsets[index]
        assert resolved.offset(before) == offsets[index + 1]


def test_a_deleted_character_resolves_to_where_it_was():
    doc: Doc[Any] = Doc(client_id=1)
    text = doc.get("t", type=Text)
    text += "é😀ab"
    position = TextPositions(text).position(3, Assoc.AFTER)  # at "a"
    del text[byte_offset("é😀ab", 2):byte_offset("é😀ab", 3)]  # delete "a"
    assert TextPositions(text).offset(position) == 3  # now at "b"


def test_a_position_from_another_document_is_refused_not_a_crash():
    doc: Doc[Any] = Doc(client_id=1)
    text = doc.get("t", type=Text)
    text += "héllo"
    other = {"item": {"client": 99, "clock": 5}, "assoc": 0}
    try:
        TextPositions(text).offset(other)
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


def test_the_document_cache_forgets_a_cell_when_its_text_changes():
    import nbformat

    from jupyter_huddle.collab.documents.notebook import NotebookDocument
    from jupyter_huddle.collab.origins import ServerOrigin
    from jupyter_huddle.collab.review.threads import position_cache

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("é one", id="a"),
                nbformat.v4.new_code_cell("ü two", id="b")]
    doc = NotebookDocument()
    doc.load(nb, ServerOrigin.LOAD)
    cache = position_cache(doc)
    first = doc.cells[0]["source"]
    cache["a"] = TextPositions(first)
    cache["b"] = TextPositions(doc.cells[1]["source"])
    position = cache["a"].position(2, Assoc.AFTER)  # at "one"
    first.insert(0, "😀")
    assert "a" not in cache  # only the edited cell is forgotten
    assert "b" in cache
    cache["a"] = TextPositions(first)
    assert cache["a"].offset(position) == 4
    doc.cells.append(doc.cells[0].to_py() | {"id": "c"})  # cells added: start afresh
    assert len(cache) == 0
