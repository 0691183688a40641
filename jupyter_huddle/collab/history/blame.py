"""Who last wrote each line of each cell, and when: kept live as changes arrive.

A change to a cell's source, made by someone (a connection's server-stamped identity, a
restore by a person, the file changing on disk), attributes the lines it changed to them:
the lines before the first and after the last changed line keep their authors; the lines
in between are theirs. Each version stores the authorship of its cells (``encode``), so it
survives a restart; lines that changed after the last version before a crash are
"unknown", never guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..documents.merge import common_prefix, common_suffix
from .content import source_digest

# Who wrote a line: "u:<username>", "disk" (changed outside Huddle), or None (unknown).
AuthorKey = str | None
Mark = tuple[AuthorKey, float]


def user_key(username: str) -> str:
    """The author key of a person."""
    return f"u:{username}"


DISK = "disk"


@dataclass(slots=True)
class CellLines:
    """One cell's lines and who wrote each."""

    lines: list[str]
    marks: list[Mark] = field(default_factory=list)
    # The text itself, to tell at once whether a change touched it.
    text: str = ""


def split_lines(text: str) -> list[str]:
    """A cell's source as lines (an empty source is one empty line)."""
    return text.split("\n")


def attribute(old: CellLines, text: str, author: AuthorKey, at: float) -> CellLines:
    """``old`` edited into ``text`` by ``author``: the changed middle is theirs."""
    new = split_lines(text)
    before = old.lines
    limit = min(len(before), len(new))
    # Lines wholly inside the common prefix (suffix) of the two texts are unchanged: a
    # start found in C, so a keystroke compares a line or two, not every line.
    prefix = min(text.count("\n", 0, common_prefix(old.text, text)), limit)
    while prefix < limit and before[prefix] == new[prefix]:
        prefix += 1
    suffix = min(text.count("\n", len(text) - common_suffix(old.text, text)), limit - prefix)
    while (suffix < limit - prefix
           and before[len(before) - 1 - suffix] == new[len(new) - 1 - suffix]):
        suffix += 1
    middle = len(new) - prefix - suffix
    tail = old.marks[len(before) - suffix:] if suffix else []
    return CellLines(new, old.marks[:prefix] + [(author, at)] * middle + tail, text)


class BlameTracker:
    """Line authorship of every cell of one notebook (see the module docstring)."""

    def __init__(self) -> None:
        self.cells: dict[str, CellLines] = {}

    def seed(self, cell_id: str, text: str, marks: list[Mark] | None) -> None:
        """Start a cell's authorship from a version's (None: every line unknown)."""
        lines = split_lines(text)
        if marks is None or len(marks) != len(lines):
            marks = [(None, 0.0)] * len(lines)
        self.cells[cell_id] = CellLines(lines, list(marks), text)

    def changed(self, cell_id: str, text: str, author: AuthorKey,
                at: float | None = None) -> None:
        """The cell's source is now ``text``, by ``author`` (a new cell: all theirs)."""
        when = time.time() if at is None else at
        current = self.cells.get(cell_id)
        if current is None:
            lines = split_lines(text)
            self.cells[cell_id] = CellLines(lines, [(author, when)] * len(lines), text)
        elif current.text != text:
            self.cells[cell_id] = attribute(current, text, author, when)

    def keep_only(self, cell_ids: set[str]) -> None:
        """Forget cells that are gone."""
        for cell_id in [c for c in self.cells if c not in cell_ids]:
            del self.cells[cell_id]

    def lines(self, cell_id: str) -> list[tuple[str, AuthorKey, float]]:
        """(line, author, time) of each line of a cell; [] if the cell is unknown."""
        cell = self.cells.get(cell_id)
        if cell is None:
            return []
        return [(line, author, at) for line, (author, at) in zip(cell.lines, cell.marks,
                                                                   strict=True)]

    def encode(self) -> dict[str, Any]:
        """Every cell's authorship for a version's manifest: runs of equal marks, and a
        digest of the source they apply to."""
        return {cell_id: {"s": source_digest(cell.text), "r": _runs(cell.marks)}
                for cell_id, cell in self.cells.items()}


def _runs(marks: list[Mark]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    for author, at in marks:
        stamp = round(at, 1)
        if runs and runs[-1][0] == author and runs[-1][1] == stamp:
            runs[-1][2] += 1
        else:
            runs.append([author, stamp, 1])
    return runs


def decode(entry: Any, text: str) -> list[Mark] | None:
    """A cell's marks from a version's manifest, if they apply to ``text`` (else None)."""
    if not isinstance(entry, dict) or entry.get("s") != source_digest(text):
        return None
    marks: list[Mark] = []
    for run in entry.get("r") or []:
        try:
            author, at, count = run
            marks.extend([(None if author is None else str(author), float(at))] * int(count))
        except (TypeError, ValueError):
            return None
    return marks


def describe(author: AuthorKey, names: dict[str, str]) -> dict[str, Any] | None:
    """An author as the API shows them: username and display name (None: unknown)."""
    if author is None:
        return None
    if author == DISK:
        return {"username": None, "display_name": "changed on disk"}
    username = author[2:]
    return {"username": username, "display_name": names.get(username) or username}
