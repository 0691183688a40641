"""Offsets and relative positions in a shared text, in UTF-16 units.

Offsets that cross the review API are in UTF-16 code units, what browsers count and what
sticky indexes count; pycrdt's ``Text`` operations count UTF-8 bytes, so an edit converts.

Relative positions are Yjs ``RelativePosition`` JSON (pycrdt ``StickyIndex``).

pycrdt's ``StickyIndex`` cannot be used as it is for text that is not ASCII: yrs (0.14 and
earlier) counts the items before a position in the document's offset unit (UTF-8 bytes
in pycrdt) but the offset inside the item in clock units (UTF-16), so both creating and
resolving a position are off by the extra bytes of the non-ASCII characters before it in
earlier items. This module maps that "mixed" coordinate back to real offsets.

For a character ``p`` the mixed coordinate is ``m(p) = bytes(text[:s]) + utf16(text[s:p])``
where ``s`` starts the item holding ``p``. It is strictly increasing, and yrs resolves any
position to it, so one walk over the text gives ``m`` for every character: a character
continues its left neighbour's item exactly when the position one clock step after the
neighbour resolves, live, to ``m(left) + utf16(left)``; otherwise it starts an item and
``m(p) = bytes(text[:p])``. ASCII text needs no walk: there ``m(p) = p``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, MutableMapping
from typing import Any

from pycrdt import Array, Assoc, Map, StickyIndex, Text

from ..sync.codec import Reader, varuint
from .errors import CommentError

Position = dict[str, Any]  # {"item": {"client", "clock"}, "assoc"} or {"type": ..., "assoc"}


def utf16_to_index(text: str, offset: int) -> int:
    """Python index of a UTF-16 offset into ``text``.

    Raises:
        CommentError: the offset is outside the text or inside a surrogate pair.
    """
    if text.isascii():  # one unit per character
        if not 0 <= offset <= len(text):
            raise CommentError(f"offset {offset} is outside the text ({len(text)} UTF-16 units)")
        return offset
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
        if units > offset:
            raise CommentError(f"offset {offset} splits a character")
    if units == offset:
        return len(text)
    raise CommentError(f"offset {offset} is outside the text ({units} UTF-16 units)")


def index_to_utf16(text: str, index: int) -> int:
    """The UTF-16 offset (what the browser counts) of a Python index into ``text``."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text[:index])


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of a Python index into ``text`` (what pycrdt's ``Text`` counts)."""
    return len(text[:index].encode("utf-8"))


def _utf16_len(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _resolve(source: Text, position: Position) -> int:
    return StickyIndex.from_json(position, source).get_index()


def state_vector(source: Text) -> dict[int, int]:
    """The next clock of every client in the text's document."""
    reader = Reader(source.doc.get_state())
    return {reader.read_varuint(): reader.read_varuint() for _ in range(reader.read_varuint())}


def _encoded(client: int, clock: int, assoc: int) -> bytes:
    """A relative position to an item in Yjs' binary form (cheaper to decode than JSON)."""
    return b"\x00" + varuint(client) + varuint(clock) + (b"\x41" if assoc < 0 else b"\x00")


def _item(client: int, clock: int, assoc: int) -> Position:
    return {"item": {"client": client, "clock": clock}, "assoc": assoc}


class TextPositions:
    """Positions in one ``Text`` as it is now (make a new one after the text changes)."""

    def __init__(self, source: Text) -> None:
        self.source = source
        self.text = str(source)
        self.ascii = self.text.isascii()
        # utf16 offset of every character (and of the end), for both directions
        self.utf16: list[int] = [0]
        for char in self.text:
            self.utf16.append(self.utf16[-1] + _utf16_len(char))
        self._mixed: list[int] | None = None  # m(p) for each character
        self._ids: list[tuple[int, int]] = []  # (client, clock) of each character
        # yrs panics on a position whose item does not exist: check against this first.
        self._clocks = state_vector(source)

    def _exists(self, position: Position) -> bool:
        item = position.get("item")
        if not isinstance(item, dict):
            return isinstance(position.get("type"), dict) or "tname" in position
        client, clock = item.get("client"), item.get("clock")
        return (isinstance(client, int) and isinstance(clock, int)
                and 0 <= clock < self._clocks.get(client, 0))

    @property
    def length(self) -> int:
        """The text's length in UTF-16 units."""
        return self.utf16[-1]

    def _walk(self) -> None:
        if self._mixed is not None:
            return
        mixed: list[int] = []
        ids: list[tuple[int, int]] = []
        byte_offset = 0
        with self.source.doc.transaction() as txn:  # one read transaction for the walk

            def resolve(client: int, clock: int, assoc: int) -> int:
                return StickyIndex.decode(_encoded(client, clock, assoc),
                                          self.source).get_index(txn)

            for index, char in enumerate(self.text):
                if index:
                    client, clock = ids[-1]
                    step = _utf16_len(self.text[index - 1])
                    expected = mixed[-1] + step
                    # Live items resolve one further with the other association; deleted
                    # ones resolve to where they were either way.
                    if (clock + step < self._clocks.get(client, 0)
                            and resolve(client, clock + step, 0) == expected
                            and resolve(client, clock + step, -1) == expected + 1):
                        mixed.append(expected)
                        ids.append((client, clock + step))
                        byte_offset += len(char.encode())
                        continue
                mixed.append(byte_offset)  # the character starts an item
                found = StickyIndex.new(self.source, byte_offset, Assoc.AFTER).to_json()
                ids.append((int(found["item"]["client"]), int(found["item"]["clock"])))
                byte_offset += len(char.encode())
        self._mixed, self._ids = mixed, ids

    def char_index(self, offset: int) -> int:
        """The index into ``text`` of a UTF-16 offset (one this class resolved)."""
        return offset if self.ascii else bisect.bisect_left(self.utf16, offset)

    def _char_at(self, offset: int) -> int:
        """The index of the character at a UTF-16 offset (which must not split one)."""
        return bisect.bisect_left(self.utf16, offset)

    def position(self, offset: int, assoc: Assoc) -> Position:
        """The relative position of a UTF-16 offset: ``AFTER`` sticks to the character at
        it, ``BEFORE`` to the one before it (as Yjs ``createRelativePositionFromTypeIndex``)."""
        if (offset == 0 and assoc == Assoc.BEFORE) or not self.text:
            return StickyIndex.new(self.source, 0, Assoc.BEFORE).to_json()
        if offset >= self.length and assoc == Assoc.AFTER:
            assoc, offset = Assoc.BEFORE, self.length  # nothing to stick after at the end
        if self.ascii:
            return StickyIndex.new(self.source, offset, assoc).to_json()
        self._walk()
        if assoc == Assoc.AFTER:
            client, clock = self._ids[self._char_at(offset)]
            return _item(client, clock, 0)
        index = self._char_at(offset) - 1  # the character before the offset, last unit
        client, clock = self._ids[index]
        return _item(client, clock + _utf16_len(self.text[index]) - 1, -1)

    def offset(self, position: Position) -> int:
        """Where a relative position is now, in UTF-16 units.

        Raises:
            ValueError: the position is malformed or from another document.
        """
        if not isinstance(position, dict) or not self._exists(position):
            raise ValueError("the position's item is not in this document")
        raw = _resolve(self.source, position)
        if self.ascii:
            return min(raw, self.length)
        self._walk()
        assert self._mixed is not None
        if int(position.get("assoc", 0)) < 0 and "item" in position:
            # raw = m(left character) + 1 (+1 more for a low surrogate): just after it
            index = bisect.bisect_left(self._mixed, raw) - 1
            return self.utf16[max(index, -1) + 1]
        return self.utf16[bisect.bisect_left(self._mixed, raw)]


class PositionCache(MutableMapping[str, TextPositions]):
    """The ``TextPositions`` of a notebook's cells by cell id, each kept until that cell's
    source changes (walking a non-ASCII text is the costly part of resolving anchors, and
    a save or a listing resolves every one of them).

    It starts watching the cells when first used, so notebooks without review threads pay
    nothing.
    """

    def __init__(self, cells: Array[Any]) -> None:
        self._cells = cells
        self._entries: dict[str, TextPositions] = {}
        self._subscription: Any = None

    def _watch(self) -> None:
        if self._subscription is None:
            self._subscription = self._cells.observe_deep(self._changed)

    def _changed(self, events: list[Any]) -> None:
        for event in events:
            path = list(event.path)
            if not path:  # cells inserted, deleted or moved: start afresh
                self._entries.clear()
                return
            index = path[0]
            touches_source = len(path) == 1 or path[1] == "source"
            if touches_source and isinstance(index, int) and index < len(self._cells):
                cell = self._cells[index]
                self._entries.pop(str(cell.get("id")) if isinstance(cell, Map) else "", None)

    def __getitem__(self, cell_id: str) -> TextPositions:
        return self._entries[cell_id]

    def __setitem__(self, cell_id: str, positions: TextPositions) -> None:
        self._watch()
        self._entries[cell_id] = positions

    def __delitem__(self, cell_id: str) -> None:
        del self._entries[cell_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
