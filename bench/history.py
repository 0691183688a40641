"""Version history (issue 14): what a working day of versions costs in the store, and how
fast the history API answers on a 1000-cell notebook.

    python -m bench.history [--runs 3] [--requests 30] [--edits 50000] [--nice -10]

Huddle only. Two parts.

**A. A simulated working day, history off and on** (in this process, no server). One
notebook of 50 cells (60 % code, 40 % Markdown, 5-15 lines each, a fifth with accents, CJK
or emoji; 8 code cells with a small stream output, 2 of them also a small HTML table),
generated from ``--seed``. It is opened as the server opens it: a ``RoomManager`` over a
real ``SQLiteStore`` file (WAL, default 50 ms group commit) and an in-memory
``FileBackend`` (``MemoryBackend`` below), leased (``manager.lease``). Two people edit
``room.document`` for 8 simulated hours, each transaction with a ``PersonOrigin`` of its
own, so the recorder attributes every change. Each person makes ``--edits``/2 edits in
bursts (5-120 edits 0.08-0.45 s apart, then a pause of 2 s plus an exponential with a 45 s
mean), their timeline scaled to fill the 8 hours. At the start of a burst a person adds a
cell after theirs (4 %), deletes a cell nobody is in (1.2 %, once the notebook has more
than 40), or moves to another cell (about half the time: nearby 70 %, anywhere 30 %; the
cursor at the end of one of its lines). Otherwise, at the cursor: backspace (7 %), paste
a whole line above the cursor's line (2 %), delete the cursor's line (0.5 %), or type the
next character of the line they are writing (a code line or a sentence), a new line with
the current indentation once it is written. The other person's cursor follows the text
(as relative positions do). About every 100 edits (60-140) a cell (the typist's if it is
code) has its outputs replaced and its execution count set, in one transaction with the
kernel's origin (``ServerOrigin.KERNEL``): 1-6 stream lines, and in 30 % an
``execute_result`` with a small HTML table. The edits are the same, byte for byte, in
both modes (one ``random.Random(seed)`` drives the schedule and the edits).

Saving and versions follow simulated time, not the wall clock: the save scheduler's own
task is held off (``save_delay_s`` and ``max_save_delay_s`` set to 1e9) and the bench calls
``binding.saver.save_now()`` when the default schedule would have saved (1 s after the
last change, at most 5 s after the first unsaved one); with history on, the recorder's
timer is held off (``version_interval_s`` = 1e9) and ``manager.history(room).record
("auto")`` is called at every 300 s of simulated time (the default interval), a named
version (``force=True``, as the API does) at 4 h, and the room's close records ``closed``.
The history modules' ``time.time`` reads the simulated clock, so versions and blame marks
carry the times a real day would give them. The file poll is held off
(``file_poll_interval_s`` = 1e9): nothing else writes the file. The update log and its
compaction run as in the server (``compact_after_updates`` 1000), as background tasks: the
bench yields to the event loop after every edit. The day ends with
``manager.close_all()`` (last save, ``closed`` version, compaction, store closed). Once
the room is open the bench calls ``gc.freeze()``, as the server does once started: without
it a full collection of everything this process imported (0.3-0.5 s here) lands in an edit
now and then.

Figures, per mode: the store's payload by table (``sum(length(...))`` of each column, in
SQL, on the closed file: the update log; versions = manifests + info + rows, refs, blobs),
on-disk bytes per table and index (SQLite's ``dbstat``) and the file's size with its free
pages (no VACUUM); hourly samples of the log's and the versions' payload; the manifests'
size without their blame (re-encoded the same way, to see what blame costs); versions by
kind. Times: the day's wall time (the hourly size samples excluded), the process's CPU
time, each edit transaction's time (the ``with doc.transaction(...)`` block: the room's
log append and, with history on, the recorder's blame observer run inside it) p50/p99 and
sum, kernel-output transactions, each ``save_now`` and each ``record`` call, and the
close. ``--runs`` runs, each mode once per run (order flipped every run); ratios are medians
of per-run on/off ratios.

**B. The history API on a real server** (``servers.Server``, a fresh one per run, with
``--HuddleApp.history_actions_per_minute=100000`` so that the restores are not rate-limited;
every other setting is the default). After a warm-up on a 10-cell notebook (every route
once), the 1000-cell fixture (``fixtures.cells_fixture(1000)``: two-line code cells, no
outputs) is opened by one websocket client (``proto.Peer``), which stays in the room
throughout; ``POST /api/huddle/history/{doc}`` ``{"name": "v1"}``; the client edits every
tenth cell (100 cells: a number changed, a line added; one update each); once
``GET .../diff?from=v1&to=live`` shows the 100 changes, ``{"name": "v2"}``. Then
``--requests`` times each, one after another (20 ms apart), in this order: ``GET`` the
version list; ``GET`` diff v1 → v2; ``GET`` diff v1 → live; ``GET`` the preview of v1;
``POST .../versions/{v}/restore`` ``{"cell_id"}`` of one changed cell, alternately from v1
and v2 (so each restore changes the cell; each records a ``restore`` version); and the
version list again (now with the restores' versions). Each request is timed from just
before the TCP connect to the body read (``comments.http``); p50 and p99 (nearest rank: of
30 samples, p99 is the largest) and the response size. Server RSS (``VmRSS``) after the
warm-up, with the room open, before the series and after them, and ``VmHWM``; server CPU
and other processes' CPU during the series. Cells are ``median [min–max]`` of the per-run
figures.

Then, once, in this process (no HTTP; a ``RoomManager`` over a SQLite store, history on,
the same 1000-cell notebook with v1 and v2 recorded the same way): the steps those routes
take, each timed alone, median of 9: ``document.export()``, ``split()`` of an export,
``live_is_latest()`` (what every list GET pays), reading a version (``content``),
``diff_notebooks`` v1 → v2, ``restorer.restore_cell``, ``record()`` after one cell changed,
and inserting one cell in the middle with the recorder watching and, its observer removed,
without.

Results: ``bench/results/history.json`` (and ``history/``); the Markdown summary is printed
and written to ``bench/results/history.md`` for docs/PERFORMANCE.md (``python -m bench
report`` does not read it).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import gc
import hashlib
import importlib
import json
import os
import random
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

from .comments import FUNCS, NAMES, _code_cell, _markdown_cell, _prose, http
from .fixtures import cells_fixture, warmup_fixture
from .proto import Peer, put_session, quiesce, room_url, wait_synced
from .saving import save
from .servers import CpuMeter, Server, git_info, machine_info, wait_quiet
from .stats import cell as _cell
from .stats import fmt as _fmt
from .stats import paired_ratio, percentile, summary

MIB = 1024 * 1024
SEED = 20261214
DAY_S = 8 * 3600.0
CELLS = 50
PEOPLE = ("ann", "bob")
VERSION_EVERY_S = 300.0        # HistorySettings.version_interval_s' default
SAVE_QUIET_S = 1.0             # CollabSettings.save_delay_s' default
SAVE_MAX_S = 5.0               # CollabSettings.max_save_delay_s' default
NAMED_AT_S = 4 * 3600.0
SAMPLE_EVERY_S = 3600.0
HELD_OFF = 1e9                 # a delay that never comes: the bench drives these itself
MODES = ("off", "on")
B_CELLS = 1000
B_FIXTURE = f"cells-{B_CELLS}.ipynb"


def _log(msg: str) -> None:
    print(msg, flush=True)


# --- part A: the notebook and the file backend ------------------------------------------------

def day_notebook(rng: random.Random) -> dict[str, Any]:
    """The day's notebook (see the module docstring), as nbformat JSON."""
    cells: list[dict[str, Any]] = []
    for i in range(CELLS):
        fancy = rng.random() < 0.2
        cell_id = f"day-{i:03d}"
        if rng.random() < 0.6:
            cells.append({"id": cell_id, "cell_type": "code", "metadata": {},
                          "source": _code_cell(rng, i, fancy), "outputs": [],
                          "execution_count": None})
        else:
            cells.append({"id": cell_id, "cell_type": "markdown", "metadata": {},
                          "source": _markdown_cell(rng, i, fancy)})
    code = [c for c in cells if c["cell_type"] == "code"]
    for n, cell in enumerate(rng.sample(code, 8)):
        cell["execution_count"] = n + 1
        cell["outputs"] = _outputs(rng, n + 1, table=n < 2)
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"},
                         "language_info": {"name": "python"}}}


def _outputs(rng: random.Random, count: int, table: bool) -> list[dict[str, Any]]:
    """What a small run prints: 1-6 stream lines, and maybe a small table."""
    lines = "".join(f"{rng.choice(NAMES)}: {rng.random() * 1000:.3f}\n"
                    for _ in range(rng.randint(1, 6)))
    outputs: list[dict[str, Any]] = [{"output_type": "stream", "name": "stdout",
                                      "text": lines}]
    if table:
        rows = [(rng.choice(NAMES), rng.randint(0, 999), round(rng.random(), 3))
                for _ in range(rng.randint(3, 5))]
        html = "<table><tr><th>name</th><th>n</th><th>score</th></tr>" + "".join(
            f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows) + "</table>"
        plain = "\n".join(f"{a:>10} {b:>4} {c:>6}" for a, b, c in rows)
        outputs.append({"output_type": "execute_result", "execution_count": count,
                        "data": {"text/plain": plain, "text/html": html}, "metadata": {}})
    return outputs


class MemoryBackend:
    """Files as nbformat dicts, ids as paths (the idea of tests/support/memory_backend.py).
    The fingerprint is a write counter, so a poll would cost nothing (it is held off)."""

    def __init__(self) -> None:
        self.files: dict[str, Any] = {}
        self.ids: dict[str, str] = {}
        self.writes = 0

    def add(self, file_id: str, path: str, content: Any) -> None:
        self.ids[file_id] = path
        self.files[path] = copy.deepcopy(content)

    async def path_for(self, file_id: str) -> str | None:
        path = self.ids.get(file_id)
        return path if path in self.files else None

    async def load(self, path: str, kind: Any) -> Any:
        from jupyter_huddle.collab.errors import DocumentNotFound
        from jupyter_huddle.collab.files.backend import FileSnapshot

        if path not in self.files:
            raise DocumentNotFound(path)
        content = copy.deepcopy(self.files[path])
        return FileSnapshot(path, content, _content_hash(content))

    async def fingerprint(self, path: str) -> tuple[Any, ...] | None:
        return (self.writes,) if path in self.files else None

    async def save(self, path: str, kind: Any, content: Any) -> Any:
        from jupyter_huddle.collab.files.backend import FileSnapshot

        self.files[path] = copy.deepcopy(content)
        self.writes += 1
        return FileSnapshot(path, None, _content_hash(content))


def _content_hash(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


# --- part A: the day's schedule and edits ----------------------------------------------------

def schedule(rng: random.Random, edits: int) -> list[tuple[float, int, bool]]:
    """(simulated time, person, starts a burst) of every edit, in time order."""
    events: list[tuple[float, int, bool]] = []
    for person in range(len(PEOPLE)):
        t, left, own = rng.uniform(0, 60), 0, []
        for _ in range(edits // len(PEOPLE)):
            starts = left == 0
            if starts:
                t += 2.0 + rng.expovariate(1 / 45)   # reading, thinking, running cells
                left = rng.randint(5, 120)
            else:
                t += rng.uniform(0.08, 0.45)          # typing
            left -= 1
            own.append((t, starts))
        scale = (DAY_S - 1.0) / own[-1][0]
        events += [(at * scale, person, starts) for at, starts in own]
    events.sort()
    return events


def _at(text: str, index: int) -> int:
    """pycrdt 0.14 indexes a Y.Text in UTF-8 bytes: a Python index as that offset."""
    return len(text[:index].encode())


def _code_line(rng: random.Random) -> str:
    name, col, func = rng.choice(NAMES), rng.choice(NAMES), rng.choice(FUNCS)
    return rng.choice([
        f"{name} = {func}({col}, factor={rng.randint(1, 9)})",
        f"print({name}.head({rng.randint(3, 20)}))",
        f"{col}_total = {name}['{col}'].sum() * {rng.random():.2f}",
        f"# {_prose(rng, rng.randint(3, 9), False)}",
        f"{name} = {name}.dropna(subset=['{col}'])",
        f"ax.plot({col}, np.cos({col}), label='{col}')",
        f"assert {name}.shape[0] > {rng.randint(0, 100)}",
    ])


SUFFIXES = ["  # check", ".round(2)", " + 1", ", axis=1", "  # TODO", " * 0.5", ".copy()"]


@dataclass
class Person:
    origin: Any                # a PersonOrigin: the recorder attributes their changes
    cell: str = ""
    pos: int = 0               # a Python index into the cell's source
    pending: str = ""          # what is left to type of the line being written


Change = Callable[[], None]


@dataclass
class Day:
    """Two people editing one notebook (see the module docstring)."""

    document: Any              # NotebookDocument
    rng: random.Random
    people: list[Person]
    order: list[str] = field(default_factory=list)        # cell ids, as in the document
    kinds: dict[str, str] = field(default_factory=dict)   # cell id -> cell type
    edits: int = 0
    runs: int = 100            # execution counts go on from the file's
    new_cells: int = 0
    done: Counter[str] = field(default_factory=Counter)
    edit_s: list[float] = field(default_factory=list)
    edit_kind: list[str] = field(default_factory=list)
    output_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        for ycell in self.document.cells:
            self.order.append(str(ycell["id"]))
            self.kinds[self.order[-1]] = str(ycell["cell_type"])

    def _ycell(self, cell_id: str) -> Any:
        return self.document.cells[self.order.index(cell_id)]

    def _apply(self, origin: object, change: Change) -> float:
        t0 = time.perf_counter()
        with self.document.doc.transaction(origin=origin):
            change()
        return time.perf_counter() - t0

    def edit(self, person: Person, burst: bool) -> None:
        """One edit by ``person``, timed."""
        kind, change = self._choose(person, burst)
        self.edit_s.append(self._apply(person.origin, change))
        self.edit_kind.append(kind)
        self.done[kind] += 1
        self.edits += 1

    def _choose(self, p: Person, burst: bool) -> tuple[str, Change]:
        rng = self.rng
        if p.cell not in self.kinds:   # the first edit, or their cell was deleted
            self._jump(p)
        if burst:
            roll = rng.random()
            if roll < 0.04:
                return "new cell", self._new_cell(p)
            if roll < 0.052 and len(self.order) > 40:
                return "delete cell", self._delete_cell()
            if roll < 0.55:
                self._jump(p)
        text = str(self._ycell(p.cell)["source"])
        p.pos = min(p.pos, len(text))
        roll = rng.random()
        if roll < 0.07 and p.pos > 0:
            return "backspace", self._delete(p.cell, text, p.pos - 1, p.pos)
        if roll < 0.09:
            return "paste line", self._paste(p, text)
        if roll < 0.095 and "\n" in text:
            return "delete line", self._delete_line(p, text)
        if not p.pending:
            return "new line", self._newline(p, text)
        char, p.pending = p.pending[0], p.pending[1:]
        return "type", self._insert(p.cell, text, p.pos, char)

    # the cursors follow the text, as Yjs relative positions do
    def _inserted(self, cell_id: str, index: int, length: int) -> None:
        for q in self.people:
            if q.cell == cell_id and q.pos >= index:
                q.pos += length

    def _deleted(self, cell_id: str, start: int, end: int) -> None:
        for q in self.people:
            if q.cell == cell_id and q.pos > start:
                q.pos = max(start, q.pos - (end - start))

    def _insert(self, cell_id: str, text: str, index: int, value: str) -> Change:
        ytext, at = self._ycell(cell_id)["source"], _at(text, index)
        self._inserted(cell_id, index, len(value))
        return lambda: ytext.insert(at, value)

    def _delete(self, cell_id: str, text: str, start: int, end: int) -> Change:
        ytext, first, last = self._ycell(cell_id)["source"], _at(text, start), _at(text, end)
        self._deleted(cell_id, start, end)

        def change() -> None:
            del ytext[first:last]
        return change

    def _newline(self, p: Person, text: str) -> Change:
        line = text[text.rfind("\n", 0, p.pos) + 1:p.pos]
        indent = line[:len(line) - len(line.lstrip(" "))]
        if line.rstrip().endswith(":"):
            indent += "    "
        markdown = self.kinds[p.cell] == "markdown"
        p.pending = _prose(self.rng, self.rng.randint(4, 14), False) if markdown \
            else _code_line(self.rng)
        return self._insert(p.cell, text, p.pos, "\n" + ("" if markdown else indent))

    def _paste(self, p: Person, text: str) -> Change:
        start = text.rfind("\n", 0, p.pos) + 1
        markdown = self.kinds[p.cell] == "markdown"
        line = _prose(self.rng, self.rng.randint(6, 16), False) if markdown \
            else _code_line(self.rng)
        return self._insert(p.cell, text, start, line + "\n")

    def _delete_line(self, p: Person, text: str) -> Change:
        start = text.rfind("\n", 0, p.pos) + 1
        end = text.find("\n", p.pos)
        if end < 0:   # the last line: take the newline before it
            start, end = max(start - 1, 0), len(text)
        else:
            end += 1
        return self._delete(p.cell, text, start, end)

    def _jump(self, p: Person) -> None:
        rng = self.rng
        here = self.order.index(p.cell) if p.cell in self.kinds else rng.randrange(
            len(self.order))
        if rng.random() < 0.7:
            here = min(max(here + rng.randint(-3, 3), 0), len(self.order) - 1)
        else:
            here = rng.randrange(len(self.order))
        p.cell = self.order[here]
        text = str(self._ycell(p.cell)["source"])
        ends = [i for i, ch in enumerate(text) if ch == "\n"] + [len(text)]
        p.pos = rng.choice(ends)
        p.pending = "" if rng.random() < 0.5 else (
            " " + _prose(rng, rng.randint(2, 6), False) if self.kinds[p.cell] == "markdown"
            else rng.choice(SUFFIXES))

    def _new_cell(self, p: Person) -> Change:
        self.new_cells += 1
        cell_id = f"new-{self.new_cells:04d}"
        if self.rng.random() < 0.7:
            cell: dict[str, Any] = {"id": cell_id, "cell_type": "code", "source": "",
                                    "metadata": {}, "outputs": [], "execution_count": None}
        else:
            cell = {"id": cell_id, "cell_type": "markdown", "source": "", "metadata": {}}
        index = self.order.index(p.cell) + 1
        ycell = self.document.new_cell(cell)
        self.order.insert(index, cell_id)
        self.kinds[cell_id] = str(cell["cell_type"])
        p.cell, p.pos, p.pending = cell_id, 0, ""
        return lambda: self.document.cells.insert(index, ycell)

    def _delete_cell(self) -> Change:
        busy = {q.cell for q in self.people}
        fresh = [c for c in self.order if c.startswith("new-") and c not in busy]
        pool = fresh if fresh and self.rng.random() < 0.6 else [
            c for c in self.order if c not in busy]
        victim = self.rng.choice(pool)
        index = self.order.index(victim)
        self.order.pop(index)
        del self.kinds[victim]

        def change() -> None:
            del self.document.cells[index]
        return change

    def run_cell(self, p: Person) -> None:
        """A kernel replaces a cell's outputs (the typist's cell if it is code)."""
        from jupyter_huddle.collab.documents.schema import output_to_ymap
        from jupyter_huddle.collab.origins import ServerOrigin

        code = [c for c in self.order if self.kinds[c] == "code"]
        cell_id = p.cell if self.kinds.get(p.cell) == "code" else self.rng.choice(code)
        self.runs += 1
        count = self.runs
        outputs = [output_to_ymap(o) for o in _outputs(self.rng, count,
                                                       self.rng.random() < 0.3)]
        ycell = self._ycell(cell_id)

        def change() -> None:
            ycell["execution_count"] = count
            youtputs = ycell["outputs"]
            youtputs.clear()
            for output in outputs:
                youtputs.append(output)
        self.output_s.append(self._apply(ServerOrigin.KERNEL, change))


# --- part A: the store's figures -------------------------------------------------------------

def store_sizes(path: Path, *, detail: bool) -> dict[str, Any]:
    """Payload bytes by table (SQL), and with ``detail`` on-disk bytes (dbstat) and the
    manifests without blame. Opens the file read-only (it may be in use)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        def one(sql: str) -> Any:
            return con.execute(sql).fetchone()[0] or 0
        out: dict[str, Any] = {
            "log_rows": one("SELECT count(*) FROM updates"),
            "log_bytes": one("SELECT sum(length(data)) FROM updates"),
            "versions": one("SELECT count(*) FROM versions"),
            "manifest_bytes": one("SELECT sum(length(manifest)) FROM versions"),
            "info_bytes": one("SELECT sum(length(info)) FROM versions"),
            "version_row_bytes": one(
                "SELECT sum(length(doc_key) + length(id) + 8 + length(kind)"
                " + ifnull(length(name), 0)) FROM versions"),
            "refs": one("SELECT count(*) FROM version_refs"),
            "ref_bytes": one("SELECT sum(length(doc_key) + length(id) + length(hash))"
                             " FROM version_refs"),
            "blobs": one("SELECT count(*) FROM version_blobs"),
            "blob_bytes": one("SELECT sum(length(data)) FROM version_blobs"),
            "blob_key_bytes": one("SELECT sum(length(hash)) FROM version_blobs"),
        }
        out["version_bytes"] = sum(out[k] for k in (
            "manifest_bytes", "info_bytes", "version_row_bytes", "ref_bytes", "blob_bytes",
            "blob_key_bytes"))
        if detail:
            out.update(_store_detail(con))
    finally:
        con.close()
    return out


def _store_detail(con: sqlite3.Connection) -> dict[str, Any]:
    tables = dict(con.execute("SELECT name, tbl_name FROM sqlite_master"
                              " WHERE type IN ('table', 'index')"))
    disk: Counter[str] = Counter()
    for name, size in con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        disk[tables.get(name, name)] += int(size)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    kinds = dict(con.execute("SELECT kind, count(*) FROM versions GROUP BY kind"))
    raw = without_blame = 0
    for (manifest,) in con.execute("SELECT manifest FROM versions"):
        value = json.loads(zlib.decompress(manifest))
        raw += len(_json(value))
        value.pop("blame", None)
        without_blame += len(zlib.compress(_json(value), 6))
    return {"disk_bytes_by_table": dict(disk),
            "file_pages_bytes": con.execute("PRAGMA page_count").fetchone()[0] * page,
            "free_pages_bytes": con.execute("PRAGMA freelist_count").fetchone()[0] * page,
            "kinds": kinds, "manifest_raw_bytes": raw,
            "manifest_bytes_without_blame": without_blame}


def _json(value: Any) -> bytes:
    """As ``collab.history.content`` encodes a manifest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _file_bytes(path: Path) -> int:
    return sum(Path(str(path) + s).stat().st_size for s in ("", "-wal", "-shm")
               if Path(str(path) + s).exists())


# --- part A: the day -------------------------------------------------------------------------

class SimClock:
    """The simulated time of day, as ``time.time()`` would give it."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.at = 0.0

    def __call__(self) -> float:
        return self.start + self.at


@contextmanager
def simulated_clock(clock: SimClock) -> Iterator[None]:
    """The history modules read the simulated clock (version times, blame marks)."""
    fake = SimpleNamespace(time=clock)
    modules = [importlib.import_module(f"jupyter_huddle.collab.history.{name}")
               for name in ("blame", "recorder")]
    with mock.patch.object(modules[0], "time", fake), \
            mock.patch.object(modules[1], "time", fake):
        yield


class DayRun:
    """One simulated day in one mode: the room, the clockwork of saves, versions and
    samples, and the figures."""

    def __init__(self, history_on: bool, seed: int, edits: int, path: Path) -> None:
        self.history_on = history_on
        self.rng = random.Random(seed)
        self.notebook = day_notebook(self.rng)
        self.events = schedule(self.rng, edits)
        # A file id as jupyter_server_fileid makes them (it is in every key of the store).
        self.file_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.path = path
        self.clock = SimClock(time.time())
        self.dirty = False
        self.first_unsaved = self.last_change = 0.0
        self.next_version = VERSION_EVERY_S
        self.next_sample = SAMPLE_EVERY_S
        self.named_done = False
        self.save_s: list[float] = []
        self.record_s: list[float] = []
        self.samples: list[dict[str, Any]] = []
        self.excluded_s = 0.0

    def _manager(self) -> tuple[Any, MemoryBackend]:
        from jupyter_huddle.collab.history import HistorySettings
        from jupyter_huddle.collab.rooms.manager import RoomManager
        from jupyter_huddle.collab.settings import CollabSettings
        from jupyter_huddle.collab.store import SQLiteStore

        backend = MemoryBackend()
        backend.add(self.file_id, "day.ipynb", self.notebook)
        settings = CollabSettings(save_delay_s=HELD_OFF, max_save_delay_s=HELD_OFF,
                                  file_poll_interval_s=HELD_OFF)
        history = HistorySettings(enabled=self.history_on, version_interval_s=HELD_OFF)
        return RoomManager(settings, backend, SQLiteStore(self.path), history), backend

    async def run(self) -> dict[str, Any]:
        from jupyter_huddle.collab.ids import DocumentRoomId
        from jupyter_huddle.collab.origins import PersonOrigin

        manager, backend = self._manager()
        room_id = DocumentRoomId("json", "notebook", self.file_id)
        with simulated_clock(self.clock):
            await manager.start()
            t0 = time.perf_counter()
            room = await manager.lease(room_id)
            open_s = time.perf_counter() - t0
            # As the server does once started (HuddleApp): without it, a full collection
            # of every object this process imported stalls an edit now and then.
            gc.collect()
            gc.freeze()
            self.binding = manager._entries.get(room_id).binding  # the bench drives saves
            self.recorder = manager.history(room_id)
            people = [Person(PersonOrigin(name, name.title(), "edit", f"bench-{name}"))
                      for name in PEOPLE]
            day = Day(room.document, self.rng, people)
            day_s, cpu_s = await self._day(day, people)
            self.clock.at = DAY_S
            t0 = time.perf_counter()
            await manager.close_all()
            close_s = time.perf_counter() - t0
            gc.unfreeze()
        durable = manager.store.durable and manager.store.fallback_reason is None
        return self._figures(day, backend, day_s, cpu_s, open_s, close_s, durable)

    async def _day(self, day: Day, people: list[Person]) -> tuple[float, float]:
        t0, cpu0 = time.perf_counter(), time.process_time()
        next_output = self.rng.randint(60, 140)
        for at, who, burst in self.events:
            await self._catch_up(at)
            self.clock.at = at
            day.edit(people[who], burst)
            if day.edits >= next_output:
                day.run_cell(people[who])
                next_output += self.rng.randint(60, 140)
            self._changed(at)
            await asyncio.sleep(0)   # the store's writer, compactions
        await self._catch_up(DAY_S - 1e-6)
        return (time.perf_counter() - t0 - self.excluded_s,
                time.process_time() - cpu0 - self.excluded_s)

    def _changed(self, at: float) -> None:
        if not self.dirty:
            self.first_unsaved = at
        self.dirty = True
        self.last_change = at

    async def _catch_up(self, until: float) -> None:
        """Do the saves, versions and samples due before ``until``, in time order."""
        while True:
            due = [(self.next_version, "version"), (self.next_sample, "sample")]
            if self.dirty:
                due.append((min(self.last_change + SAVE_QUIET_S,
                                self.first_unsaved + SAVE_MAX_S), "save"))
            if not self.named_done:
                due.append((NAMED_AT_S, "named"))
            at, what = min(due)
            if at > until:
                return
            self.clock.at = at
            await getattr(self, f"_{what}")()

    async def _save(self) -> None:
        t0 = time.perf_counter()
        await self.binding.saver.save_now()
        self.save_s.append(time.perf_counter() - t0)
        self.dirty = False

    async def _version(self) -> None:
        self.next_version += VERSION_EVERY_S
        if self.recorder is not None:
            t0 = time.perf_counter()
            await self.recorder.record("auto")
            self.record_s.append(time.perf_counter() - t0)

    async def _named(self) -> None:
        self.named_done = True
        if self.recorder is not None:
            t0 = time.perf_counter()
            await self.recorder.record("named", name="before lunch", force=True,
                                       by={"username": "ann", "display_name": "Ann"})
            self.record_s.append(time.perf_counter() - t0)

    async def _sample(self) -> None:
        self.next_sample += SAMPLE_EVERY_S
        t0 = time.perf_counter()
        sizes = store_sizes(self.path, detail=False)
        self.samples.append({"hour": round(self.clock.at / 3600), "log_bytes":
                             sizes["log_bytes"], "log_rows": sizes["log_rows"],
                             "version_bytes": sizes["version_bytes"],
                             "versions": sizes["versions"]})
        self.excluded_s += time.perf_counter() - t0

    def _figures(self, day: Day, backend: MemoryBackend, day_s: float, cpu_s: float,
                 open_s: float, close_s: float, durable: bool) -> dict[str, Any]:
        sizes = store_sizes(self.path, detail=True)
        final = backend.files["day.ipynb"]
        edit_us = [s * 1e6 for s in day.edit_s]
        output_us = [s * 1e6 for s in day.output_s]
        return {
            "file_bytes": _file_bytes(self.path), **sizes, "samples": self.samples,
            "notebook_bytes": len(json.dumps(final)),
            "cells_at_end": len(final["cells"]),
            "final_cells_digest": _content_hash(final["cells"]),
            "edits": day.edits, "edit_kinds": dict(day.done), "outputs": len(output_us),
            "day_wall_s": day_s, "day_cpu_s": cpu_s, "open_ms": open_s * 1000,
            "close_ms": close_s * 1000,
            "edit_sum_s": sum(day.edit_s), "edit_p50_us": percentile(edit_us, 50),
            "edit_p99_us": percentile(edit_us, 99), "edit_max_us": max(edit_us),
            "edit_p999_us": percentile(edit_us, 99.9),
            "edit_by_kind_us": {kind: {"n": len(v), "p50": percentile(v, 50),
                                       "p99": percentile(v, 99)}
                                for kind, v in _grouped(day.edit_kind, edit_us).items()},
            "output_p50_us": percentile(output_us, 50),
            "output_p99_us": percentile(output_us, 99),
            "saves": len(self.save_s), "save_sum_s": sum(self.save_s),
            "save_p50_ms": percentile([s * 1000 for s in self.save_s], 50),
            "records": len(self.record_s), "record_sum_s": sum(self.record_s),
            "record_p50_ms": percentile([s * 1000 for s in self.record_s], 50),
            "record_max_ms": max([s * 1000 for s in self.record_s], default=float("nan")),
            "durable": durable,
        }


def _grouped(keys: Sequence[str], values: Sequence[float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for key, value in zip(keys, values, strict=True):
        out.setdefault(key, []).append(value)
    return out


def run_day(history_on: bool, seed: int, edits: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-day-"))
    try:
        return asyncio.run(DayRun(history_on, seed, edits, tmp / "store.sqlite").run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- part B: the history API on a server -----------------------------------------------------

def _hwm_bytes(server: Server) -> int:
    with open(f"/proc/{server.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def _api(server: Server, method: str, target: str, body: dict[str, Any] | None = None,
               expect: int = 200) -> tuple[Any, int]:
    status, data, size = await http(server, method, target, body)
    if status != expect:
        raise RuntimeError(f"{method} {target}: HTTP {status} {str(data)[:300]}")
    return data, size


async def timed(server: Server, method: str, targets: Sequence[str],
                bodies: Sequence[dict[str, Any] | None] | None = None,
                check: Callable[[Any], bool] | None = None) -> dict[str, Any]:
    """One request per target, one after another; client-side times (TCP connect
    included) and response sizes."""
    times, sizes, failed = [], [], 0
    for k, target in enumerate(targets):
        body = bodies[k] if bodies is not None else None
        t0 = time.perf_counter()
        data, size = await _api(server, method, target, body)
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(size)
        if check is not None and not check(data):
            failed += 1
        await asyncio.sleep(0.02)
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
            "max_ms": max(times), "bytes": summary(sizes)["median"], "n": len(times),
            "failed_checks": failed, "all_ms": times, "last": data}


async def warm_up(server: Server) -> None:
    """Every route once on a small notebook: first-use costs off the measured figures."""
    session = await put_session(server.http_base, server.token, "warmup.ipynb")
    peer = Peer("warmup")
    await peer.connect(room_url(server.ws_base, session["fileId"], session["sessionId"],
                                server.token))
    await wait_synced(peer, 10, timeout=60)
    doc = f"api/huddle/history/json:notebook:{session['fileId']}"
    w1, _ = await _api(server, "POST", doc, {"name": "w1"}, 201)
    peer.send(peer.edit(lambda: peer.source(0).insert(0, "# warm\n")))
    await asyncio.sleep(0.3)
    w2, _ = await _api(server, "POST", doc, {"name": "w2"}, 201)
    await _api(server, "GET", doc)
    await _api(server, "GET", f"{doc}/diff?from={w1['id']}&to={w2['id']}")
    await _api(server, "GET", f"{doc}/diff?from={w1['id']}&to=live")
    await _api(server, "GET", f"{doc}/versions/{w1['id']}")
    await _api(server, "POST", f"{doc}/versions/{w1['id']}/restore",
               {"cell_id": str(peer.cells[0]["id"])})
    await peer.close()
    await asyncio.sleep(0.3)


def change_tenth(peer: Peer) -> list[str]:
    """Every tenth cell edited by the peer (a number changed, a line added): their ids."""
    changed = []
    for index in range(5, len(peer.cells), 10):
        ycell = peer.cells[index]
        text = ycell["source"]
        source = str(text)   # ASCII: Python indices are byte offsets
        at = source.index("* 2") + 2

        def change(text: Any = text, at: int = at, end: int = len(source),
                   n: int = index) -> None:
            del text[at:at + 1]
            text.insert(at, "3")
            text.insert(end, f"\nassert x{n} > 0")
        peer.send(peer.edit(change))
        changed.append(str(ycell["id"]))
    return changed


async def until_live_changed(server: Server, doc: str, v1: str, cells: int) -> None:
    deadline = time.perf_counter() + 60
    while True:
        diff, _ = await _api(server, "GET", f"{doc}/diff?from={v1}&to=live")
        if diff["summary"]["changed"] >= cells:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the server has {diff['summary']} of the {cells} changes")
        await asyncio.sleep(0.1)


async def measure_server(server: Server, requests: int) -> dict[str, Any]:
    await warm_up(server)
    rss_warm = server.rss_bytes()
    session = await put_session(server.http_base, server.token, B_FIXTURE)
    doc = f"api/huddle/history/json:notebook:{session['fileId']}"
    peer = Peer("editor")
    await peer.connect(room_url(server.ws_base, session["fileId"], session["sessionId"],
                                server.token))
    try:
        await wait_synced(peer, B_CELLS)
        await quiesce([peer])
        rss_open = server.rss_bytes()
        t0 = time.perf_counter()
        v1, _ = await _api(server, "POST", doc, {"name": "v1"}, 201)
        name_ms = (time.perf_counter() - t0) * 1000
        changed = change_tenth(peer)
        await until_live_changed(server, doc, v1["id"], len(changed))
        v2, _ = await _api(server, "POST", doc, {"name": "v2"}, 201)
        await asyncio.sleep(0.5)
        result: dict[str, Any] = {"name_ms": name_ms, "v2_summary": v2["summary"],
                                  "changed_cells": len(changed)}
        rss_before = server.rss_bytes()
        result["store_before"] = _server_store(server)
        meter = CpuMeter(server)
        result["series"] = await _series(server, doc, v1["id"], v2["id"], changed, requests)
        result.update({f"series_{k}": v for k, v in meter.read().items()})
        await asyncio.sleep(0.5)   # the last restore's version committed
        result["store_after"] = _server_store(server)
        result["per_restore_version"] = _per_version(result["store_before"],
                                                     result["store_after"])
        result.update(rss_warm_mib=rss_warm / MIB, rss_open_mib=rss_open / MIB,
                      rss_before_mib=rss_before / MIB, rss_after_mib=server.rss_bytes() / MIB,
                      hwm_mib=_hwm_bytes(server) / MIB, cells_at_peer=len(peer.cells),
                      peer_error=repr(peer.error) if peer.error else None)
    finally:
        await peer.close()
    return result


def _server_store(server: Server) -> dict[str, Any]:
    """The server's store (its default path in the data dir), read while it runs."""
    assert server.tmp is not None
    path = server.tmp / "data" / "huddle" / "store.sqlite"
    sizes = store_sizes(path, detail=True)
    sizes.pop("kinds", None)
    sizes["file_bytes"] = _file_bytes(path)
    return sizes


def _per_version(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """What each version recorded during the series added to the store, on average."""
    added = after["versions"] - before["versions"]
    if added <= 0:
        return {}
    tables = ("versions", "version_refs", "version_blobs")
    out = {key: (after[key] - before[key]) / added for key in (
        "version_bytes", "manifest_bytes", "ref_bytes", "blob_bytes", "refs", "blobs")}
    for table in tables:
        out[f"disk_{table}"] = (after["disk_bytes_by_table"].get(table, 0)
                                - before["disk_bytes_by_table"].get(table, 0)) / added
    out["disk_all"] = sum(out[f"disk_{t}"] for t in tables)
    out["versions_added"] = added
    return out


async def _series(server: Server, doc: str, v1: str, v2: str, changed: list[str],
                  n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["list"] = await timed(server, "GET", [doc] * n)
    out["diff_v1_v2"] = await timed(server, "GET", [f"{doc}/diff?from={v1}&to={v2}"] * n,
                                    check=lambda d: d["summary"]["changed"] == len(changed))
    out["diff_v1_live"] = await timed(server, "GET", [f"{doc}/diff?from={v1}&to=live"] * n)
    out["preview_v1"] = await timed(server, "GET", [f"{doc}/versions/{v1}"] * n,
                                    check=lambda d: len(d["notebook"]["cells"]) == B_CELLS)
    targets = [f"{doc}/versions/{v1 if k % 2 == 0 else v2}/restore" for k in range(n)]
    bodies = [{"cell_id": changed[(k // 2) % len(changed)]} for k in range(n)]
    out["restore_cell"] = await timed(server, "POST", targets, bodies,
                                      check=lambda d: d["changed"] is True)
    out["list_after"] = await timed(server, "GET", [doc] * n)
    out["versions_before"] = len(out["list"]["last"]["versions"])
    out["versions_after"] = len(out["list_after"]["last"]["versions"])
    for series in out.values():
        if isinstance(series, dict):
            series.pop("last", None)
    return out


# --- part B, in this process: where a request's time goes ------------------------------------

async def api_steps(repeats: int = 9) -> dict[str, float]:
    """The steps the history routes take on the 1000-cell notebook with v1 and v2 (100
    cells apart), each timed alone in this process (no HTTP): median ms of ``repeats``."""
    from jupyter_huddle.collab.history import HistorySettings
    from jupyter_huddle.collab.history.content import split
    from jupyter_huddle.collab.history.diffing import diff_notebooks
    from jupyter_huddle.collab.history.restoring import restore_origin
    from jupyter_huddle.collab.ids import DocumentRoomId
    from jupyter_huddle.collab.rooms.manager import RoomManager
    from jupyter_huddle.collab.settings import CollabSettings
    from jupyter_huddle.collab.store import SQLiteStore
    from jupyter_huddle.collab.sync.connection import UserInfo

    tmp = Path(tempfile.mkdtemp(prefix="bench-history-steps-"))
    backend = MemoryBackend()
    backend.add("steps", B_FIXTURE, json.loads(cells_fixture(B_CELLS).read_text()))
    manager = RoomManager(CollabSettings(file_poll_interval_s=HELD_OFF), backend,
                          SQLiteStore(tmp / "store.sqlite"), HistorySettings())
    room_id = DocumentRoomId("json", "notebook", "steps")
    try:
        room = await manager.lease(room_id)
        recorder: Any = manager.history(room_id)
        document: Any = room.document
        origin = restore_origin(UserInfo("ann", "Ann"))
        v1 = await recorder.record("named", name="v1", force=True)
        changed = []
        with document.doc.transaction(origin=origin):
            for index in range(5, B_CELLS, 10):
                document.cells[index]["source"].insert(0, "# changed\n")
                changed.append(str(document.cells[index]["id"]))
        v2 = await recorder.record("named", name="v2", force=True)
        s1, s2 = await recorder.snapshot(v1.id), await recorder.snapshot(v2.id)
        n1, n2 = await recorder.content(s1), await recorder.content(s2)
        exported = document.export()
        steps: dict[str, Callable[[int], Any]] = {
            "export": lambda k: document.export(),
            "split": lambda k: split(exported),
            "live_is_latest": lambda k: recorder.live_is_latest(),
            "read_version": lambda k: recorder.content(s1),
            "diff_compute": lambda k: diff_notebooks(s1, n1, s2, n2),
            "apply_cell": lambda k: recorder.restorer.restore_cell(
                origin, n1 if k % 2 == 0 else n2, changed[0]),
            "record_one_changed": lambda k: _edit_then_record(recorder, document, k),
        }
        out = {}
        for name, step in steps.items():
            times = []
            for k in range(repeats):
                t0 = time.perf_counter()
                value = step(k)
                if asyncio.iscoroutine(value):
                    await value
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = summary(times)["median"]
        # a cell inserted (then deleted), with the recorder's observer and without it
        out["insert_cell"] = _insert_cell_ms(document, origin, repeats)
        document.cells.unobserve(recorder._subscription)
        out["insert_cell_no_recorder"] = _insert_cell_ms(document, origin, repeats)
        recorder._subscription = document.cells.observe_deep(recorder._on_events)
        return out
    finally:
        await manager.close_all()
        shutil.rmtree(tmp, ignore_errors=True)


def _insert_cell_ms(document: Any, origin: object, repeats: int) -> float:
    """Median ms of inserting a new cell in the middle of the notebook (one transaction);
    each is deleted again, untimed."""
    times = []
    for k in range(repeats):
        ycell = document.new_cell({"id": f"inserted-{k}", "cell_type": "code", "source": "x",
                                   "metadata": {}, "outputs": [], "execution_count": None})
        t0 = time.perf_counter()
        with document.doc.transaction(origin=origin):
            document.cells.insert(B_CELLS // 2, ycell)
        times.append((time.perf_counter() - t0) * 1000)
        with document.doc.transaction(origin=origin):
            del document.cells[B_CELLS // 2]
    return summary(times)["median"]


async def _edit_then_record(recorder: Any, document: Any, k: int) -> None:
    from jupyter_huddle.collab.origins import PersonOrigin

    with document.doc.transaction(origin=PersonOrigin("bob", "Bob", "edit", "bench")):
        document.cells[k]["source"].insert(0, "#")
    await recorder.record("auto")


def run_server(args: argparse.Namespace, fixtures: list[Path]) -> dict[str, Any]:
    busy = wait_quiet(3.0)
    server = Server("huddle", fixtures, nice=args.nice,
                    extra_args=["--HuddleApp.history_actions_per_minute=100000"])
    server.start()
    t = time.perf_counter()
    try:
        res = asyncio.run(measure_server(server, args.requests))
    except Exception as err:
        res = {"error": repr(err)[:500]}
    finally:
        log = server.log_problems()
        server.stop()
    res.update(elapsed_s=time.perf_counter() - t, machine_busy_before_pct=busy, log=log)
    return res


# --- driver ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of each part (A: both modes; B: a fresh server) (3)")
    parser.add_argument("--requests", type=int, default=30,
                        help="B: requests of each kind per run (default 30)")
    parser.add_argument("--edits", type=int, default=50_000,
                        help="A: edits in the simulated day, both people (default 50000)")
    parser.add_argument("--parts", nargs="+", choices=("day", "server"),
                        default=["day", "server"])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--nice", type=int, default=0, help="e.g. -10 (see bench/README.md)")
    parser.add_argument("--tag", help="save as history-TAG.json / .md")
    args = parser.parse_args(argv)
    command = "python -m bench.history " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.nice:
        os.nice(args.nice)
    info: dict[str, Any] = machine_info()
    _log(f"machine: {info['nproc']} cores, {info['cpu_model']}; {info['versions']['huddle']}")
    started = time.time()
    git_start = git_info()
    days: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    servers: list[dict[str, Any]] = []
    for run in range(args.runs) if "day" in args.parts else ():
        for mode in MODES if run % 2 == 0 else tuple(reversed(MODES)):
            busy = wait_quiet(3.0)
            t = time.perf_counter()
            res = run_day(mode == "on", args.seed, args.edits)
            res.update(run=run, elapsed_s=time.perf_counter() - t,
                       machine_busy_before_pct=busy)
            days[mode].append(res)
            _log(f"[history] day run {run + 1}/{args.runs} {mode}: " + brief_day(res))
    fixtures = [cells_fixture(B_CELLS), warmup_fixture()]
    for run in range(args.runs) if "server" in args.parts else ():
        res = run_server(args, fixtures)
        res["run"] = run
        servers.append(res)
        _log(f"[history] server run {run + 1}/{args.runs}: " + brief_server(res))
    steps: dict[str, Any] = {}
    if "server" in args.parts:
        wait_quiet(3.0)
        try:
            steps = asyncio.run(api_steps())
        except Exception as err:  # the runs above are kept, and the error shown
            steps = {"error": repr(err)[:500]}
        _log(f"[history] in-process steps (ms): {steps}")
    doc = {"scenario": "history", "command": command, "machine": info,
           "params": {"runs": args.runs, "requests": args.requests, "edits": args.edits,
                      "seed": args.seed, "nice": args.nice, "cells": CELLS,
                      "day_s": DAY_S, "version_every_s": VERSION_EVERY_S,
                      "b_cells": B_CELLS, "huddle_in_process": _huddle_source(),
                      "server_pythonpath": os.environ.get("BENCH_SERVER_PYTHONPATH")},
           "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
           "duration_s": time.time() - started, "day": days, "server": servers,
           "steps": steps,
           "git": {"start": git_start, "end": git_info()}}
    name = "history" + (f"-{args.tag}" if args.tag else "")
    md = markdown(doc)
    latest = save(name, doc, started, md)
    _log(f"[history] done in {doc['duration_s']:.0f} s -> {latest}")
    _log(md)
    return 0


def _huddle_source() -> str:
    import jupyter_huddle

    return str(Path(jupyter_huddle.__file__).parent)


def brief_day(res: dict[str, Any]) -> str:
    return (f"file {res['file_bytes'] / 1024:.0f} KiB, log {res['log_bytes'] / 1024:.0f} KiB, "
            f"versions {res['versions']} / {res['version_bytes'] / 1024:.0f} KiB "
            f"({res['blobs']} blobs), day {res['day_wall_s']:.1f} s, edit p50 "
            f"{res['edit_p50_us']:.0f} µs p99 {res['edit_p99_us']:.0f} µs, saves "
            f"{res['saves']}, busy before {res['machine_busy_before_pct']:.0f}%")


def brief_server(res: dict[str, Any]) -> str:
    if "error" in res:
        return f"error {res['error']}"
    s = res["series"]
    return " ".join(f"{k} p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms"
                    for k, v in s.items() if isinstance(v, dict)) + (
        f"; rss {res['rss_before_mib']:.0f} -> {res['rss_after_mib']:.0f} MiB; other cpu "
        f"{res['series_other_cpu_pct']:.0f}%")


# --- summary ---------------------------------------------------------------------------------

def _get(res: dict[str, Any], key: str) -> Any:
    value: Any = res
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _by_run(runs: Sequence[dict[str, Any]], key: str, scale: float = 1.0) -> dict[int, float]:
    out = {}
    for res in runs:
        value = _get(res, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[int(res["run"])] = value * scale
    return out


DAY_ROWS: list[tuple[str, str, float]] = [
    ("file_bytes", "SQLite file after the day (KiB; no VACUUM)", 1 / 1024),
    ("free_pages_bytes", "… of which free pages (KiB)", 1 / 1024),
    ("log_bytes", "update log payload (KiB)", 1 / 1024),
    ("log_rows", "… rows", 1.0),
    ("disk_bytes_by_table.updates", "… on disk, with its index (KiB)", 1 / 1024),
    ("version_bytes", "versions payload: manifests + info + rows + refs + blobs (KiB)",
     1 / 1024),
    ("manifest_bytes", "… manifests (KiB, zlib)", 1 / 1024),
    ("manifest_bytes_without_blame", "… … the same manifests without blame (KiB)", 1 / 1024),
    ("info_bytes", "… info JSON (KiB)", 1 / 1024),
    ("blob_bytes", "… blobs (KiB, zlib)", 1 / 1024),
    ("ref_bytes", "… refs (KiB)", 1 / 1024),
    ("disk_bytes_by_table.versions", "versions table on disk (KiB)", 1 / 1024),
    ("disk_bytes_by_table.version_blobs", "version_blobs on disk, with its index (KiB)",
     1 / 1024),
    ("disk_bytes_by_table.version_refs", "version_refs on disk, with its indexes (KiB)",
     1 / 1024),
    ("versions", "versions", 1.0),
    ("blobs", "blobs", 1.0),
    ("refs", "refs", 1.0),
    ("notebook_bytes", "the notebook's file at the end (KiB)", 1 / 1024),
    ("day_wall_s", "wall time of the day (s)", 1.0),
    ("day_cpu_s", "… process CPU (s)", 1.0),
    ("edit_sum_s", "… in edit transactions (s)", 1.0),
    ("save_sum_s", "… in saves (s)", 1.0),
    ("record_sum_s", "… in recording versions (s)", 1.0),
    ("edit_p50_us", "edit transaction, p50 (µs)", 1.0),
    ("edit_p99_us", "edit transaction, p99 (µs)", 1.0),
    ("edit_max_us", "edit transaction, max (µs)", 1.0),
    ("output_p50_us", "kernel output transaction, p50 (µs)", 1.0),
    ("save_p50_ms", "save, p50 (ms)", 1.0),
    ("record_p50_ms", "recording a version, p50 (ms)", 1.0),
    ("record_max_ms", "recording a version, max (ms)", 1.0),
    ("close_ms", "closing the room and the store (ms)", 1.0),
    ("machine_busy_before_pct", "other processes' CPU just before, % of a core (noise)", 1.0),
]

NO_RATIO = ("log_rows", "free_pages", "machine_busy", "versions", "blobs", "refs",
            "manifest", "info_bytes", "ref_bytes", "notebook_bytes", "record")


def _day_table(days: dict[str, list[dict[str, Any]]], edits: int) -> list[str]:
    lines = [f"| simulated day ({edits:,} edits by 2 people, 8 h) | history off | "
             "history on | on/off |", "|---|---:|---:|---:|"]
    for key, label, scale in DAY_ROWS:
        off, on = _by_run(days["off"], key, scale), _by_run(days["on"], key, scale)
        if not off and not on:
            continue
        ratio = paired_ratio([on[r] for r in sorted(on) if r in off],
                             [off[r] for r in sorted(on) if r in off])
        shown = (_fmt(ratio["median"]) if ratio["n"] and not key.startswith(NO_RATIO)
                 else "")
        lines.append(f"| {label} | {_cell(list(off.values())) if off else '—'} | "
                     f"{_cell(list(on.values())) if on else '—'} | {shown} |")
    return lines


SERVER_ROWS = [("list", "GET version list (v1, v2 and the earlier ones)"),
               ("diff_v1_v2", "GET diff v1 → v2"),
               ("diff_v1_live", "GET diff v1 → live"),
               ("preview_v1", "GET preview of v1 (the whole notebook)"),
               ("restore_cell", "POST restore one cell (alternately from v1 and v2)"),
               ("list_after", "GET version list after the restores")]


def _server_table(servers: list[dict[str, Any]], requests: int) -> list[str]:
    ok = [r for r in servers if "error" not in r]
    lines = [f"| request ({B_CELLS}-cell notebook; {requests} of each per run) | p50 (ms) | "
             "p99 (ms) | response (KiB) |", "|---|---:|---:|---:|"]
    for key, label in SERVER_ROWS:
        cells = [_cell(list(_by_run(ok, f"series.{key}.{f}", s).values()))
                 for f, s in (("p50_ms", 1.0), ("p99_ms", 1.0), ("bytes", 1 / 1024))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    name = _cell(list(_by_run(ok, "name_ms").values()))
    lines.append(f"| POST name (v1, once per run) | {name} | | |")
    lines += ["", "| server | value |", "|---|---:|"]
    for key, label in [("rss_warm_mib", "RSS after the warm-up (MiB)"),
                       ("rss_open_mib", "RSS with the 1000-cell room open (MiB)"),
                       ("rss_before_mib", "RSS before the series (v1, v2 named) (MiB)"),
                       ("rss_after_mib", "RSS after the series (MiB)"),
                       ("hwm_mib", "peak RSS, VmHWM (MiB)"),
                       ("series_server_cpu_pct", "server CPU during the series, % of a core"),
                       ("series_other_cpu_pct", "other processes' CPU during it (noise)"),
                       ("series.versions_before", "versions listed before the restores"),
                       ("series.versions_after", "versions listed after them")]:
        lines.append(f"| {label} | {_cell(list(_by_run(ok, key).values()))} |")
    lines += ["", "| each version recorded during the restores (1000 cells, one changed) | "
              "bytes |", "|---|---:|"]
    for key, label in [("version_bytes", "versions payload added"),
                       ("manifest_bytes", "… manifest (zlib)"),
                       ("ref_bytes", "… refs"), ("refs", "… ref rows"),
                       ("blob_bytes", "… new blobs (zlib)"),
                       ("disk_all", "on disk: versions + refs + blobs, with indexes"),
                       ("disk_versions", "… versions table"),
                       ("disk_version_refs", "… version_refs and its two indexes"),
                       ("disk_version_blobs", "… version_blobs")]:
        values = list(_by_run(ok, f"per_restore_version.{key}").values())
        lines.append(f"| {label} | {_cell(values)} |")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    p, m = doc["params"], doc["machine"]
    lines = [
        f"Command: `{doc['command']}` ({doc['started']}, {doc['duration_s'] / 60:.1f} min; "
        f"git {m['git'].get('commit', '?')}, uncommitted server files: "
        f"{m['git'].get('uncommitted_server_files', '?')}).",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_mib']} MiB, Python "
        f"{m['python']}; {m['versions']['huddle']}. Cells: `median [min–max]` over "
        f"{p['runs']} runs; on/off is the median of per-run ratios.",
        f"Huddle source: `{p.get('huddle_in_process')}` in this process; the servers': "
        + (f"`PYTHONPATH={p['server_pythonpath']}`" if p.get("server_pythonpath")
           else "the installed one"),
    ]
    days = doc["day"]
    if days["off"] or days["on"]:
        lines += ["", *_day_table(days, p["edits"])]
        lines += ["", _day_notes(days)]
    if doc["server"]:
        lines += ["", *_server_table(doc["server"], p["requests"]), "",
                  _server_notes(doc["server"])]
    if doc.get("steps"):
        lines += ["", *_steps_table(doc["steps"])]
    return "\n".join(lines)


STEP_ROWS = [
    ("export", "`document.export()` of the live notebook"),
    ("split", "`split()` of that export (JSON and a hash per cell)"),
    ("live_is_latest", "`live_is_latest()` (export + split + compare: every list GET)"),
    ("read_version", "read a version: `content(snapshot)` (1002 blobs read, inflated, parsed)"),
    ("diff_compute", "`diff_notebooks` v1 → v2, given both notebooks"),
    ("apply_cell", "`restore_cell` (find the cell, apply it, undo bookkeeping)"),
    ("record_one_changed", "`record()` of a version with one cell changed"),
    ("insert_cell", "a cell inserted (one transaction), the recorder watching"),
    ("insert_cell_no_recorder", "… the same without the recorder's observer"),
]


def _steps_table(steps: dict[str, Any]) -> list[str]:
    if "error" in steps:
        return [f"In-process steps failed: {steps['error']}"]
    lines = [f"| in this process, no HTTP ({B_CELLS} cells; median of 9) | ms |", "|---|---:|"]
    lines += [f"| {label} | {_fmt(steps[key])} |" for key, label in STEP_ROWS if key in steps]
    return lines


def _day_notes(days: dict[str, list[dict[str, Any]]]) -> str:
    on = days["on"][0] if days["on"] else {}
    any_run = (days["on"] or days["off"])[0]
    same = {r["final_cells_digest"] for mode in MODES for r in days[mode]}
    kinds = ", ".join(f"{k} {v}" for k, v in sorted((on.get("kinds") or {}).items()))
    hours = "; ".join(f"{s['hour']} h: log {s['log_bytes'] / 1024:.0f} KiB, versions "
                      f"{s['version_bytes'] / 1024:.0f} KiB ({s['versions']})"
                      for s in on.get("samples", []))
    durable = all(r["durable"] for mode in MODES for r in days[mode])
    return (f"Edits by kind: {any_run['edit_kinds']}; kernel output replacements: "
            f"{any_run['outputs']}; saves: {any_run['saves']}; cells at the end: "
            f"{any_run['cells_at_end']}. The final notebook was the same in every run and "
            f"mode: {len(same) == 1}; the store stayed durable: {durable}. Versions by kind "
            f"(history on, first run): {kinds}. Hourly payload (history on, first run): "
            f"{hours}.")


def _server_notes(servers: list[dict[str, Any]]) -> str:
    errors = [r["error"] for r in servers if "error" in r]
    ok = [r for r in servers if "error" not in r]
    failed = sum(int(_get(r, f"series.{k}.failed_checks") or 0) for r in ok
                 for k, _ in SERVER_ROWS)
    logs = sum(int(r["log"].get("errors", 0)) + int(r["log"].get("tracebacks", 0))
               for r in servers)
    summaries = {json.dumps(r["v2_summary"], sort_keys=True) for r in ok}
    return (f"v2's summary against v1: {sorted(summaries)}. Failed runs: {len(errors)}"
            + (f" ({errors[0]})" if errors else "")
            + f"; responses that failed their check (diff not 100 changed cells, preview "
            f"not {B_CELLS} cells, restore not changing anything): {failed}; server-log "
            f"errors/tracebacks: {logs}.")


if __name__ == "__main__":
    raise SystemExit(main())
