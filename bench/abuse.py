"""Abuse (issue 11, points 5 and 6): what a read-only peer's frames cost the server, and
what sockets that never read make it hold. Huddle before and after the change, side by side.

    python -m bench.abuse [--runs 3] [--lurkers 30] [--doc-mib 40] [--nice -10]

``before`` is the server code at ``--baseline`` (default ``31643b0``, the last commit before
the change), extracted with ``git archive`` into a temporary directory and put first on the
server's ``PYTHONPATH``; ``after`` is the working tree; ``after-notrim`` (on request) the
working tree with ``heap.libc_malloc_trim`` replaced by a ``sitecustomize`` that returns
None (no heap trims). Every measurement gets a fresh server (``servers.Server``); the sides
alternate, their order flipped every run.

``frames``: a notebook whose cell 0 had every other character of 60 000 deleted, one
deletion each (30 000 ranges in its delete set: what 30 000 comment edits left in the
report), made through the protocol by an owner who stays in the room. A guest who claimed a
view link (read-only, cookies only) sends each hostile frame, then a RAW save request on
the same socket; the figure is the time from sending the frame to the save answer (the
server handles a socket's frames in order, so this is the frame's cost plus a round trip
of about 0.3 ms). Kinds: delete-only updates (the document's own delete set, as an honest
SyncStep2 reply carries it; 30 000 deletions it does not have; 100 000 ranges, just under
the inspection budget; 2 MB, over it) and SyncStep1s (empty, a bogus client, 20 000 bogus
clients, all but the fragmented client). ``--reps`` of each (the slow ``before`` kinds once:
``--before-reps``).

``lurkers``: a ``--doc-mib`` notebook of random-pixel PNG outputs (``fixtures``), opened by
an owner who stays. ``--lurkers`` guests claim a view link, open a socket with a 4 KiB
receive buffer, send one SyncStep1 with an empty state vector and never read. Server RSS
(VmRSS): with the owner alone (``open``), ``--hold`` s after the lurkers' SyncStep1
(``during``, with the server CPU the answers took), ``--stall-wait`` s after it with the
lurkers still connected (``held``: the change cuts a socket that takes nothing for
``peer_stall_timeout_s`` = 30 s), and ``--settle`` s after the lurkers closed their sockets
(``closed``); the peak (VmHWM) too. Results: ``bench/results/abuse[-TAG].json`` and
``abuse[-TAG].md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat

from jupyter_huddle.collab.sync.codec import varuint
from jupyter_huddle.collab.sync.update_inspect import decode_state_vector

from . import fixtures, wsclient
from .classroom import CookieConnection, Guest, claim_guests, peak_rss_bytes
from .proto import Peer, open_peer, put_session, wait_synced
from .saving import save
from .servers import BENCH_DIR, Server, git_info, machine_info, wait_quiet
from .stats import cell, fmt, summary
from .wsclient import WebSocketConnection

BASELINE = "31643b0"
SIDES = ("before", "after", "after-notrim")
# The working tree with glibc's malloc_trim disabled: what giving memory back is worth.
NOTRIM = """import jupyter_huddle.collab.rooms.heap as heap
heap.libc_malloc_trim = lambda: None
"""
MIB = 1024 * 1024
RANGES = 30_000


def _log(msg: str) -> None:
    print(msg, flush=True)


def sync(sub: int, payload: bytes) -> bytes:
    return bytes((0, sub)) + varuint(len(payload)) + payload


def delete_only(client: int, ranges: Sequence[tuple[int, int]]) -> bytes:
    body = b"".join(varuint(clock) + varuint(length) for clock, length in ranges)
    return b"\x00\x01" + varuint(client) + varuint(len(ranges)) + body


def state_vector(entries: dict[int, int]) -> bytes:
    return varuint(len(entries)) + b"".join(varuint(c) + varuint(k) for c, k in entries.items())


def save_request(request_id: int) -> bytes:
    return b"\x02\x04save" + varuint(request_id)


# --- the code under test ---------------------------------------------------------------------

def extract_baseline(rev: str, into: Path) -> Path:
    """``jupyter_huddle`` at ``rev``, for the ``before`` servers' PYTHONPATH."""
    root = BENCH_DIR.parent
    archive = subprocess.run(["git", "archive", rev, "jupyter_huddle"], cwd=root, check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def start(side: str, baseline: Path, fixture: Path, nice: int) -> Server:
    """A fresh server running ``side``'s code (the environment is read at start)."""
    if side == "before":
        os.environ["BENCH_SERVER_PYTHONPATH"] = str(baseline)
    elif side == "after-notrim":
        notrim = baseline.parent / "notrim"
        notrim.mkdir(exist_ok=True)
        (notrim / "sitecustomize.py").write_text(NOTRIM)
        os.environ["BENCH_SERVER_PYTHONPATH"] = str(notrim)
    try:
        return Server("huddle", [fixture], nice=nice).start()
    finally:
        os.environ.pop("BENCH_SERVER_PYTHONPATH", None)


# --- clients ---------------------------------------------------------------------------------

class Prober:
    """A socket that answers nothing and waits for RAW save answers (it ignores the rest)."""

    def __init__(self) -> None:
        self.answers: dict[int, float] = {}
        self.notices = 0
        self.conn: WebSocketConnection | None = None
        self._next = 1_000_000
        self._changed = asyncio.Event()

    def on_message(self, frame: bytes, now: float) -> None:
        if frame[:1] != b"\x02":
            return
        text = frame[frame.index(b"{"):] if b"{" in frame else b"{}"
        message = json.loads(text)
        if message.get("type") == "save":
            self.answers[int(message["responseTo"])] = now
            self._changed.set()
        elif message.get("reason") == "read_only":
            self.notices += 1

    async def connect(self, url: str, cookie: str) -> None:
        self.conn = CookieConnection(url, self.on_message, cookie)
        await wsclient.connect(self.conn)

    async def cost_ms(self, frame: bytes, timeout: float = 600) -> float:
        """Send ``frame`` then a save request; ms until the answer."""
        assert self.conn is not None
        self._next += 1
        request = self._next
        start = time.perf_counter()
        self.conn.send(frame)
        self.conn.send(save_request(request))
        async with asyncio.timeout(timeout):
            while request not in self.answers:
                self._changed.clear()
                await self._changed.wait()
        return (self.answers[request] - start) * 1000


async def owner_peer(server: Server, path: str) -> tuple[Peer, dict[str, Any]]:
    session = await put_session(server.http_base, server.token, path)
    peer = await open_peer(server, path, "owner", session=session)
    await wait_synced(peer, timeout=600)
    return peer, session


async def guest_url(server: Server, path: str, count: int) -> tuple[list[Guest], str]:
    session = await put_session(server.http_base, server.token, path)
    guests, _link = await claim_guests(server, f"json:notebook:{session['fileId']}", path, count)
    return guests, f"{server.ws_base}api/collaboration/room/json:notebook:{session['fileId']}"


def room_of(url: str, guest: Guest) -> str:
    return f"{url}?sessionId={quote(guest.session['sessionId'])}"


# --- frames ----------------------------------------------------------------------------------

def frame_kinds(client: int, first: int) -> list[tuple[str, bytes, bool]]:
    """(kind, frame, slow before the change)."""
    known = [(first + 2 * i + 1, 1) for i in range(RANGES)]
    shifted = [(first + 2 * i, 1) for i in range(RANGES)]
    widest = [(first + 2 * i, 1) for i in range(100_000)]
    return [
        ("update: the document's whole delete set (30 000 ranges)",
         sync(2, delete_only(client, known)), True),
        ("update: 30 000 deletions it does not have", sync(2, delete_only(client, shifted)),
         True),
        ("update: 100 000 new ranges (under the budget)", sync(2, delete_only(client, widest)),
         True),
        ("update: 500 000 ranges (over the budget)", sync(2, delete_only(client, widest * 5)),
         True),
        ("SyncStep1: empty", sync(0, b"\x00"), False),
        ("SyncStep1: a bogus client", sync(0, state_vector({123456789: 5})), False),
        ("SyncStep1: 20 000 bogus clients",
         sync(0, state_vector({10**12 + i: i + 1 for i in range(20_000)})), False),
        ("SyncStep1: all but the fragmented client", sync(0, state_vector({client: first})),
         False),
    ]


async def measure_frames(server: Server, args: argparse.Namespace, side: str
                         ) -> dict[str, Any]:
    owner, _ = await owner_peer(server, "fragmented.ipynb")
    first = decode_state_vector(owner.doc.get_state()).get(owner.doc.client_id, 0)
    owner.send(owner.edit(lambda: owner.source(0).insert(0, "ab" * RANGES)))
    owner.send(sync(2, delete_only(owner.doc.client_id,
                                   [(first + 2 * i + 1, 1) for i in range(RANGES)])))
    guests, url = await guest_url(server, "fragmented.ipynb", 1)
    prober = Prober()
    await prober.connect(room_of(url, guests[0]), guests[0].cookie_header())
    await prober.cost_ms(b"\x01\x01\x00")  # warm up: the owner's edits are in
    costs: dict[str, list[float]] = {}
    skipped = []
    for kind, frame, slow in frame_kinds(owner.doc.client_id, first):
        reps = args.before_reps if side == "before" and slow else args.reps
        if side == "before" and slow and "budget" in kind and not args.before_all:
            skipped.append(kind)  # quadratic: 100 000 x 30 000 comparisons, minutes each
            continue
        costs[kind] = [await prober.cost_ms(frame) for _ in range(reps)]
        _log(f"  {side} {kind}: {', '.join(fmt(c) for c in costs[kind])} ms")
    await owner.close()
    assert prober.conn is not None
    await prober.conn.close()
    return {"costs_ms": costs, "skipped": skipped, "notices": prober.notices}


# --- lurkers ---------------------------------------------------------------------------------

async def lurk(server: Server, url: str, guest: Guest) -> asyncio.StreamWriter:
    """A guest's socket that sends one SyncStep1 and never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    target = room_of(url, guest).split(f":{server.port}", 1)[1]
    writer.write((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  f"Cookie: {guest.cookie_header()}\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"lurker refused: {head[:200]!r}")
    step1 = sync(0, b"\x00")
    writer.write(bytes((0x82, 0x80 | len(step1))) + b"\0\0\0\0" + step1)  # masked with 0
    return writer


async def sample_rss(server: Server, seconds: float) -> float:
    """Median VmRSS (MiB) over ``seconds``, sampled every 0.25 s."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(server.rss_bytes() / MIB)
        await asyncio.sleep(0.25)
    return summary(samples)["median"]


async def measure_lurkers(server: Server, path: str, args: argparse.Namespace
                          ) -> dict[str, Any]:
    owner, _ = await owner_peer(server, path)
    guests, url = await guest_url(server, path, args.lurkers)
    await asyncio.sleep(2)
    res: dict[str, Any] = {"rss_open_mib": await sample_rss(server, 2)}
    cpu0 = server.cpu_seconds()
    t0 = time.monotonic()
    writers = await asyncio.gather(*(lurk(server, url, g) for g in guests))
    await asyncio.sleep(max(0.0, args.hold - 2 - (time.monotonic() - t0)))
    res["rss_during_mib"] = await sample_rss(server, 2)
    res["step1_cpu_s"] = server.cpu_seconds() - cpu0
    await asyncio.sleep(max(0.0, args.stall_wait - 2 - (time.monotonic() - t0)))
    res["rss_held_mib"] = await sample_rss(server, 2)
    for writer in writers:
        writer.transport.abort()
    await asyncio.sleep(max(0.0, args.settle - 2))
    res["rss_closed_mib"] = await sample_rss(server, 2)
    res["rss_peak_mib"] = peak_rss_bytes(server.pid) / MIB
    res["owner_open"] = owner.conn is not None and owner.conn.open
    await owner.close()
    return res


# --- main ------------------------------------------------------------------------------------

def write_fixtures(tmp: Path, doc_mib: int) -> dict[str, Path]:
    fragmented = tmp / "fragmented.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("")]
    nbformat.write(nb, str(fragmented))
    large = tmp / f"images-{doc_mib}mb.ipynb"
    nbformat.write(fixtures.image_notebook(doc_mib * MIB), str(large))
    return {"fragmented": fragmented, "large": large}


def run_side(side: str, scenario: str, paths: dict[str, Path], baseline: Path,
             args: argparse.Namespace) -> dict[str, Any]:
    fixture = paths["fragmented"] if scenario == "frames" else paths["large"]
    busy = wait_quiet(5.0)
    server = start(side, baseline, fixture, args.nice)
    t = time.perf_counter()
    try:
        if scenario == "frames":
            res = asyncio.run(measure_frames(server, args, side))
        else:
            res = asyncio.run(measure_lurkers(server, fixture.name, args))
    except Exception as err:
        res = {"error": repr(err)[:500]}
    finally:
        res_log = server.log_problems()
        server.stop()
    res.update(elapsed_s=time.perf_counter() - t, machine_busy_before_pct=busy, log=res_log)
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--scenarios", nargs="+", choices=("frames", "lurkers"),
                        default=["frames", "lurkers"])
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=["before", "after"],
                        help="after-notrim: the working tree without malloc_trim")
    parser.add_argument("--baseline", default=BASELINE, help="git revision for 'before'")
    parser.add_argument("--reps", type=int, default=5, help="frames of each kind (default 5)")
    parser.add_argument("--before-reps", type=int, default=1,
                        help="frames of each slow kind before the change (default 1)")
    parser.add_argument("--before-all", action="store_true",
                        help="also the kinds that take minutes each before the change")
    parser.add_argument("--lurkers", type=int, default=30)
    parser.add_argument("--doc-mib", type=int, default=40)
    parser.add_argument("--hold", type=float, default=10.0)
    parser.add_argument("--stall-wait", type=float, default=45.0)
    parser.add_argument("--settle", type=float, default=15.0)
    parser.add_argument("--nice", type=int, default=0, help="e.g. -10 (see bench/README.md)")
    parser.add_argument("--tag", help="save as abuse-TAG.json / .md")
    args = parser.parse_args(argv)
    command = "python -m bench.abuse " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.nice:
        os.nice(args.nice)
    info: dict[str, Any] = machine_info()
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        s: {side: [] for side in args.sides} for s in args.scenarios}
    try:
        baseline = extract_baseline(args.baseline, tmp / "baseline")
        paths = write_fixtures(tmp, args.doc_mib)
        for run in range(args.runs):
            order = args.sides if run % 2 == 0 else list(reversed(args.sides))
            for scenario in args.scenarios:
                for side in order:
                    res = run_side(side, scenario, paths, baseline, args)
                    res["run"] = run
                    results[scenario][side].append(res)
                    _log(f"[abuse] run {run + 1}/{args.runs} {scenario} {side}: "
                         f"{json.dumps({k: v for k, v in res.items() if k != 'log'})[:400]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc: dict[str, Any] = {"scenario": "abuse", "command": command, "machine": info,
                           "params": {k: v for k, v in vars(args).items() if k != "tag"},
                           "started": dt.datetime.fromtimestamp(started).isoformat(
                               timespec="seconds"),
                           "duration_s": time.time() - started, "results": results,
                           "git": {"start": info["git"], "end": git_info()}}
    md = markdown(doc)
    latest = save("abuse" + (f"-{args.tag}" if args.tag else ""), doc, started, md)
    _log(f"[abuse] done in {doc['duration_s'] / 60:.1f} min -> {latest}")
    _log(md)
    return 0


# --- summary ---------------------------------------------------------------------------------

def _cells(runs: Sequence[dict[str, Any]], key: str) -> str:
    return cell([r[key] for r in runs if isinstance(r.get(key), (int, float))])


def markdown(doc: dict[str, Any]) -> str:
    p, m = doc["params"], doc["machine"]
    sides = p["sides"]
    lines = [
        f"Command: `{doc['command']}` ({doc['started']}, {doc['duration_s'] / 60:.1f} min; "
        f"git {m['git'].get('commit', '?')}, uncommitted server files: "
        f"{m['git'].get('uncommitted_server_files', '?')}; before = {p['baseline']}).",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_mib']} MiB.",
        "Cells: `median [min–max]` over the runs (frames: over every frame of every run).", ""]
    frames = doc["results"].get("frames")
    if frames:
        lines += ["| frame from a read-only guest (ms to the next answer) | "
                  + " | ".join(sides) + " |", "|---|" + "---:|" * len(sides)]
        kinds: list[str] = []
        for side in sides:
            for res in frames[side]:
                kinds += [k for k in res.get("costs_ms", {}) if k not in kinds]
        for kind in kinds:
            row = []
            for side in sides:
                values = [v for res in frames[side] for v in res.get("costs_ms", {}).get(kind, [])]
                row.append(cell(values) if values else "not run (minutes)")
            lines.append(f"| {kind} | " + " | ".join(row) + " |")
        for side in sides:
            worst = [max(v for vs in res["costs_ms"].values() for v in vs)
                     for res in frames[side] if res.get("costs_ms")]
            lines.append(f"| **most expensive frame measured, {side}** | "
                         + " | ".join(cell(worst) if s == side else "" for s in sides) + " |")
        lines.append("")
    lurkers = doc["results"].get("lurkers")
    if lurkers:
        lines += [f"{p['lurkers']} guests' sockets that never read, one SyncStep1 each, on a "
                  f"{p['doc_mib']} MB notebook:", "",
                  "| server | " + " | ".join(sides) + " |", "|---|" + "---:|" * len(sides)]
        rows = [("rss_open_mib", "RSS, the notebook open, owner alone (MiB)"),
                ("rss_during_mib", f"RSS {p['hold']:.0f} s after the SyncStep1s (MiB)"),
                ("step1_cpu_s", "server CPU for the SyncStep1s (s)"),
                ("rss_held_mib", f"RSS {p['stall_wait']:.0f} s after, sockets still open (MiB)"),
                ("rss_closed_mib", f"RSS {p['settle']:.0f} s after the sockets closed (MiB)"),
                ("rss_peak_mib", "peak RSS, VmHWM (MiB)")]
        for key, label in rows:
            lines.append(f"| {label} | " + " | ".join(_cells(lurkers[s], key) for s in sides)
                         + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
