"""A classroom on Huddle (issue 7's scale goal): one presenter, hundreds of viewers, one room.

    python -m bench.classroom [--runs 3] [--duration 20] [--viewers 300 100] [--nice -10]
    python -m bench.classroom --runs 1 --viewers 300 --profile on-300 --tag prof  # + py-spy
    python -m bench.classroom --viewers-as owners --tag owners  # viewers with the token

Huddle only. Two configurations, side by side in every run (their order flipped every run):
``on``, the defaults (rooms of more than ``HuddleApp.awareness_batch_above_peers`` = 16 peers
send presence changes in batches every ``awareness_batch_ms`` = 100 ms), and ``off``
(``--HuddleApp.awareness_batch_above_peers=100000``: every presence change is relayed to
every peer at once). Every (configuration, room size) is measured on a fresh server
(``servers.Server``) with a fresh copy of a 30-cell notebook, with a real ipykernel.

Per measurement:
- the presenter (a ``proto.Peer``) opens the room; a session (``POST api/sessions``) gives the
  notebook a python3 kernel, and one warm-up cell is run through the execution API;
- the viewers are students (``--viewers-as guests``, the default): the presenter creates one
  view link (``POST api/huddle/links/{document_id}``, role ``viewer``, no use limit), and each
  viewer claims it as a fresh browser does (``GET /huddle/s/{token}`` for the ``_xsrf``
  cookie, ``POST`` of its name -> a ``huddle-guest`` cookie, then ``PUT
  api/collaboration/session/{path}`` with the cookie and ``X-XSRFToken``), 25 at a time,
  before anything is measured; their websockets carry the cookie, no token. They are
  read-only: in a large room the server sends them the presence of those who may edit (the
  presenter) and departures, not each other's cursors. ``--viewers-as owners``: viewers
  with the server token (owners, who get everyone's presence), as before;
- N viewers (``--viewers``) join, 25 at a time, each sending its presence (user, active cell,
  cursor) on join; the join traffic is left to settle;
- for ``--duration`` seconds: the presenter types into cell 0 at ``--keys-per-s`` (10)
  keystrokes per second, and with each keystroke sends its cursor (presence, as JupyterLab
  does; ``--no-presenter-cursor`` to leave it out); every ``--run-every`` (4) s it runs the
  next cell through ``POST api/kernels/{id}/execute``; every viewer moves its cursor / active
  cell about once a second (intervals uniform in 0.8-1.2 s, random phase);
- then the typing stops and the harness waits for every viewer to have every keystroke and
  every output (at most ``--drain-timeout`` s), and for presence traffic to go quiet.

Figures (per measurement; p50/p95/p99 are over all pairs of the measurement):
- keystroke fan-out: from just before the presenter's update frame is written to the socket
  read at each viewer that brings its cell 0 to at least that many characters, over every
  (keystroke, viewer) pair; keystrokes not seen by the end of the drain count as lost;
- presenter cursor: from its presence frame being written to the socket read at each viewer
  of a presence frame that carries that cursor position or a later one;
- run output: from just before the execute POST is written to the socket read at each viewer
  that gives the run cell its first output, over every (run, viewer) pair;
- server CPU (% of one core) over the typing period, and the kernel's and this client's;
  other processes' CPU (noise); the server's RSS before the viewers joined, with them, at
  the end, and its peak (VmHWM);
- presence (awareness) frames and bytes received per second by all clients together (the
  presenter included) during the typing period: what the server sent; the same for the
  presenter alone and per viewer; the presence changes the clients sent; frames still
  arriving after the period (a backlog), and all traffic;
- the client's event-loop lag (a 10 ms sleep's overshoot): all clients share one asyncio
  process on the same two cores, so its delays are part of what is measured.

ON/OFF ratios are medians of per-run ratios (both configurations of a size run back to
back). Results: ``bench/results/classroom[-TAG].json`` (and ``history/``); the Markdown
summary is printed and written to ``bench/results/classroom[-TAG].md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from pycrdt import Text, create_sync_message, write_var_uint

from . import fixtures, wsclient
from .execution import KernelCpu, cell_done, execute, start_session, stop_session, wait_for
from .profile import Recorder, summarize, to_markdown
from .proto import AWARENESS, Peer, put_session, quiesce, room_url, wait_synced
from .saving import save
from .servers import CpuMeter, Server, git_info, machine_info, wait_quiet
from .stats import cell as _cell
from .stats import fmt as _fmt
from .stats import paired_ratio, percentile, summary
from .wsclient import MessageHandler, WebSocketConnection

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024
SEED = 20240707
CONFIGS: dict[str, list[str]] = {
    "on": [],  # the defaults: batches above 16 peers, every 100 ms
    "off": ["--HuddleApp.awareness_batch_above_peers=100000"],
}
CELLS = 30
TYPED = "for step in range(10):\n    total = step * step\n    print(step, total)\n"
_PK = re.compile(rb'"pk":\s*(\d+)')
CLAIM_BATCH = 25


def _log(msg: str) -> None:
    print(msg, flush=True)


# --- fixture ---------------------------------------------------------------------------------

def classroom_notebook() -> nbformat.NotebookNode:
    """Cell 0: where the presenter types; cell 1: the kernel warm-up; then 28 lesson cells
    (code cells that print a line, and a few Markdown cells), none with outputs yet."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [new_code_cell(source="# the presenter types here\n"),
             new_code_cell(source="import math")]
    for i in range(2, CELLS):
        if i % 7 == 0:
            cells.append(new_markdown_cell(source=f"## Part {i // 7}\nWhat the next cells show."))
        else:
            cells.append(new_code_cell(
                source=f"values = [math.sqrt(k) for k in range({i} * 10)]\n"
                       f"print('step {i}:', round(sum(values), 3))"))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"class-{i:02d}"
    return nb


def classroom_fixture() -> Path:
    return fixtures.write("classroom-30.ipynb", classroom_notebook())


def run_targets(nb: nbformat.NotebookNode) -> list[int]:
    """The code cells the presenter runs, in order (cell 0 and the warm-up excluded)."""
    return [i for i, c in enumerate(nb.cells) if i >= 2 and c.cell_type == "code"]


# --- clients ---------------------------------------------------------------------------------

def presence_frame(client_id: int, clock: int, state: dict[str, Any]) -> bytes:
    """An awareness update of one entry (compact JSON, as the server re-encodes it)."""
    raw = json.dumps(state, separators=(",", ":")).encode()
    body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock)
    body += write_var_uint(len(raw)) + raw
    return bytes([AWARENESS]) + write_var_uint(len(body)) + body


class CookieConnection(WebSocketConnection):
    """A websocket whose handshake carries a ``Cookie`` header (a guest has no token)."""

    def __init__(self, url: str, on_message: MessageHandler, cookie: str):
        super().__init__(url, on_message)
        self.cookie = cookie

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = self.ws.connect()
        request.headers["Cookie"] = self.cookie
        self.ws.send_request(request)
        self._flush()


class ClassPeer(Peer):
    """A peer that counts presence frames, and tracks what a viewer measures: the length of
    cell 0 (keystrokes), the presenter's cursor number and the outputs of run cells."""

    def __init__(self, name: str, color: str):
        super().__init__(name)
        self.color = color
        self.clock = 0
        self.aw_frames = 0
        self.aw_bytes = 0
        self.moves = 0
        self.track_cursor = False
        self.pk_last = 0
        self.pk_times: list[float] = []      # [j]: presenter cursor number j + 1 seen
        self.key_times: list[float] = []     # [k]: keystroke k seen
        self.key_src: Text | None = None
        self.key_base = 0
        self.out_watch: dict[int, Any] = {}  # run number -> that cell's outputs array
        self.out_seen: dict[int, float] = {}

    def _on_message(self, frame: bytes, now: float) -> None:
        if frame[0] == AWARENESS:
            self.aw_frames += 1
            self.aw_bytes += len(frame)
            if self.track_cursor:
                at = frame.find(b'"pk":')
                if at >= 0:
                    m = _PK.match(frame, at)
                    if m is not None:
                        value = int(m.group(1))
                        if value > self.pk_last:
                            self.pk_times.extend([now] * (value - self.pk_last))
                            self.pk_last = value
        super()._on_message(frame, now)

    def seen_update(self, now: float) -> None:
        """``on_update``: called after every applied sync update."""
        if self.key_src is not None:
            got = len(self.key_src) - self.key_base
            if got > len(self.key_times):
                self.key_times.extend([now] * (got - len(self.key_times)))
        if self.out_watch:
            for run, outputs in list(self.out_watch.items()):
                if len(outputs):
                    self.out_seen[run] = now
                    del self.out_watch[run]

    def state(self, cell: int, line: int, ch: int, **extra: Any) -> dict[str, Any]:
        """A JupyterLab-like presence state: who, the active cell, a collapsed selection."""
        pos = {"type": None, "tname": None, "item": {"client": self.doc.client_id,
                                                     "clock": line * 80 + ch}, "assoc": 0}
        return {"user": {"username": self.name, "name": self.name, "display_name": self.name,
                         "initials": self.name[:2].upper(), "color": self.color},
                "current": f"class-{cell:02d}",
                "cursors": [{"anchor": pos, "head": pos, "primary": True,
                             "empty": True}], **extra}

    def send_presence(self, state: dict[str, Any]) -> None:
        self.clock += 1
        self.send(presence_frame(self.doc.client_id, self.clock, state))

    async def connect_with_cookie(self, ws_url: str, cookie: str) -> None:
        """``Peer.connect`` (without presence) for a browser: a cookie instead of a token."""
        self.t_connect = time.perf_counter()
        self.conn = CookieConnection(ws_url, self._on_message, cookie)
        await wsclient.connect(self.conn)
        self.t_open = time.perf_counter()
        self.conn.send(create_sync_message(self.doc))


# --- guests: a view link opened by fresh browsers ---------------------------------------------

async def http(base: str, method: str, target: str, *, headers: dict[str, str] | None = None,
               body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
    """One HTTP/1.0 request over a raw asyncio socket (no pool; the answer ends at EOF):
    status, headers, body."""
    url = urlsplit(base)
    head = [f"{method} {target} HTTP/1.0", f"Host: {url.netloc}",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items())]
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    top, _, payload = raw.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = [(k.strip().lower(), v.strip())
              for k, _, v in (line.partition(":") for line in lines[1:])]
    return status, fields, payload


class Guest:
    """A fresh browser with a cookie jar: no token, the XSRF token Jupyter asks for."""

    def __init__(self, server: Server, name: str):
        self.server = server
        self.name = name
        self.cookies: dict[str, str] = {}
        self.session: dict[str, Any] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def request(self, method: str, target: str, body: bytes = b"",
                      content_type: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        if "_xsrf" in self.cookies:
            headers["X-XSRFToken"] = self.cookies["_xsrf"]
        if content_type is not None:
            headers["Content-Type"] = content_type
        status, fields, payload = await http(self.server.http_base, method, target,
                                             headers=headers, body=body)
        for key, value in fields:
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return status, payload

    async def claim(self, link_path: str, notebook: str) -> None:
        """Open the link, pick a name, then PUT the notebook's collaboration session."""
        status, payload = await self.request("GET", link_path)
        if status != 200 or "_xsrf" not in self.cookies:
            raise RuntimeError(f"{self.name}: GET link: HTTP {status} {payload[:200]!r}")
        form = urlencode({"name": self.name, "_xsrf": self.cookies["_xsrf"]}).encode()
        status, payload = await self.request("POST", link_path, form,
                                             "application/x-www-form-urlencoded")
        if status != 302 or "huddle-guest" not in self.cookies:
            raise RuntimeError(f"{self.name}: claim: HTTP {status} {payload[:200]!r}")
        status, payload = await self.request(
            "PUT", f"/api/collaboration/session/{quote(notebook, safe='')}",
            b'{"format":"json","type":"notebook"}', "application/json")
        if status != 200:
            raise RuntimeError(f"{self.name}: PUT session: HTTP {status} {payload[:200]!r}")
        self.session = json.loads(payload)


async def owner_json(server: Server, method: str, target: str, body: Any = None,
                     expect: int = 200) -> Any:
    """A REST call with the server token (the presenter, an owner)."""
    data = b"" if body is None else json.dumps(body).encode()
    status, _, payload = await http(server.http_base, method, target, body=data, headers={
        "Authorization": f"token {server.token}", "Content-Type": "application/json"})
    if status != expect:
        raise RuntimeError(f"{method} {target}: HTTP {status} {payload[:200]!r}")
    return json.loads(payload) if payload else None


async def claim_guests(server: Server, document_id: str, notebook: str, count: int
                       ) -> tuple[list[Guest], dict[str, Any]]:
    """One view link (no use limit), claimed by ``count`` fresh browsers, 25 at a time."""
    created = await owner_json(server, "POST", f"/api/huddle/links/{document_id}",
                               {"role": "viewer", "label": "classroom bench"}, expect=201)
    link_path = urlsplit(created["url"]).path
    guests = [Guest(server, f"Student {i:03d}") for i in range(count)]
    for start in range(0, count, CLAIM_BATCH):
        await asyncio.gather(*(g.claim(link_path, notebook)
                               for g in guests[start:start + CLAIM_BATCH]))
    listed = await owner_json(server, "GET", f"/api/huddle/links/{document_id}")
    link = next(x for x in listed["links"] if x["id"] == created["link"]["id"])
    # What the server thinks a student is (one of them: every claim went the same way).
    status, payload = await guests[-1].request("GET", f"/api/huddle/access/{document_id}")
    access = json.loads(payload) if status == 200 else {}
    if access.get("role") != "viewer" or not access.get("guest"):
        raise RuntimeError(f"a guest is not a read-only viewer: HTTP {status} {payload[:200]!r}")
    return guests, link


async def open_class_peer(server: Server, session: dict[str, Any], name: str,
                          rng: random.Random, guest: Guest | None = None) -> ClassPeer:
    peer = ClassPeer(name, f"#{rng.randrange(0x1000000):06x}")
    if guest is None:
        await peer.connect(room_url(server.ws_base, session["fileId"], session["sessionId"],
                                    server.token), awareness=False)
    else:
        url = (f"{server.ws_base}api/collaboration/room/json:notebook:"
               f"{guest.session['fileId']}?sessionId={quote(guest.session['sessionId'])}")
        await peer.connect_with_cookie(url, guest.cookie_header())
    return peer


def peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _counters(peers: Sequence[ClassPeer]) -> dict[str, int]:
    return {"aw_frames": sum(p.aw_frames for p in peers),
            "aw_bytes": sum(p.aw_bytes for p in peers),
            "aw_frames_presenter": peers[0].aw_frames if peers else 0,
            "aw_bytes_presenter": peers[0].aw_bytes if peers else 0,
            "frames": sum(p.frames for p in peers),
            "bytes": sum(p.bytes_in for p in peers),
            "moves": sum(p.moves for p in peers)}


# --- one measurement -------------------------------------------------------------------------

async def measure(server: Server, viewers: int, args: argparse.Namespace, seed: int,
                  recs: Sequence[Recorder] = ()) -> dict[str, Any]:
    rng = random.Random(seed)
    nb = classroom_notebook()
    targets = run_targets(nb)
    path = classroom_fixture().name
    loop = asyncio.get_running_loop()
    session_id, kernel_id = await start_session(server, path)
    peers: list[ClassPeer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        session = await put_session(server.http_base, server.token, path)
        document_id = f"json:notebook:{session['fileId']}"
        presenter = await open_class_peer(server, session, "presenter", rng)
        peers.append(presenter)
        await wait_synced(presenter, CELLS)
        presenter.send_presence(presenter.state(0, 0, 0, pk=0))
        t = time.perf_counter()
        await execute(server, kernel_id, document_id, str(presenter.cells[1]["id"]))
        await wait_for(lambda: cell_done(presenter, 1), 60, "warm-up cell did not finish")
        warmup_s = time.perf_counter() - t
        # --- students claim the view link (before anything is measured) -----------------
        guests: list[Guest | None] = [None] * viewers
        link: dict[str, Any] = {}
        t = time.perf_counter()
        if args.viewers_as == "guests":
            claimed, link = await claim_guests(server, document_id, path, viewers)
            guests = list(claimed)
        claim_s = time.perf_counter() - t
        await asyncio.sleep(0.5)
        rss_before = server.rss_bytes()

        # --- the class joins ------------------------------------------------------------
        audience: list[ClassPeer] = []
        t_join = time.perf_counter()
        for start in range(0, viewers, 25):
            batch = [await open_class_peer(server, session, f"s{i:03d}", rng, guests[i])
                     for i in range(start, min(viewers, start + 25))]
            for v in batch:
                v.send_presence(v.state(rng.randrange(CELLS), 0, 0))
            peers += batch
            audience += batch
            await asyncio.gather(*(wait_synced(v, CELLS) for v in batch))
        join_s = time.perf_counter() - t_join
        settle_s = await quiesce(peers)
        rss_joined = server.rss_bytes()

        # --- what viewers watch ---------------------------------------------------------
        text = presenter.source(0)
        for v in audience:
            v.key_src = v.source(0)
            v.key_base = len(v.key_src)
            v.track_cursor = args.presenter_cursor
            v.on_update = v.seen_update
        base_len = len(text)
        keys = int(args.duration * args.keys_per_s)
        interval = 1.0 / args.keys_per_s
        key_sends: list[float] = []
        cursor_sends: list[float] = []
        runs: list[dict[str, Any]] = []
        lag: list[float] = []
        stop = asyncio.Event()

        async def wander(v: ClassPeer, phase: float, r: random.Random) -> None:
            await asyncio.sleep(phase)
            while not stop.is_set():
                v.moves += 1
                v.send_presence(v.state(r.randrange(CELLS), r.randrange(5), r.randrange(40)))
                await asyncio.sleep(r.uniform(0.8, 1.2))

        async def lag_probe() -> None:
            while not stop.is_set():
                t0 = loop.time()
                await asyncio.sleep(0.010)
                lag.append((loop.time() - t0 - 0.010) * 1000)

        async def run_loop(t_start: float) -> None:
            for n, index in enumerate(targets):
                due = t_start + args.run_every / 2 + n * args.run_every
                if due >= t_start + args.duration - 0.5:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                for v in audience:
                    v.out_watch[n] = v.cells[index]["outputs"]
                t0, t202 = await execute(server, kernel_id, document_id,
                                         str(presenter.cells[index]["id"]))
                runs.append({"cell": index, "t0": t0, "post_202_ms": (t202 - t0) * 1000})

        # --- the lesson -------------------------------------------------------------------
        for i, v in enumerate(audience):
            r = random.Random(seed * 1000 + i)
            tasks.append(asyncio.create_task(wander(v, r.uniform(0.0, 1.0), r)))
        tasks.append(asyncio.create_task(lag_probe()))
        for rec in recs:
            rec.start()
        c0 = _counters(peers)
        meter, kmeter = CpuMeter(server), KernelCpu(server)
        t_start = loop.time()
        tasks.append(asyncio.create_task(run_loop(t_start)))
        line = ch = 0
        for k in range(keys):
            delay = t_start + k * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            char = TYPED[k % len(TYPED)]

            def keystroke(char: str = char) -> None:
                text.insert(len(text), char)
            frame = presenter.edit(keystroke)
            key_sends.append(time.perf_counter())
            presenter.send(frame)
            line, ch = (line + 1, 0) if char == "\n" else (line, ch + 1)
            if args.presenter_cursor:
                state = presenter.state(0, line, ch, pk=k + 1)
                cursor_sends.append(time.perf_counter())
                presenter.send_presence(state)
        await asyncio.sleep(max(0.0, t_start + keys * interval - loop.time()))
        cpu = kmeter.read(meter.read())
        c1 = _counters(peers)
        window_s = cpu["wall_s"]
        stop.set()
        for rec in recs:
            rec.stop()
        rss_end = server.rss_bytes()
        run_task = tasks[-1]
        await run_task

        # --- drain --------------------------------------------------------------------------
        t_drain = time.perf_counter()
        try:
            await wait_for(lambda: all(len(v.key_times) >= keys and not v.out_watch
                                       for v in audience if not v.closed.done()),
                           args.drain_timeout, "not everything arrived")
            drained = True
        except TimeoutError:
            drained = False
        drain_s = time.perf_counter() - t_drain
        backlog_s = await quiesce(peers, timeout=args.drain_timeout)
        c2 = _counters(peers)
        rss_peak = peak_rss_bytes(server.pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()

        # --- figures ----------------------------------------------------------------------
        key_lat = [(v.key_times[k] - key_sends[k]) * 1000
                   for v in audience for k in range(min(len(v.key_times), keys))]
        lost = sum(keys - min(len(v.key_times), keys) for v in audience)
        # Per keystroke, its first and its last viewer: the server's path to one socket,
        # and the whole broadcast (300 sockets written, then read by this one process).
        per_key = [[(v.key_times[k] - key_sends[k]) * 1000 for v in audience
                    if len(v.key_times) > k] for k in range(keys)]
        key_first = [min(row) for row in per_key if row]
        key_last = [max(row) for row in per_key if row]
        cur_lat = [(v.pk_times[j] - cursor_sends[j]) * 1000
                   for v in audience for j in range(min(len(v.pk_times), len(cursor_sends)))]
        cur_lost = sum(len(cursor_sends) - min(len(v.pk_times), len(cursor_sends))
                       for v in audience)
        out_lat = [(v.out_seen[n] - run["t0"]) * 1000
                   for v in audience for n, run in enumerate(runs) if n in v.out_seen]
        out_lost = sum(1 for v in audience for n in range(len(runs)) if n not in v.out_seen)
        final = str(audience[0].source(0)) if audience else ""
        d = {k: c1[k] - c0[k] for k in c0}
        after = {k: c2[k] - c1[k] for k in c0}
        changes = d["moves"] + len(cursor_sends)
        nan = float("nan")
        n_viewers = max(1, len(audience))
        return {
            "viewers": viewers, "viewers_as": args.viewers_as, "keys": keys,
            "runs": len(runs), "window_s": window_s,
            "key_p50_ms": percentile(key_lat, 50), "key_p95_ms": percentile(key_lat, 95),
            "key_p99_ms": percentile(key_lat, 99), "key_max_ms": max(key_lat, default=nan),
            "key_samples": len(key_lat), "key_lost": lost,
            "key_first_p50_ms": percentile(key_first, 50),
            "key_first_p99_ms": percentile(key_first, 99),
            "key_last_p50_ms": percentile(key_last, 50),
            "key_last_p99_ms": percentile(key_last, 99),
            "cursor_p50_ms": percentile(cur_lat, 50), "cursor_p95_ms": percentile(cur_lat, 95),
            "cursor_p99_ms": percentile(cur_lat, 99), "cursor_samples": len(cur_lat),
            "cursor_lost": cur_lost,
            "out_p50_ms": percentile(out_lat, 50), "out_p95_ms": percentile(out_lat, 95),
            "out_p99_ms": percentile(out_lat, 99), "out_max_ms": max(out_lat, default=nan),
            "out_samples": len(out_lat), "out_lost": out_lost,
            "post_202_p50_ms": percentile([r["post_202_ms"] for r in runs], 50),
            **{k: v for k, v in cpu.items() if k != "wall_s"},
            "rss_before_mib": rss_before / MIB, "rss_joined_mib": rss_joined / MIB,
            "rss_end_mib": rss_end / MIB, "rss_peak_mib": rss_peak / MIB,
            "rss_added_mib": (rss_end - rss_before) / MIB,
            "aw_frames_per_s": d["aw_frames"] / window_s,
            "aw_kib_per_s": d["aw_bytes"] / window_s / 1024,
            "aw_frames_per_client_s": d["aw_frames"] / window_s / len(peers),
            "aw_frames_presenter_per_s": d["aw_frames_presenter"] / window_s,
            "aw_kib_presenter_per_s": d["aw_bytes_presenter"] / window_s / 1024,
            "aw_frames_per_viewer_s": (d["aw_frames"] - d["aw_frames_presenter"])
            / window_s / n_viewers,
            "aw_kib_per_viewer_s": (d["aw_bytes"] - d["aw_bytes_presenter"])
            / window_s / 1024 / n_viewers,
            "presence_changes_per_s": changes / window_s,
            "aw_frames_per_change": d["aw_frames"] / changes if changes else nan,
            "aw_relay_demand_per_s": changes * (len(peers) - 1) / window_s,
            "all_frames_per_s": d["frames"] / window_s,
            "all_mib_per_s": d["bytes"] / window_s / MIB,
            "aw_frames_after": after["aw_frames"], "aw_mib_after": after["aw_bytes"] / MIB,
            "drain_s": drain_s, "drained": drained, "backlog_quiet_s": backlog_s,
            "loop_lag_p50_ms": percentile(lag, 50), "loop_lag_p99_ms": percentile(lag, 99),
            "loop_lag_max_ms": max(lag, default=nan),
            "join_s": join_s, "settle_s": settle_s, "warmup_run_s": warmup_s,
            "claim_s": claim_s, "link_uses": link.get("uses"),
            "text_ok": final == str(presenter.source(0)) and len(final) == base_len + keys,
            "closed_viewers": sum(1 for v in audience if v.closed.done()),
            "client_errors": sum(1 for p in peers if p.error is not None),
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        await stop_session(server, session_id)


# --- driver ----------------------------------------------------------------------------------

def start_server(cfg: str, fixture: Path, nice: int) -> Server:
    """Start a server; retry twice (the source tree may be mid-edit when it imports)."""
    for attempt in range(3):
        server = Server("huddle", [fixture], list(CONFIGS[cfg]), nice=nice)
        try:
            return server.start()
        except RuntimeError as err:
            server.stop()
            if attempt == 2:
                raise
            _log(f"server did not start ({str(err).splitlines()[0]}); retrying in 15 s")
            time.sleep(15)
    raise AssertionError("unreachable")


BRIEF = ("key_p50_ms", "key_p99_ms", "key_max_ms", "key_lost", "cursor_p50_ms",
         "cursor_p99_ms", "out_p50_ms", "out_p99_ms", "server_cpu_pct", "client_cpu_pct",
         "other_cpu_pct", "rss_end_mib", "aw_frames_per_s", "aw_kib_per_s",
         "presence_changes_per_s", "aw_frames_after", "drain_s", "loop_lag_p99_ms",
         "closed_viewers", "error")


def brief(res: dict[str, Any]) -> str:
    return " ".join(f"{k}={res[k]:.4g}" if isinstance(res[k], float) else f"{k}={res[k]}"
                    for k in BRIEF if k in res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classroom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of typing per measurement (default 20)")
    parser.add_argument("--viewers", type=int, nargs="+", default=[300, 100],
                        help="room sizes (viewers besides the presenter; default 300 100)")
    parser.add_argument("--viewers-as", choices=("guests", "owners"), default="guests",
                        help="guests: students who opened a view link (read-only, the "
                        "default); owners: peers with the server token")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="presence batching on (defaults) and/or off")
    parser.add_argument("--keys-per-s", type=float, default=10.0,
                        help="presenter keystrokes per second (default 10)")
    parser.add_argument("--run-every", type=float, default=4.0,
                        help="seconds between the presenter's cell runs (default 4)")
    parser.add_argument("--no-presenter-cursor", dest="presenter_cursor",
                        action="store_false",
                        help="the presenter sends no presence with its keystrokes")
    parser.add_argument("--drain-timeout", type=float, default=30.0,
                        help="seconds to wait for late keystrokes/outputs (default 30)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--nice", type=int, default=0, help="e.g. -10 (see bench/README.md)")
    parser.add_argument("--profile", metavar="CONFIG-N", nargs="+", default=[],
                        help="py-spy the server during the typing period of these "
                        "measurements (e.g. on-300), in every run; saved apart (-profiled)")
    parser.add_argument("--profile-client", action="store_true",
                        help="with --profile: py-spy this client process too")
    parser.add_argument("--tag", help="save as classroom-TAG.json / .md")
    parser.add_argument("--markdown-only", metavar="JSON", type=Path,
                        help="measure nothing: rewrite the .md of this results file")
    args = parser.parse_args(argv)
    if args.markdown_only is not None:
        md = markdown(json.loads(args.markdown_only.read_text()))
        args.markdown_only.with_suffix(".md").write_text(md + "\n")
        _log(md)
        return 0
    command = "python -m bench.classroom " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.nice:
        os.nice(args.nice)
    info: dict[str, Any] = machine_info()
    _log(f"machine: {info['nproc']} cores, {info['cpu_model']}; {info['versions']['huddle']}")
    started = time.time()
    git_start = git_info()
    fixture = classroom_fixture()
    sizes = sorted(set(args.viewers), reverse=True)
    points: dict[str, list[dict[str, Any]]] = {
        f"{cfg}-{n}": [] for n in sizes for cfg in args.configs}
    profiles: list[dict[str, Any]] = []
    for run in range(args.runs):
        order = list(args.configs) if run % 2 == 0 else list(reversed(args.configs))
        for n in sizes:
            for cfg in order:
                point = f"{cfg}-{n}"
                busy = wait_quiet(3.0)
                server = start_server(cfg, fixture, args.nice)
                recs: dict[str, Recorder] = {}
                if point in args.profile:
                    out = RESULTS / "profiles" / f"classroom-{point}-run{run + 1}"
                    recs["server"] = Recorder(server.pid, out.with_suffix(".raw"), rate=100)
                    if args.profile_client:
                        recs["client"] = Recorder(os.getpid(),
                                                  out.with_name(out.name + "-client.raw"),
                                                  rate=100)
                t = time.perf_counter()
                try:
                    res = asyncio.run(measure(server, n, args, args.seed + run,
                                              list(recs.values())))
                except Exception as err:
                    res = {"error": repr(err)[:500]}
                finally:
                    res_log = server.log_problems()
                    server.stop()
                res.update(run=run, config=cfg, elapsed_s=time.perf_counter() - t,
                           machine_busy_before_pct=busy, log=res_log)
                points[point].append(res)
                _log(f"[classroom] run {run + 1}/{args.runs} {point}: {brief(res)}")
                for who, rec in recs.items():
                    if not rec.out.exists():
                        _log(f"py-spy wrote nothing: {rec.stderr.read_text()[-300:]}")
                        continue
                    summ = summarize(rec.out)
                    summ["seconds"], summ["rate_hz"] = rec.duration, rec.rate
                    md = to_markdown(f"{who}: classroom {point} (run {run + 1})", summ)
                    rec.out.with_suffix(".md").write_text(md + "\n")
                    profiles.append({"point": point, "run": run, "process": who,
                                     "summary": summ, "markdown": md, "raw": str(rec.out)})
                    _log(md)
    doc = {"scenario": "classroom", "command": command, "machine": info,
           "params": {"runs": args.runs, "duration_s": args.duration, "viewers": sizes,
                      "viewers_as": args.viewers_as,
                      "configs": {c: CONFIGS[c] for c in args.configs},
                      "keys_per_s": args.keys_per_s, "run_every_s": args.run_every,
                      "presenter_cursor": args.presenter_cursor, "cells": CELLS,
                      "drain_timeout_s": args.drain_timeout, "seed": args.seed,
                      "nice": args.nice, "profile": args.profile},
           "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
           "duration_s": time.time() - started, "points": points, "profiles": profiles,
           "git": {"start": git_start, "end": git_info()}}
    name = "classroom" + ("-profiled" if args.profile else "") + (
        f"-{args.tag}" if args.tag else "")
    md = markdown(doc)
    latest = save(name, doc, started, md)
    _log(f"[classroom] done in {doc['duration_s']:.0f} s -> {latest}")
    _log(md)
    return 0


# --- summary ---------------------------------------------------------------------------------

def _by_run(results: Sequence[dict[str, Any]], key: str, scale: float = 1.0
            ) -> dict[int, float]:
    out = {}
    for res in results:
        value = res.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            out[int(res["run"])] = value * scale
    return out


def _ratio(num: dict[int, float], den: dict[int, float]) -> str:
    runs = sorted(r for r in num if r in den)
    s = paired_ratio([num[r] for r in runs], [den[r] for r in runs])
    return _fmt(s["median"]) if s["n"] else "n/a"


ROWS: tuple[tuple[str, str, float, bool], ...] = (
    # key, label, scale, show the ON/OFF ratio
    ("key_p50_ms", "keystroke fan-out to every viewer, p50 (ms)", 1.0, True),
    ("key_p95_ms", "… p95 (ms)", 1.0, True),
    ("key_p99_ms", "… p99 (ms) — goal < 100", 1.0, True),
    ("key_max_ms", "… max (ms)", 1.0, True),
    ("key_first_p50_ms", "… first viewer of each keystroke, p50 (ms)", 1.0, True),
    ("key_first_p99_ms", "… first viewer of each keystroke, p99 (ms)", 1.0, True),
    ("key_last_p50_ms", "… last viewer of each keystroke, p50 (ms)", 1.0, True),
    ("key_last_p99_ms", "… last viewer of each keystroke, p99 (ms)", 1.0, True),
    ("key_samples", "… (keystroke, viewer) pairs", 1.0, False),
    ("key_lost", "… pairs never seen (lost)", 1.0, False),
    ("cursor_p50_ms", "presenter's cursor (presence) to every viewer, p50 (ms)", 1.0, True),
    ("cursor_p99_ms", "… p99 (ms)", 1.0, True),
    ("out_p50_ms", "run cell: POST → first output at every viewer, p50 (ms)", 1.0, True),
    ("out_p99_ms", "… p99 (ms)", 1.0, True),
    ("out_max_ms", "… max (ms)", 1.0, True),
    ("out_samples", "… (run, viewer) pairs", 1.0, False),
    ("post_202_p50_ms", "… POST → 202, p50 (ms)", 1.0, True),
    ("server_cpu_pct", "server CPU, % of one core", 1.0, True),
    ("kernel_cpu_s", "kernel CPU (s)", 1.0, False),
    ("client_cpu_pct", "client process CPU, % of one core (all clients)", 1.0, True),
    ("loop_lag_p99_ms", "client event-loop lag, p99 (ms)", 1.0, True),
    ("other_cpu_pct", "other processes' CPU, % of one core (noise)", 1.0, False),
    ("rss_before_mib", "server RSS before the viewers joined (MiB)", 1.0, True),
    ("rss_end_mib", "server RSS at the end of the period (MiB)", 1.0, True),
    ("rss_peak_mib", "server peak RSS, VmHWM (MiB)", 1.0, True),
    ("presence_changes_per_s", "presence changes sent by the clients per s", 1.0, True),
    ("aw_frames_per_s", "presence frames received per s, all clients (= sent by the server)",
     1.0, True),
    ("aw_frames_per_change", "… per presence change", 1.0, True),
    ("aw_relay_demand_per_s", "… if each change went to every other client at once "
     "(changes/s × (clients − 1))", 1.0, False),
    ("aw_frames_per_client_s", "… per client per s", 1.0, True),
    ("aw_frames_presenter_per_s", "… received by the presenter per s", 1.0, True),
    ("aw_frames_per_viewer_s", "… received per viewer per s", 1.0, True),
    ("aw_kib_per_s", "presence KiB received per s, all clients", 1.0, True),
    ("aw_kib_presenter_per_s", "… by the presenter", 1.0, True),
    ("aw_kib_per_viewer_s", "… per viewer", 1.0, True),
    ("all_frames_per_s", "all frames received per s, all clients", 1.0, True),
    ("all_mib_per_s", "all MiB received per s, all clients", 1.0, True),
    ("aw_frames_after", "presence frames still arriving after the period (backlog)", 1.0,
     True),
    ("drain_s", "end of period → every keystroke and output at every viewer (s)", 1.0, True),
    ("claim_s", "guests claim the view link, 25 at a time (s; before the period)", 1.0,
     True),
    ("link_uses", "… the link's use count afterwards", 1.0, False),
    ("join_s", "viewers join, 25 at a time: all synced (s)", 1.0, True),
    ("settle_s", "join traffic settled (s)", 1.0, True),
)


def markdown(doc: dict[str, Any]) -> str:
    pts = doc["points"]
    p = doc["params"]
    m = doc["machine"]
    sizes: list[int] = p["viewers"]
    configs = list(p["configs"])
    lines = [
        f"Command: `{doc['command']}` ({doc['started']}, {doc['duration_s'] / 60:.1f} min; "
        f"git {m['git'].get('commit', '?')}, uncommitted server files: "
        f"{m['git'].get('uncommitted_server_files', '?')}"
        + ("" if (end := doc.get("git", {}).get("end", m["git"])) == m["git"] else
           f"; at the end: git {end.get('commit', '?')}, uncommitted server files: "
           f"{end.get('uncommitted_server_files', '?')}") + ").",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_mib']} MiB, Python "
        f"{m['python']}; {m['versions']['huddle']}.",
        f"One room, a {p['cells']}-cell notebook, a real ipykernel; each measurement on a "
        f"fresh server. The presenter types {_fmt(p['keys_per_s'])} keystrokes/s into one "
        f"cell for {_fmt(p['duration_s'])} s"
        + (" (with its cursor as presence on each keystroke)" if p["presenter_cursor"] else "")
        + f" and runs a new cell every {_fmt(p['run_every_s'])} s (execution API); every "
        "viewer moves its cursor/active cell about once a second (random phase). "
        "`on`: the defaults (presence in batches every 100 ms above 16 peers); `off`: "
        "`--HuddleApp.awareness_batch_above_peers=100000` (each change relayed at once). "
        + ("Viewers: guests who claimed one view link (read-only; cookie, no token), "
           "claimed before the period. "
           if p.get("viewers_as", "owners") == "guests" else
           "Viewers: peers with the server token (owners). ")
        + f"Runs: {p['runs']} (order flipped every run); cells are `median [min–max]` over the "
        "runs; ON/OFF is the median of per-run ratios. Latencies: from just before the "
        "presenter's frame (or the POST) is written to the socket read at the viewer; "
        "percentiles over every (event, viewer) pair. All clients run in one asyncio "
        "process on the same 2 cores as the server and kernel.",
    ]
    for n in sizes:
        cols = [f"{c}-{n}" for c in configs]
        both = len(cols) == 2
        lines += ["", f"| {n} viewers + 1 presenter | " + " | ".join(
            f"batching {c.upper()}" for c in configs) + (" | ON/OFF |" if both else " |"),
                  "|---|" + "---:|" * (len(cols) + (1 if both else 0))]
        for key, label, scale, show in ROWS:
            vals = [_by_run(pts.get(c, []), key, scale) for c in cols]
            row = f"| {label} | " + " | ".join(_cell(list(v.values())) for v in vals)
            if both:
                row += " | " + (_ratio(vals[0], vals[1]) if show else "")
            lines.append(row + " |")
        lines.append("| keystrokes complete and equal at the end, every run | " + " | ".join(
            str(all(r.get("text_ok") for r in pts.get(c, [])) and bool(pts.get(c)))
            for c in cols) + (" | |" if both else " |"))
    if len(sizes) >= 2:
        big, small = sizes[0], sizes[-1]
        k = big / small
        lines += ["", f"| presence traffic, {big} vs {small} viewers | " + " | ".join(
            f"batching {c.upper()}" for c in configs) + " |",
                  "|---|" + "---:|" * len(configs)]
        for key, label in (("aw_relay_demand_per_s", "presence changes/s × (clients − 1)"),
                           ("aw_frames_per_s", "presence frames/s"),
                           ("aw_kib_per_s", "presence KiB/s"),
                           ("aw_kib_presenter_per_s", "… of which to the presenter"),
                           ("aw_kib_per_viewer_s", "presence KiB/s per viewer"),
                           ("server_cpu_pct", "server CPU %")):
            for n in (small, big):
                lines.append(f"| {label}, {n} viewers | " + " | ".join(
                    _cell(list(_by_run(pts.get(f"{c}-{n}", []), key).values()))
                    for c in configs) + " |")
            lines.append(f"| {label}: {big}/{small} (linear ≈ {_fmt(k)}, quadratic ≈ "
                         f"{_fmt(k * k)}) | " + " | ".join(
                             _ratio(_by_run(pts.get(f"{c}-{big}", []), key),
                                    _by_run(pts.get(f"{c}-{small}", []), key))
                             for c in configs) + " |")
    # goal and notes
    big = sizes[0]
    main_pt = f"on-{big}" if f"on-{big}" in pts else f"{configs[0]}-{big}"
    p99 = _by_run(pts.get(main_pt, []), "key_p99_ms")
    cpu = _by_run(pts.get(main_pt, []), "server_cpu_pct")
    lost = _by_run(pts.get(main_pt, []), "key_lost")
    if p99:
        med = summary(list(p99.values()))["median"]
        met = med < 100 and max(p99.values()) < 100 and not any(lost.values())
        lines += ["", f"Goal (issue 7): keystroke fan-out p99 < 100 ms with {big} viewers, "
                  f"{main_pt}: p99 per run " + ", ".join(_fmt(v) for v in p99.values())
                  + f" ms → {'met' if met else 'missed'}; server CPU "
                  + ", ".join(_fmt(v) for v in cpu.values()) + " % of one core ("
                  + ("saturated" if max(cpu.values(), default=0) >= 90 else "not saturated")
                  + ")."]
    noisy = [(name, r["run"], r["other_cpu_pct"]) for name, rs in pts.items() for r in rs
             if isinstance(r.get("other_cpu_pct"), float) and r["other_cpu_pct"] > 50]
    errors = [(name, r["run"], r["error"]) for name, rs in pts.items() for r in rs
              if "error" in r]
    logs = sum(int(r.get("log", {}).get("errors", 0)) + int(r.get("log", {}).get(
        "tracebacks", 0)) for rs in pts.values() for r in rs)
    closed = sum(int(r.get("closed_viewers", 0)) for rs in pts.values() for r in rs)
    lines.append(
        f"Failed measurements: {len(errors)}" + (f" ({errors[0]})" if errors else "")
        + f"; viewers disconnected: {closed}; server-log errors/tracebacks: {logs}. "
        "Measurements with other processes above half a core (noise): "
        + (", ".join(f"{n} run {r + 1} ({v:.0f}%)" for n, r, v in noisy) if noisy else "none")
        + ".")
    for prof in doc.get("profiles") or []:
        lines += ["", str(prof["markdown"]).rstrip()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
