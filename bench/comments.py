"""Review threads on Huddle: opening a notebook with 1 000 threads, and comment latency.

    python -m bench.comments [--runs 5] [--posts 100] [--gets 5] [--nice -10]

Huddle only (the reference has no review threads). Fixtures, generated into a temporary
directory from a seed (same bytes every time): a 200-cell notebook (code and Markdown cells
of 5-15 lines, about a third of them with accents, CJK or emoji) saved with no threads
(``none``), and the same cells with 1 000 threads in ``metadata.huddle.comments``
(``threads``), built with the real model (``Comments.create`` on text anchors spread over
every cell, 1-4 messages each via ``reply``, some resolved, some with a suggestion, then
``NotebookDocument.export``).

Each run measures both fixtures, one after the other (order flipped every run), each on a
fresh server (``servers.Server``) that first opens and closes a small warm-up notebook, and
GETs / POSTs a thread on it. For each fixture:

- ``open_ms``: cold open by the first client: from just before the session PUT to the
  moment the socket is read with the frame after which the client's document has all 200
  cells (and, for ``threads``, all 1 000 threads in its ``comments`` root); the PUT alone
  and the time until that frame is applied are kept too.
- ``rss_room_mib``: the server's RSS 1 s after that open minus its RSS just before the PUT
  (the room's memory); also after the GETs.
- ``get_ms``: ``GET /api/huddle/comments/{document_id}`` (lists every thread, resolving
  each anchor to where its text is now), from just before the TCP connect to the body
  read; median of ``--gets`` GETs one after another; with the response size and how many
  anchors came back attached to their quoted text.
- ``join_ms``: a second client joining the warm room: connect → the same completeness.
- POST → visible: with 1 watching client in the room (the opener), then with 20,
  ``--posts`` times one after another: ``POST /api/huddle/comments/{document_id}`` with a
  new text anchor, latency from just before the request is written (its TCP connect
  included, as in execution.py) to the moment a watcher's socket is read with the update
  that puts the new thread id into its ``comments`` root; then ``POST .../{thread_id}/
  messages`` replying to that thread, latency to the update that gives the thread its
  second message. p50/p95/p99/max over every (POST, watcher) pair of the run, and POST →
  201. The POSTs add threads: the ``none`` room holds 100 then 200 threads while this runs,
  the ``threads`` room 1 100 then 1 200. A save of the notebook (at most every 5 s while
  threads keep changing) writes every thread into the file, so it falls into the series.

Also, once, in this process (no server): ``NotebookDocument.load`` of each fixture,
``Comments.threads()`` and ``export()`` (what a save serialises), median of 3.

The threads/none ratios are medians of the per-run ratios (the two fixtures of a run are
measured back to back). Results: ``bench/results/comments.json`` (and ``history/``); the
Markdown summary is printed and written to ``bench/results/comments.md`` for
docs/PERFORMANCE.md (``python -m bench report`` does not read it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from pycrdt import Map

from .proto import Peer, put_session, quiesce, room_url
from .saving import save
from .servers import CpuMeter, Server, git_info, machine_info, wait_quiet
from .stats import cell as _cell
from .stats import fmt as _fmt
from .stats import paired_ratio, percentile, summary

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024
SEED = 20240611
CELLS = 200
THREADS = 1000
WATCHERS = (1, 20)
FIXTURES = ("none", "threads")
WARMUP = "warmup.ipynb"
WARMUP_CELLS = 10


def _log(msg: str) -> None:
    print(msg, flush=True)


# --- fixtures --------------------------------------------------------------------------------

NAMES = ["data", "frame", "model", "result", "values", "counts", "scores", "rows", "batch",
         "config", "summary", "weights", "sample", "errors", "labels", "totals"]
FUNCS = ["load", "clean", "train", "evaluate", "normalise", "plot", "merge", "aggregate",
         "split", "score", "export", "validate"]
WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "on", "by",
         "this", "we", "from", "are", "be", "at", "which", "results", "model", "data", "each",
         "value", "table", "column", "figure", "shows", "first", "second", "average",
         "notebook", "sample", "error", "rate", "per", "cent", "training", "validation",
         "between", "higher", "lower", "expected", "measured", "because", "however",
         "therefore", "step", "cell", "output", "run", "again"]
ACCENTED = ["données", "résumé", "expérience", "très", "équipe", "à vérifier", "über",
            "Größe", "niño", "façade", "naïve", "crème brûlée", "Zürich", "São Paulo",
            "déjà vu", "coöperate", "smörgåsbord"]
CJK = ["日本語", "データ", "结果", "模型", "검증", "平均値"]
EMOJI = ["🚀", "✨", "📊", "✅", "⚠️", "🔥", "🐍", "👍", "🎉", "🧪"]


def _prose(rng: random.Random, words: int, fancy: bool) -> str:
    out = []
    for _ in range(words):
        roll = rng.random()
        if fancy and roll < 0.12:
            out.append(rng.choice(ACCENTED))
        elif fancy and roll < 0.16:
            out.append(rng.choice(CJK))
        elif fancy and roll < 0.20:
            out.append(rng.choice(EMOJI))
        else:
            out.append(rng.choice(WORDS))
    text = " ".join(out)
    return text[:1].upper() + text[1:] + "."


def _code_cell(rng: random.Random, i: int, fancy: bool) -> str:
    name, func = rng.choice(NAMES), rng.choice(FUNCS)
    col = rng.choice(NAMES)
    makers: list[Callable[[], str]] = [
        lambda: f"{name}_{i} = pd.read_csv('data/{rng.choice(NAMES)}_{rng.randint(1, 99)}.csv')",
        lambda: f"{name}_{i} = {name}_{i}[{name}_{i}['{col}'] > {rng.randint(0, 500)}]",
        lambda: f"print({name}_{i}.describe())",
        lambda: f"{col} = np.linspace(0, {rng.randint(2, 100)}, {rng.randint(10, 1000)})",
        lambda: f"for k, row in enumerate({name}_{i}.itertuples()):",
        lambda: f"    total += row.{col} * {rng.random():.3f}",
        lambda: f"assert len({name}_{i}) == {rng.randint(1, 10000)}, 'unexpected row count'",
        lambda: f"{col}_mean = {name}_{i}['{col}'].mean()",
        lambda: f"fig, ax = plt.subplots(figsize=({rng.randint(4, 12)}, {rng.randint(3, 8)}))",
        lambda: f"ax.plot({col}, np.sin({col}) * {rng.randint(1, 9)}, label='{col}')",
        lambda: f"# {_prose(rng, rng.randint(4, 12), fancy)}",
    ]
    if fancy:
        makers += [
            lambda: f"# {rng.choice(EMOJI)} {_prose(rng, rng.randint(4, 10), True)}",
            lambda: f"ax.set_title('{rng.choice(ACCENTED)} — {rng.choice(CJK)} "
                    f"{rng.choice(EMOJI)}')",
            lambda: f"print(f\"{rng.choice(ACCENTED)}: {{{col}_mean:.2f}} {rng.choice(EMOJI)}\")",
        ]
    lines = [f"def {func}_{i}({name}, factor={rng.randint(1, 9)}):",
             f'    """{_prose(rng, rng.randint(5, 10), fancy)}"""']
    lines += [f"    {rng.choice(makers)()}".rstrip() for _ in range(rng.randint(1, 4))]
    lines += [f"    return {name} * factor", ""]
    lines += [rng.choice(makers)() for _ in range(rng.randint(1, 7))]
    return "\n".join(lines)


def _markdown_cell(rng: random.Random, i: int, fancy: bool) -> str:
    lines = [f"## {i}. {_prose(rng, rng.randint(2, 6), fancy).rstrip('.')}", ""]
    for _ in range(rng.randint(1, 3)):
        lines.append(_prose(rng, rng.randint(15, 40), fancy))
        lines.append("")
    lines += [f"- {_prose(rng, rng.randint(4, 12), fancy)}" for _ in range(rng.randint(2, 6))]
    return "\n".join(lines)


def base_notebook(rng: random.Random) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = []
    for i in range(CELLS):
        fancy = rng.random() < 0.33
        if rng.random() < 0.6:
            cells.append(new_code_cell(source=_code_cell(rng, i, fancy)))
        else:
            cells.append(new_markdown_cell(source=_markdown_cell(rng, i, fancy)))
        cells[-1]["id"] = f"cmt-{i:05d}"
    nb.cells = cells
    return nb  # type: ignore[no-any-return]


@contextmanager
def _deterministic_ids(rng: random.Random) -> Iterator[None]:
    """Thread / message ids and timestamps from the seed (the model uses uuid4 and time)."""
    from jupyter_huddle.collab.review import threads as model

    clock = [1_718_000_000.0]

    def now() -> float:
        clock[0] += rng.uniform(1, 600)
        return clock[0]

    ids = SimpleNamespace(uuid4=lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    with mock.patch.object(model, "uuid", ids), \
            mock.patch.object(model, "time", SimpleNamespace(time=now)):
        yield


def _random_range(rng: random.Random, text: str) -> tuple[int, int]:
    """A Python-index range of 1-40 characters inside one line of ``text``."""
    lines, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((pos, line))
        pos += len(line) + 1
    start_of_line, line = rng.choice(lines)
    first = rng.randrange(len(line))
    last = min(len(line), first + rng.randint(1, 40))
    return start_of_line + first, start_of_line + last


def build_notebooks(seed: int = SEED, threads: int = THREADS) -> tuple[dict[str, Any],
                                                                        dict[str, Any]]:
    """(notebook without threads, the same notebook with ``threads`` threads) as JSON."""
    from jupyter_huddle.collab.documents.notebook import NotebookDocument
    from jupyter_huddle.collab.files.binding import file_content
    from jupyter_huddle.collab.origins import ServerOrigin
    from jupyter_huddle.collab.review import AnchorRequest, Comments, index_to_utf16
    from jupyter_huddle.collab.settings import CollabSettings
    from jupyter_huddle.collab.sync.connection import UserInfo

    rng = random.Random(seed)
    nb = base_notebook(rng)
    doc = NotebookDocument()
    doc.load(nbformat.from_dict(nb), ServerOrigin.LOAD)
    users = [UserInfo("ann", "Ann", "#1f77b4"), UserInfo("bob", "Bob", "#ff7f0e"),
             UserInfo("chloe", "Chloé Dupré", "#2ca02c"), UserInfo("dmitri", "Dmitri", None)]
    known = {u.username: u.username for u in users}
    comments = Comments(doc)
    sources = [str(c["source"]) for c in nb.cells]
    with _deterministic_ids(rng):
        for k in range(threads):
            index = k % CELLS if k < CELLS else rng.randrange(CELLS)  # every cell has some
            text = sources[index]
            first, last = _random_range(rng, text)
            start, end = index_to_utf16(text, first), index_to_utf16(text, last)
            body = _prose(rng, rng.randint(3, 30), rng.random() < 0.3)
            if rng.random() < 0.1:
                body += f" @{rng.choice(users).username}"
            suggestion = None
            if rng.random() < 0.1:
                suggestion = text[first:last].upper() or "x"
            author = rng.choice(users)
            anchor = AnchorRequest(str(nb.cells[index]["id"]), "text", start, end)
            thread = comments.create(author, anchor, body, known, suggestion)
            for _ in range(rng.randint(0, 3)):
                comments.reply(thread["id"], rng.choice(users),
                               _prose(rng, rng.randint(2, 25), rng.random() < 0.3), known)
            if rng.random() < 0.3:
                comments.set_status(thread["id"], rng.choice(users), "resolved")
    with_threads = file_content(doc, CollabSettings())
    assert len(with_threads["metadata"]["huddle"]["comments"]) == threads
    without = json.loads(json.dumps(with_threads))
    del without["metadata"]["huddle"]
    return without, with_threads


def write_fixtures(directory: Path, seed: int = SEED) -> dict[str, Path]:
    without, with_threads = build_notebooks(seed)
    paths = {}
    for name, content in (("none", without), ("threads", with_threads)):
        path = directory / f"comments-{name}.ipynb"
        nbformat.write(nbformat.from_dict(content), str(path))
        paths[name] = path
    warm = new_notebook()
    warm.cells = [new_code_cell(source=f"x{i} = {i}\nprint('é', x{i})")
                  for i in range(WARMUP_CELLS)]
    for i, cell in enumerate(warm.cells):
        cell["id"] = f"warm-{i}"
    nbformat.write(warm, str(directory / WARMUP))
    paths["warmup"] = directory / WARMUP
    return paths


# --- in-process model (no server): where a room's time goes --------------------------------

def model_timings(paths: dict[str, Path], repeats: int = 3) -> dict[str, Any]:
    """Loading each fixture as the server does (``load_file``), then ``Comments.threads()``
    (what the GET lists) and ``file_content`` (what a save writes), in this process; the
    median of ``repeats``."""
    from jupyter_huddle.collab.documents.notebook import NotebookDocument
    from jupyter_huddle.collab.files.binding import file_content, load_file
    from jupyter_huddle.collab.review import Comments
    from jupyter_huddle.collab.settings import CollabSettings

    settings = CollabSettings()
    out: dict[str, Any] = {}
    for name in FIXTURES:
        content = json.loads(paths[name].read_text())
        rows: dict[str, list[float]] = {"load_ms": [], "threads_ms": [], "export_ms": []}
        for _ in range(repeats):
            doc = NotebookDocument()
            t0 = time.perf_counter()
            load_file(doc, content)
            t1 = time.perf_counter()
            Comments(doc).threads()
            t2 = time.perf_counter()
            file_content(doc, settings)
            t3 = time.perf_counter()
            rows["load_ms"].append((t1 - t0) * 1000)
            rows["threads_ms"].append((t2 - t1) * 1000)
            rows["export_ms"].append((t3 - t2) * 1000)
        out[name] = {k: summary(v)["median"] for k, v in rows.items()}
    return out


# --- HTTP (raw asyncio, as execution.http; also returns the body's size) ---------------------

async def http(server: Server, method: str, target: str, body: dict[str, Any] | None = None
               ) -> tuple[int, Any, int]:
    """(status, parsed JSON body or None, body bytes)."""
    url = urlsplit(server.http_base)
    raw = json.dumps(body).encode() if body is not None else b""
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            f"{method} {url.path}{target} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: token {server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n".encode() + raw)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = (await reader.readexactly(length) if length is not None
                   else await reader.read())
    finally:
        writer.close()
    return status, (json.loads(payload) if payload.strip() else None), len(payload)


# --- the client ------------------------------------------------------------------------------

class CommentPeer(Peer):
    """A peer that notes when its document is complete: all cells and all threads."""

    def __init__(self, name: str, cells: int, threads: int):
        super().__init__(name)
        self.comments: Map[Any] = self.doc.get("comments", type=Map)
        self.expect = (cells, threads)
        self.complete = asyncio.Event()
        self.t_complete_read = 0.0     # the socket read of the frame that completed it
        self.t_complete_applied = 0.0  # that frame applied

    def _on_message(self, frame: bytes, now: float) -> None:
        super()._on_message(frame, now)
        if not self.complete.is_set() and self.synced.is_set() and \
                len(self.cells) >= self.expect[0] and len(self.comments) >= self.expect[1]:
            self.t_complete_read, self.t_complete_applied = now, time.perf_counter()
            self.complete.set()

    async def wait_complete(self, timeout: float = 180.0) -> None:
        waiter: asyncio.Future[Any] = asyncio.ensure_future(self.complete.wait())
        closed: asyncio.Future[Any] = self.closed
        done, _ = await asyncio.wait({waiter, closed}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            raise TimeoutError(f"{self.name}: document incomplete after {timeout} s "
                               f"({len(self.cells)} cells, {len(self.comments)} threads; "
                               f"{self.error!r})")


async def connect_peer(server: Server, session: dict[str, Any], name: str, threads: int,
                       cells: int = CELLS) -> CommentPeer:
    peer = CommentPeer(name, cells, threads)
    await peer.connect(room_url(server.ws_base, session["fileId"], session["sessionId"],
                                server.token))
    return peer


async def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


def random_anchor(rng: random.Random, peer: Peer) -> dict[str, Any]:
    """A text anchor (UTF-16 offsets) on a random line of a random cell, as a browser
    would send it."""
    from jupyter_huddle.collab.review import index_to_utf16

    index = rng.randrange(len(peer.cells))
    text = str(peer.source(index))
    first, last = _random_range(rng, text)
    return {"cell_id": str(peer.cells[index]["id"]), "kind": "text",
            "start": index_to_utf16(text, first), "end": index_to_utf16(text, last)}


# --- measurements ----------------------------------------------------------------------------

async def warm_up(server: Server) -> None:
    """First-use costs (imports, handlers, the first room) off the measured figures: open
    a small notebook, list, create and reply to a thread, close."""
    session = await put_session(server.http_base, server.token, WARMUP)
    peer = await connect_peer(server, session, "warmup", 0, WARMUP_CELLS)
    await peer.wait_complete(60)
    document = f"api/huddle/comments/json:notebook:{session['fileId']}"
    anchor = {"cell_id": "warm-0", "kind": "text", "start": 0, "end": 2}
    status, thread, _ = await http(server, "POST", document, {"anchor": anchor, "body": "hi"})
    if status != 201:
        raise RuntimeError(f"warm-up POST: HTTP {status} {thread}")
    await http(server, "POST", f"{document}/{thread['id']}/messages", {"body": "ok"})
    await http(server, "GET", document)
    await wait_for(lambda: len(peer.comments) == 1, 10, "warm-up thread not seen")
    await peer.close()
    await asyncio.sleep(0.3)


async def measure_open(server: Server, name: str, threads: int, gets: int
                       ) -> tuple[dict[str, Any], dict[str, Any], CommentPeer]:
    """Cold open, RSS, GET listing, second client's join. Returns the figures, the session
    and the opener (still connected)."""
    path = f"comments-{name}.ipynb"
    meter = CpuMeter(server)
    rss0 = server.rss_bytes()
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    session = await put_session(server.http_base, server.token, path)
    t_put = time.perf_counter()
    opener = await connect_peer(server, session, "opener", threads)
    await opener.wait_complete()
    open_cpu = server.cpu_seconds() - cpu0
    noise = meter.read()
    await asyncio.sleep(1.0)  # let background work (store, save) settle
    rss1 = server.rss_bytes()
    document = f"api/huddle/comments/json:notebook:{session['fileId']}"
    get_ms, listing, size = [], None, 0
    for _ in range(gets):
        t = time.perf_counter()
        status, listing, size = await http(server, "GET", document)
        get_ms.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {document}: HTTP {status} {listing}")
        await asyncio.sleep(0.05)
    assert listing is not None
    listed = listing["threads"]
    attached = sum(1 for t in listed if t["position"].get("state") == "attached"
                   and t["position"].get("text") == t["anchor"].get("quote"))
    rss2 = server.rss_bytes()
    second = await connect_peer(server, session, "second", threads)
    await second.wait_complete()
    join_ms = (second.t_complete_read - second.t_connect) * 1000
    await second.close()
    result = {
        "open_ms": (opener.t_complete_read - t0) * 1000,
        "open_applied_ms": (opener.t_complete_applied - t0) * 1000,
        "put_ms": (t_put - t0) * 1000,
        "open_server_cpu_s": open_cpu,
        "open_other_cpu_pct": noise["other_cpu_pct"],
        "doc_bytes_received": opener.bytes_in,
        "rss_before_mib": rss0 / MIB, "rss_open_mib": rss1 / MIB,
        "rss_room_mib": (rss1 - rss0) / MIB, "rss_after_gets_mib": rss2 / MIB,
        "get_ms": summary(get_ms)["median"], "get_ms_all": get_ms,
        "get_bytes": size, "listed": len(listed), "attached_with_quote": attached,
        "join_ms": join_ms,
        "threads_at_client": len(opener.comments), "cells_at_client": len(opener.cells),
    }
    return result, session, opener


def _more_threads(base: list[int]) -> Callable[[int, CommentPeer], bool]:
    return lambda i, w: len(w.comments) > base[i]


def _replied(messages: list[Any]) -> Callable[[int, CommentPeer], bool]:
    return lambda i, w: len(messages[i]) >= 2


async def post_series(server: Server, session: dict[str, Any], poster: Peer,
                      watchers: Sequence[CommentPeer], posts: int, rng: random.Random
                      ) -> dict[str, Any]:
    """``posts`` new threads, each followed by a reply; per (POST, watcher) latency."""
    document = f"api/huddle/comments/json:notebook:{session['fileId']}"
    created: list[list[float]] = []   # per POST, per watcher (ms)
    replied: list[list[float]] = []
    created_201: list[float] = []
    replied_201: list[float] = []
    seen: list[float | None] = [None] * len(watchers)

    def arm(check: Callable[[int, CommentPeer], bool]) -> None:
        for i, w in enumerate(watchers):
            seen[i] = None

            def on_update(now: float, i: int = i, w: CommentPeer = w) -> None:
                if seen[i] is None and check(i, w):
                    seen[i] = now
            w.on_update = on_update

    meter = CpuMeter(server)
    for k in range(posts):
        base = [len(w.comments) for w in watchers]
        arm(_more_threads(base))
        body = {"anchor": random_anchor(rng, poster), "body": f"Benchmark thread {k} — é 🚀"}
        t0 = time.perf_counter()
        status, thread, _ = await http(server, "POST", document, body)
        created_201.append((time.perf_counter() - t0) * 1000)
        if status != 201:
            raise RuntimeError(f"POST thread: HTTP {status} {thread}")
        await wait_for(lambda: all(s is not None for s in seen), 30, "thread not seen")
        tid = thread["id"]
        if not all(w.comments.get(tid) is not None for w in watchers):
            raise RuntimeError("a watcher saw another thread than the one created")
        created.append([(s - t0) * 1000 for s in seen if s is not None])
        await asyncio.sleep(rng.uniform(0.02, 0.05))
        messages = [w.comments[tid]["messages"] for w in watchers]
        arm(_replied(messages))
        t0 = time.perf_counter()
        status, message, _ = await http(server, "POST", f"{document}/{tid}/messages",
                                        {"body": f"Reply {k}: ça marche ✅"})
        replied_201.append((time.perf_counter() - t0) * 1000)
        if status != 201:
            raise RuntimeError(f"POST reply: HTTP {status} {message}")
        await wait_for(lambda: all(s is not None for s in seen), 30, "reply not seen")
        replied.append([(s - t0) * 1000 for s in seen if s is not None])
        await asyncio.sleep(rng.uniform(0.02, 0.05))
    cpu = meter.read()
    for w in watchers:
        w.on_update = None
    result: dict[str, Any] = {"watchers": len(watchers), "posts": posts}
    for what, rows, acks in (("create", created, created_201), ("reply", replied, replied_201)):
        flat = [v for row in rows for v in row]
        result.update({
            f"{what}_p50_ms": percentile(flat, 50), f"{what}_p95_ms": percentile(flat, 95),
            f"{what}_p99_ms": percentile(flat, 99), f"{what}_max_ms": max(flat),
            f"{what}_last_watcher_p50_ms": percentile([max(r) for r in rows], 50),
            f"{what}_201_p50_ms": percentile(acks, 50), f"{what}_201_max_ms": max(acks),
            f"{what}_samples": len(flat)})
    result["threads_after"] = len(watchers[0].comments)
    return {**result, **cpu}


async def measure_fixture(server: Server, name: str, args: argparse.Namespace, seed: int
                          ) -> dict[str, Any]:
    threads = THREADS if name == "threads" else 0
    rng = random.Random(seed)
    await warm_up(server)
    result, session, opener = await measure_open(server, name, threads, args.gets)
    peers: list[CommentPeer] = [opener]
    try:
        for count in WATCHERS:
            while len(peers) < count:
                batch = [await connect_peer(server, session, f"w{len(peers) + i}", threads)
                         for i in range(min(10, count - len(peers)))]
                await asyncio.gather(*(p.wait_complete() for p in batch))
                peers += batch
            await quiesce(peers)
            result[f"posts_{count}"] = await post_series(server, session, opener,
                                                          peers[:count], args.posts, rng)
        result["client_errors"] = sum(p.error is not None for p in peers)
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
    return result


# --- driver ----------------------------------------------------------------------------------

def flat(res: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in res.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def brief(res: dict[str, Any]) -> str:
    keys = ("open_ms", "rss_room_mib", "get_ms", "join_ms", "listed", "attached_with_quote",
            "posts_1.create_p50_ms", "posts_1.create_p99_ms", "posts_1.reply_p50_ms",
            "posts_20.create_p50_ms", "posts_20.create_p99_ms", "posts_20.reply_p50_ms",
            "open_other_cpu_pct", "error")
    values = flat(res)
    return " ".join(f"{k}={values[k]:.4g}" if isinstance(values[k], float) else f"{k}={values[k]}"
                    for k in keys if k in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.comments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5,
                        help="runs; each opens both fixtures on fresh servers (default 5)")
    parser.add_argument("--posts", type=int, default=100,
                        help="threads POSTed (each then replied to) per series (default 100)")
    parser.add_argument("--gets", type=int, default=5,
                        help="GETs of the thread listing per fixture and run (default 5)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--nice", type=int, default=0, help="e.g. -10 (see bench/README.md)")
    parser.add_argument("--tag", help="save as comments-TAG.json / .md")
    args = parser.parse_args(argv)
    command = "python -m bench.comments " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.nice:
        os.nice(args.nice)
    info: dict[str, Any] = machine_info()
    _log(f"machine: {info['nproc']} cores, {info['cpu_model']}; {info['versions']['huddle']}")
    started = time.time()
    git_start = git_info()
    tmp = Path(tempfile.mkdtemp(prefix="bench-comments-"))
    try:
        t = time.perf_counter()
        paths = write_fixtures(tmp, args.seed)
        sizes = {name: paths[name].stat().st_size for name in FIXTURES}
        _log(f"[comments] fixtures in {time.perf_counter() - t:.1f} s: "
             + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
        wait_quiet(3.0)
        model = model_timings(paths)
        _log(f"[comments] in-process model: {model}")
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in FIXTURES}
        for run in range(args.runs):
            order = FIXTURES if run % 2 == 0 else tuple(reversed(FIXTURES))
            for name in order:
                busy = wait_quiet(3.0)
                server = Server("huddle", [paths["warmup"], paths[name]], nice=args.nice)
                server.start()
                t = time.perf_counter()
                try:
                    res = asyncio.run(measure_fixture(server, name, args,
                                                      args.seed + 1000 * run))
                except Exception as err:
                    res = {"error": repr(err)[:500]}
                finally:
                    res_log = server.log_problems()
                    server.stop()
                res.update(run=run, elapsed_s=time.perf_counter() - t,
                           machine_busy_before_pct=busy, log=res_log)
                results[name].append(res)
                _log(f"[comments] run {run + 1}/{args.runs} {name}: {brief(res)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc = {"scenario": "comments", "command": command, "machine": info,
           "params": {"runs": args.runs, "posts": args.posts, "gets": args.gets,
                      "seed": args.seed, "nice": args.nice, "cells": CELLS,
                      "threads": THREADS, "watchers": list(WATCHERS),
                      "fixture_bytes": sizes},
           "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
           "duration_s": time.time() - started, "model": model, "fixtures": results,
           "git": {"start": git_start, "end": git_info()}}
    name = "comments" + (f"-{args.tag}" if args.tag else "")
    md = markdown(doc)
    latest = save(name, doc, started, md)
    _log(f"[comments] done in {doc['duration_s']:.0f} s -> {latest}")
    _log(md)
    return 0


# --- summary ---------------------------------------------------------------------------------

def _values(runs: Sequence[dict[str, Any]], key: str, scale: float = 1.0
            ) -> dict[int, float]:
    out = {}
    for res in runs:
        value = flat(res).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[int(res["run"])] = value * scale
    return out


def markdown(doc: dict[str, Any]) -> str:
    fx = doc["fixtures"]
    p = doc["params"]
    m = doc["machine"]
    lines = [
        f"Command: `{doc['command']}` ({doc['started']}, {doc['duration_s'] / 60:.1f} min; "
        f"git {m['git'].get('commit', '?')}, uncommitted server files: "
        f"{m['git'].get('uncommitted_server_files', '?')}).",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_mib']} MiB, Python "
        f"{m['python']}; {m['versions']['huddle']}.",
        f"Fixtures: {p['cells']} cells (code and Markdown, 5-15 lines, a third with accents, "
        f"CJK or emoji), `none`: no threads ({p['fixture_bytes']['none'] / 1024:.0f} KiB), "
        f"`threads`: {p['threads']} threads on text anchors, 1-4 messages each "
        f"({p['fixture_bytes']['threads'] / 1024:.0f} KiB). Each fixture on a fresh server; "
        f"runs: {p['runs']}; cells are `median [min–max]` over the runs; the ratio is the "
        "median of per-run threads/none ratios.",
        "",
        "| | none | 1 000 threads | threads/none |",
        "|---|---:|---:|---:|",
    ]
    rows = [
        ("open_ms", "cold open: PUT → all cells (and threads) at the client (ms)", 1.0),
        ("put_ms", "of which the session PUT (ms)", 1.0),
        ("open_applied_ms", "… and applied by the client (ms)", 1.0),
        ("open_server_cpu_s", "server CPU during the open (s)", 1.0),
        ("doc_bytes_received", "bytes received by the opener (KiB)", 1 / 1024),
        ("rss_room_mib", "server RSS added by the open room (MiB)", 1.0),
        ("rss_open_mib", "server RSS with the room open (MiB)", 1.0),
        ("get_ms", f"GET thread listing, median of {p['gets']} (ms)", 1.0),
        ("get_bytes", "GET response (KiB)", 1 / 1024),  # no ratio: ~40 bytes for none
        ("join_ms", "2nd client joins the warm room: connect → complete (ms)", 1.0),
    ]
    for w in p["watchers"]:
        rows += [
            (f"posts_{w}.create_p50_ms", f"{w} watcher(s): new thread POST → visible, p50 (ms)",
             1.0),
            (f"posts_{w}.create_p95_ms", "… p95 (ms)", 1.0),
            (f"posts_{w}.create_p99_ms", "… p99 (ms)", 1.0),
            (f"posts_{w}.create_max_ms", "… max (ms)", 1.0),
            (f"posts_{w}.create_201_p50_ms", "… POST → 201, p50 (ms)", 1.0),
            (f"posts_{w}.reply_p50_ms", f"{w} watcher(s): reply POST → visible, p50 (ms)",
             1.0),
            (f"posts_{w}.reply_p95_ms", "… p95 (ms)", 1.0),
            (f"posts_{w}.reply_p99_ms", "… p99 (ms)", 1.0),
            (f"posts_{w}.reply_max_ms", "… max (ms)", 1.0),
            (f"posts_{w}.server_cpu_pct", f"{w} watcher(s): server CPU % during the POSTs",
             1.0),
            (f"posts_{w}.other_cpu_pct", "… other processes' CPU % (noise)", 1.0),
        ]
    rows.append(("open_other_cpu_pct", "other processes' CPU % during the open (noise)", 1.0))
    for key, label, scale in rows:
        none, threads = _values(fx["none"], key, scale), _values(fx["threads"], key, scale)
        ratio = paired_ratio([threads[r] for r in sorted(threads) if r in none],
                             [none[r] for r in sorted(threads) if r in none])
        shown = _fmt(ratio["median"]) if ratio["n"] else "n/a"
        if key == "get_bytes" or "other_cpu" in key:
            shown = ""
        lines.append(f"| {label} | {_cell(list(none.values()))} | "
                     f"{_cell(list(threads.values()))} | {shown} |")
    listed = _values(fx["threads"], "listed")
    ok = _values(fx["threads"], "attached_with_quote")
    errors = [r.get("error") for name in ("none", "threads") for r in fx[name] if "error" in r]
    logs = sum(int(r.get("log", {}).get("errors", 0)) + int(r.get("log", {}).get(
        "tracebacks", 0)) for name in ("none", "threads") for r in fx[name])
    lines += [
        "",
        f"Threads listed by the GET: {sorted(set(listed.values()))}; anchors attached to "
        f"their quoted text after the fresh server reloaded them from the file: "
        f"{sorted(set(ok.values()))}. Failed measurements: {len(errors)}"
        + (f" ({errors[0]})" if errors else "") + f"; server-log errors/tracebacks: {logs}.",
        f"POSTs per series: {p['posts']} threads, each followed by a reply; latency from "
        "just before the request is written to the watcher's socket read of the update; "
        "percentiles over every (POST, watcher) pair of the series, median over runs. The "
        "series add threads: during them the `none` room holds up to "
        f"{2 * p['posts']} threads, the other {p['threads'] + 2 * p['posts']}.",
    ]
    model = doc.get("model") or {}
    if model:
        lines += ["", "In-process, no server (median of 3): "
                  + "; ".join(f"`{name}`: `NotebookDocument.load` {_fmt(v['load_ms'])} ms, "
                              f"`Comments.threads()` {_fmt(v['threads_ms'])} ms, "
                              f"`export()` (a save) {_fmt(v['export_ms'])} ms"
                              for name, v in model.items()) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
