"""The four scenarios. Each measures one server (a running ``Server``) at one point.

The driver (``run_scenario``) keeps both servers of a run alive, SIGSTOPs the one not
being measured, and alternates which side goes first at every point (and flips the order
every run), so that both sides see the same machine noise.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fixtures
from .profile import Recorder, summarize, to_markdown
from .proto import Peer, open_peer, put_session, quiesce, wait_synced
from .servers import SIDES, CpuMeter, Server, wait_quiet
from .stats import percentile

MIB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"

# measure(server, point, run, attempt): attempt > 0 is a retry after a noisy measurement and
# must use fresh files (a retry of a cold open must be cold too).
Measure = Callable[[Server, Any, int, int], Awaitable[dict[str, Any]]]
ATTEMPTS = 3  # fixture copies per point; Options.max_attempts <= this


@dataclass
class Options:
    quick: bool = False
    runs: int = 3
    profile: str | None = None   # "huddle", "reference" or "both": py-spy the measured phase
    profile_point: Any = None    # which point to profile (scenario default if None)
    sides: Sequence[str] = SIDES
    max_attempts: int = 2  # measurements repeated while other processes are busy
    noise_limit_pct: float = 50.0  # other processes' CPU (100 = 1 core) that forces a retry
    quiet_wait_s: float = 3.0      # at most this long waiting for the machine to go idle
    nice: int = 0                  # e.g. -10: servers and client outrank other work
    log: Callable[[str], None] = print
    profiles: list[dict[str, Any]] = field(default_factory=list)

    def profiled(self, side: str, point: Any, default_point: Any) -> bool:
        if not self.profile or self.profile not in (side, "both"):
            return False
        return point == (self.profile_point if self.profile_point is not None else default_point)


async def _close_all(peers: Sequence[Peer]) -> None:
    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)


_warmed: set[tuple[int, int]] = set()


async def _warm_up(server: Server) -> None:
    """Once per server: open and close one small room so first-use costs (imports, database
    connections, thread pools) are not charged to the first measured point."""
    if (server.pid, server.port) in _warmed:
        return
    _warmed.add((server.pid, server.port))
    peer = await open_peer(server, "warmup.ipynb", "warmup")
    await wait_synced(peer, 10)
    await peer.close()
    await asyncio.sleep(0.3)


async def _connect_many(server: Server, path: str, count: int, expect_cells: int,
                        batch: int = 25, session: dict[str, Any] | None = None,
                        prefix: str = "r") -> tuple[list[Peer], float]:
    """Connect ``count`` peers to one room, ``batch`` at a time; all synced on return."""
    if session is None:
        session = await put_session(server.http_base, server.token, path)
    peers: list[Peer] = []
    t0 = time.perf_counter()

    async def one(i: int) -> Peer:
        peer = await open_peer(server, path, f"{prefix}{i}", session=session)
        await wait_synced(peer, expect_cells)
        return peer

    for start in range(0, count, batch):
        peers += await asyncio.gather(*(one(i) for i in range(start, min(count, start + batch))))
    return peers, time.perf_counter() - t0


def _profile_start(opts: Options, server: Server, scenario: str, point: Any, default: Any,
                   rate: int = 100) -> Recorder | None:
    if not opts.profiled(server.side, point, default):
        return None
    out = RESULTS / "profiles" / f"{scenario}-{point}-{server.side}.raw"
    return Recorder(server.pid, out, rate).start()


def _profile_finish(opts: Options, rec: Recorder | None, server: Server, scenario: str,
                    point: Any, extra: str = "") -> None:
    if rec is None:
        return
    rec.stop()
    if not rec.out.exists():
        opts.log(f"py-spy produced no output: {rec.stderr.read_text()[-500:]}")
        return
    summary = summarize(rec.out)
    summary["seconds"] = rec.duration
    summary["rate_hz"] = rec.rate
    title = f"{server.side}: {scenario} {point} {extra}".strip()
    md = to_markdown(title, summary)
    (rec.out.with_suffix(".md")).write_text(md + "\n")
    opts.profiles.append({"scenario": scenario, "point": point, "side": server.side,
                          "summary": summary, "markdown": md, "raw": str(rec.out)})
    opts.log(md)


# =====================================================================================
# open: cold open of 10 / 100 / 1000 cells and the 5 MB notebook
# =====================================================================================

OPEN_POINTS = ("cells-10", "cells-100", "cells-1000", "images-5mb")


PROFILE_OPENS = 10  # cold opens sampled when profiling an open point (one is too short)


def open_fixtures(opts: Options | None = None) -> list[Path]:
    out = [fixtures.warmup_fixture()]
    for source in (fixtures.cells_fixture(10), fixtures.cells_fixture(100),
                   fixtures.cells_fixture(1000), fixtures.images_fixture()):
        out += fixtures.copies(source, source.stem, ATTEMPTS)
        if opts is not None and opts.profile and source.stem == (opts.profile_point
                                                                 or "cells-1000"):
            out += fixtures.copies(source, f"{source.stem}-prof", PROFILE_OPENS)
    return out


async def _profile_opens(server: Server, point: str, expect: int) -> list[float]:
    """Cold-open more copies of the same notebook, one after another, for the sampler."""
    times = []
    for i in range(PROFILE_OPENS):
        peer = await open_peer(server, f"{point}-prof-{i:03d}.ipynb", "prof")
        times.append(await wait_synced(peer, expect) * 1000)
        await peer.close()
    return times


def open_measure(opts: Options) -> Measure:
    async def measure(server: Server, point: str, run: int, attempt: int) -> dict[str, Any]:
        await _warm_up(server)
        path = f"{point}-{attempt:03d}.ipynb"
        expect = fixtures.cell_count(fixtures.FIXTURE_DIR / path)
        meter = CpuMeter(server)
        rss0 = server.rss_bytes()
        cpu0 = server.cpu_seconds()
        t_put = time.perf_counter()
        session = await put_session(server.http_base, server.token, path)
        put_s = time.perf_counter() - t_put
        peer = await open_peer(server, path, "opener", session=session)
        cold_s = await wait_synced(peer, expect)
        rss_synced = server.rss_bytes()
        await asyncio.sleep(1.0)  # let background work (stores, saves) settle
        rss_settled = server.rss_bytes()
        second = await open_peer(server, path, "second", session=session)
        warm_s = await wait_synced(second, expect)
        cpu = server.cpu_seconds() - cpu0
        noise = meter.read()["other_cpu_pct"]
        ok = len(second.cells) == expect and len(peer.cells) == expect
        await _close_all([peer, second])
        extra = {}
        rec = _profile_start(opts, server, "open", point, "cells-1000", rate=250)
        if rec is not None:
            times = await _profile_opens(server, point, expect)
            extra = {"profiled_cold_open_ms": times}
            _profile_finish(opts, rec, server, "open", point,
                            f"({PROFILE_OPENS} cold opens, median "
                            f"{statistics.median(times):.0f} ms)")
        return {**extra, "cold_open_ms": cold_s * 1000, "warm_open_ms": warm_s * 1000,
                "put_ms": put_s * 1000, "rss_added_mib": (rss_settled - rss0) / MIB,
                "rss_added_at_sync_mib": (rss_synced - rss0) / MIB,
                "server_cpu_s": cpu, "cells_ok": ok, "bytes": peer.bytes_in,
                "other_cpu_pct": noise}
    return measure


# =====================================================================================
# fanout: N receivers + 1 writer typing one character every 20 ms
# =====================================================================================

FANOUT_POINTS = (1, 10, 50, 100, 300)
FANOUT_QUICK_POINTS = (10, 100)


def fanout_fixtures(points: Sequence[int]) -> list[Path]:
    base = fixtures.cells_fixture(10)
    out = [fixtures.warmup_fixture()]
    for n in points:
        out += fixtures.copies(base, f"fanout-{n}", ATTEMPTS)
    return out


def fanout_measure(opts: Options, duration: float, interval: float = 0.020) -> Measure:
    async def measure(server: Server, n: int, run: int, attempt: int) -> dict[str, Any]:
        await _warm_up(server)
        path = f"fanout-{n}-{attempt:03d}.ipynb"
        rss0 = server.rss_bytes()
        session = await put_session(server.http_base, server.token, path)
        writer = await open_peer(server, path, "writer", session=session)
        await wait_synced(writer, 10)
        receivers, connect_s = await _connect_many(server, path, n, 10, session=session)
        settle_s = await quiesce([writer, *receivers], poll_s=0.1)  # join-time presence traffic
        text = writer.source(0)
        base = len(text)
        arrivals: list[list[float]] = []
        for peer in receivers:
            src = peer.source(0)
            seen: list[float] = []
            arrivals.append(seen)

            def on_update(now: float, src: Any = src, seen: list[float] = seen) -> None:
                got = len(src) - base
                while len(seen) < got:
                    seen.append(now)
            peer.on_update = on_update
        edits = int(duration / interval)
        sends: list[float] = []
        rec = _profile_start(opts, server, "fanout", n, 300)
        meter = CpuMeter(server)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for k in range(edits):
            delay = t0 + k * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = writer.edit(lambda: text.insert(len(text), "x"))
            sends.append(time.perf_counter())
            writer.send(frame)
        cpu = meter.read()
        rss1 = server.rss_bytes()
        deadline = time.perf_counter() + 20
        while time.perf_counter() < deadline and any(len(a) < edits for a in arrivals):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        _profile_finish(opts, rec, server, "fanout", n, f"receivers, {edits} edits")
        latencies = [(a[k] - sends[k]) * 1000
                     for a in arrivals for k in range(min(len(a), edits))]
        lost = sum(edits - min(len(a), edits) for a in arrivals)
        errors = sum(1 for p in receivers if p.error is not None)
        send_span = sends[-1] - sends[0] if len(sends) > 1 else 0
        await _close_all([writer, *receivers])
        return {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
                "p99_ms": percentile(latencies, 99), "max_ms": max(latencies, default=float("nan")),
                "samples": len(latencies), "lost": lost, "client_errors": errors,
                "server_cpu_pct": cpu["server_cpu_pct"], "client_cpu_pct": cpu["client_cpu_pct"],
                "other_cpu_pct": cpu["other_cpu_pct"], "rss_mib": rss1 / MIB,
                "rss_added_mib": (rss1 - rss0) / MIB,
                "connect_all_s": connect_s, "settle_s": settle_s, "edits": edits,
                "achieved_rate_hz": (edits - 1) / send_span if send_span else float("nan")}
    return measure


# =====================================================================================
# throughput: 10 writers typing as fast as the server accepts (windowed), 1 observer
# =====================================================================================

def throughput_fixtures() -> list[Path]:
    base = fixtures.cells_fixture(10)
    return [fixtures.warmup_fixture(), *fixtures.copies(base, "throughput", ATTEMPTS)]


def throughput_measure(opts: Options, duration: float, writers: int = 10,
                       window: int = 16) -> Measure:
    async def measure(server: Server, point: str, run: int, attempt: int) -> dict[str, Any]:
        await _warm_up(server)
        path = f"throughput-{attempt:03d}.ipynb"
        session = await put_session(server.http_base, server.token, path)
        observer = await open_peer(server, path, "observer", session=session)
        await wait_synced(observer, 10)
        peers, _ = await _connect_many(server, path, writers, 10, session=session, prefix="w")
        await quiesce([observer, *peers], poll_s=0.1)
        texts = [observer.source(i) for i in range(writers)]
        bases = [len(t) for t in texts]
        seen = [0] * writers
        sent = [0] * writers
        progress = asyncio.Event()
        seen_total = [0]

        def on_update(now: float) -> None:
            total = 0
            for i, t in enumerate(texts):
                seen[i] = len(t) - bases[i]
                total += seen[i]
            seen_total[0] = total
            progress.set()
        observer.on_update = on_update
        stop = asyncio.Event()

        async def type_loop(i: int, peer: Peer) -> None:
            own = peer.source(i)
            while not stop.is_set():
                if sent[i] - seen[i] >= window:
                    progress.clear()
                    await progress.wait()
                    continue
                frame = peer.edit(lambda: own.insert(len(own), "y"))
                sent[i] += 1
                peer.send(frame)
                await asyncio.sleep(0)  # let the sockets be read between edits

        rec = _profile_start(opts, server, "throughput", point, "10w")
        meter = CpuMeter(server)
        tasks = [asyncio.create_task(type_loop(i, p)) for i, p in enumerate(peers)]
        await asyncio.sleep(1.0)  # ramp up
        c0, t0 = seen_total[0], time.perf_counter()
        await asyncio.sleep(duration)
        c1, t1 = seen_total[0], time.perf_counter()
        cpu = meter.read()
        rss = server.rss_bytes()
        stop.set()
        progress.set()
        await asyncio.gather(*tasks)
        _profile_finish(opts, rec, server, "throughput", point)
        # Convergence: the observer must see every edit; then every replica (and a fresh
        # late joiner, i.e. the server's state) must hold the same text in every cell.
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and seen != sent:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        late = await open_peer(server, path, "late", session=session)
        await wait_synced(late, 10)
        replicas = [observer, *peers, late]
        contents = [[str(r.source(i)) for i in range(writers)] for r in replicas]
        equal = all(c == contents[0] for c in contents)
        complete = all(len(contents[0][i]) == bases[i] + sent[i] for i in range(writers))
        await _close_all(replicas)
        return {"edits_per_s": (c1 - c0) / (t1 - t0), "sent_total": sum(sent),
                "server_cpu_pct": cpu["server_cpu_pct"], "client_cpu_pct": cpu["client_cpu_pct"],
                "other_cpu_pct": cpu["other_cpu_pct"], "rss_mib": rss / MIB,
                "replicas_equal": equal and complete,
                "client_errors": sum(1 for r in replicas if r.error is not None)}
    return measure


# =====================================================================================
# rooms: RSS per idle room (R rooms x 2 clients) and R rooms opened at the same moment
# =====================================================================================

def rooms_fixtures(count: int) -> list[Path]:
    base = fixtures.cells_fixture(10)
    return [fixtures.warmup_fixture(), *fixtures.copies(base, "room", count),
            *fixtures.copies(base, "burst", count)]


def rooms_measure(opts: Options, count: int, idle_s: float) -> Measure:
    async def idle(server: Server, run: int) -> dict[str, Any]:
        await _warm_up(server)
        await asyncio.sleep(0.5)
        rss0 = server.rss_bytes()
        peers: list[Peer] = []
        t0 = time.perf_counter()
        for i in range(count):
            path = f"room-{i:03d}.ipynb"
            session = await put_session(server.http_base, server.token, path)
            pair = await asyncio.gather(*(open_peer(server, path, f"u{k}", session=session)
                                          for k in range(2)))
            await asyncio.gather(*(wait_synced(p, 10) for p in pair))
            peers += pair
        open_s = time.perf_counter() - t0
        await asyncio.sleep(2.0)
        rec = _profile_start(opts, server, "rooms", "idle", "idle")
        meter = CpuMeter(server)
        await asyncio.sleep(idle_s)
        cpu = meter.read()
        _profile_finish(opts, rec, server, "rooms", "idle")
        rss1 = server.rss_bytes()
        errors = sum(1 for p in peers if p.error is not None or p.closed.done())
        await _close_all(peers)
        return {"rss_per_room_kib": (rss1 - rss0) / count / 1024,
                "rss_added_mib": (rss1 - rss0) / MIB, "idle_server_cpu_pct":
                cpu["server_cpu_pct"], "other_cpu_pct": cpu["other_cpu_pct"],
                "sequential_open_s": open_s, "client_errors": errors}

    async def burst(server: Server, run: int) -> dict[str, Any]:
        await _warm_up(server)
        log0 = server.log_size()
        failures: list[str] = []
        done: list[float] = []
        rec = _profile_start(opts, server, "rooms", "burst", "burst", rate=250)

        async def client(i: int, k: int, t0: float) -> Peer | None:
            path = f"burst-{i:03d}.ipynb"
            try:
                peer = await open_peer(server, path, f"b{i}-{k}")
                await wait_synced(peer, 10, timeout=120)
                done.append(time.perf_counter() - t0)
                return peer
            except Exception as err:
                failures.append(repr(err)[:200])
                return None

        meter = CpuMeter(server)
        t0 = time.perf_counter()
        peers = await asyncio.gather(*(client(i, k, t0) for i in range(count) for k in range(2)))
        all_s = time.perf_counter() - t0
        cpu = meter.read()
        _profile_finish(opts, rec, server, "rooms", "burst")
        await asyncio.sleep(0.5)
        problems = server.log_problems(log0)
        await _close_all([p for p in peers if p is not None])
        return {"burst_all_synced_s": all_s, "burst_p50_s": percentile(done, 50),
                "burst_failures": len(failures), "first_failures": failures[:3],
                "server_log_errors": problems["errors"], "server_log_tracebacks":
                problems["tracebacks"], "server_log_warnings": problems["warnings"],
                "first_log_errors": problems["first_errors"],
                "server_cpu_pct": cpu["server_cpu_pct"], "other_cpu_pct": cpu["other_cpu_pct"]}

    async def measure(server: Server, point: str, run: int, attempt: int) -> dict[str, Any]:
        return await (idle if point == "idle" else burst)(server, run)
    return measure


# =====================================================================================
# driver
# =====================================================================================

def run_scenario(name: str, groups: Sequence[Sequence[Any]], measure: Measure,
                 server_fixtures: list[Path], opts: Options,
                 extra_args: dict[str, list[str]] | None = None,
                 retry: bool = True) -> dict[str, Any]:
    """Run ``opts.runs`` runs. Per run and per group of points, start both servers, then at
    each point measure each side in turn (the other SIGSTOPped); flip the order every run.

    Before each measurement, wait (bounded) for the machine to be idle. If other processes
    still used more than ``noise_limit_pct`` during it, measure again on fresh files, up to
    ``max_attempts`` times, and keep the quietest attempt."""
    points: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in range(opts.runs):
        order = list(opts.sides) if run % 2 == 0 else list(reversed(opts.sides))
        for group in groups:
            servers: dict[str, Server] = {}
            try:
                with ThreadPoolExecutor(len(order)) as pool:  # start both at once
                    started = {side: pool.submit(_start, side, server_fixtures, opts,
                                                 (extra_args or {}).get(side, []))
                               for side in order}
                    for side in order:
                        servers[side] = started[side].result()
                        servers[side].pause()
                for point in group:
                    for side in order:
                        res = _measure_quietest(name, measure, servers[side], point, run, opts,
                                                retry)
                        points.setdefault(str(point), {}).setdefault(side, []).append(res)
            finally:
                with ThreadPoolExecutor(max(1, len(servers))) as pool:
                    list(pool.map(Server.stop, servers.values()))
    return {"points": points}


def _start(side: str, server_fixtures: list[Path], opts: Options, args: list[str]) -> Server:
    """Start a server; retry twice (the source tree may be mid-edit when it imports)."""
    for attempt in range(3):
        server = Server(side, server_fixtures, args, nice=opts.nice)
        try:
            return server.start()
        except RuntimeError as err:
            server.stop()
            if attempt == 2:
                raise
            opts.log(f"{side} did not start ({str(err).splitlines()[0]}); retrying in 15 s")
            time.sleep(15)
    raise AssertionError("unreachable")


def _measure_quietest(name: str, measure: Measure, srv: Server, point: Any, run: int,
                      opts: Options, retry: bool) -> dict[str, Any]:
    attempts: list[dict[str, Any]] = []
    srv.resume()
    try:
        for attempt in range(opts.max_attempts if retry else 1):
            time.sleep(0.3)
            busy_before = wait_quiet(opts.quiet_wait_s)
            t = time.perf_counter()
            try:
                res = asyncio.run(measure(srv, point, run, attempt))
            except Exception as err:
                res = {"error": repr(err)[:500]}
            res["elapsed_s"] = time.perf_counter() - t
            res["machine_busy_before_pct"] = busy_before
            res["log"] = srv.log_problems()
            attempts.append(res)
            noisy = res.get("other_cpu_pct", 0.0) > opts.noise_limit_pct
            opts.log(f"[{name}] run {run + 1}/{opts.runs} {point} {srv.side}"
                     f"{f' attempt {attempt + 1}' if attempt else ''}: " + _brief(res)
                     + (" (noisy)" if noisy else ""))
            if "error" in res or not noisy:
                break
    finally:
        srv.pause()
    ok = [a for a in attempts if "error" not in a] or attempts
    best = min(ok, key=lambda a: a.get("other_cpu_pct", 0.0))
    best["attempts"] = len(attempts)
    return best


def _brief(res: dict[str, Any]) -> str:
    parts = []
    for key, val in res.items():
        if key in ("log", "first_failures", "first_log_errors"):
            continue
        if isinstance(val, float):
            parts.append(f"{key}={val:.4g}")
        elif isinstance(val, (int, bool, str)):
            parts.append(f"{key}={val}")
    return " ".join(parts)
