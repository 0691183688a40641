"""Kernels on a Jupyter Enterprise Gateway against local kernels, side by side in one run.

    python -m bench.gateway [--runs 3] [--execs 100] [--watchers 1] [--idle-s 10] [--nice -10]

Each run starts an Enterprise Gateway (``tests/support/gateway.py``: from its own virtualenv,
``bash scripts/gateway_venv.sh``; local kernels, loopback, a token) and two Huddle servers
(``servers.Server``): ``local`` starts its kernels itself, ``gateway`` has
``--GatewayClient.url`` and the gateway's token. The sides are measured one after the other
(the idle one SIGSTOPped), the order flipping every run.

Points, per side:
- ``latency``: ``bench.execution.measure_latency``: ``print(1)`` run ``--execs`` times;
  from just before the ``POST api/kernels/{id}/execute`` is written to the moment each
  watcher's socket is read with the frame that gives the cell its output; p50/p99 over
  every (run, watcher) pair.
- ``idle``: a kernel the server is connected to (one run done), then ``--idle-s`` seconds
  of nothing: the Huddle server's CPU % (100 = one core) meanwhile.

Results: ``bench/results/gateway.json``; a Markdown summary is printed (for the
"Gateway" section of docs/PERFORMANCE.md, written by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import fixtures
from .execution import (
    connect_room,
    measure_latency,
    notebook_for,
    run_and_wait,
    start_session,
    stop_session,
)
from .servers import CpuMeter, Server, git_info, machine_info, wait_quiet

RESULTS = Path(__file__).resolve().parent / "results"
SIDES = ("local", "gateway")


def _log(msg: str) -> None:
    print(msg, flush=True)


def start_gateway() -> Any:
    """A started Enterprise Gateway (its ``stop()`` ends it and its kernels)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.support.gateway import Gateway, gateway_command

    command = gateway_command()
    if command is None:
        raise SystemExit("Enterprise Gateway's virtualenv is missing: "
                         "bash scripts/gateway_venv.sh")
    return Gateway(Path(tempfile.mkdtemp(prefix="bench-gateway-")), command).start()


async def measure_idle(server: Server, path: str, idle_s: float) -> dict[str, Any]:
    """The server's CPU while its connection to an idle kernel stays open."""
    session_id, kernel_id = await start_session(server, path)
    try:
        session, executor, peers = await connect_room(server, path, 0)
        document_id = f"json:notebook:{session['fileId']}"
        await run_and_wait(server, kernel_id, document_id, executor, 0)  # connected now
        meter = CpuMeter(server)
        await asyncio.sleep(idle_s)  # the measured interval: nothing happens
        cpu = meter.read()
        await asyncio.gather(*(p.close() for p in [executor, *peers]), return_exceptions=True)
        return cpu
    finally:
        await stop_session(server, session_id)


def measure_side(server: Server, run: int, args: argparse.Namespace) -> dict[str, Any]:
    server.resume()
    try:
        busy = wait_quiet(3.0)
        latency = asyncio.run(measure_latency(server, f"latency-{run}.ipynb", args.watchers,
                                              args.execs))
        idle = asyncio.run(measure_idle(server, f"idle-{run}.ipynb", args.idle_s))
    finally:
        server.pause()
    return {"latency": latency, "idle": idle, "busy_before_pct": busy}


def summary(results: dict[str, list[dict[str, Any]]]) -> str:
    def median(side: str, point: str, key: str) -> float:
        values = [r[point][key] for r in results[side]]
        return statistics.median(values) if values else float("nan")

    rows = ["| | local kernel | kernel on the gateway |", "|---|---|---|"]
    for label, point, key in (("`print(1)` → output at a watcher, p50 (ms)", "latency",
                               "p50_ms"),
                              ("same, p99 (ms)", "latency", "p99_ms"),
                              ("first run, connecting included (ms)", "latency",
                               "first_exec_with_connect_ms"),
                              ("Huddle server CPU, idle kernel connected (%)", "idle",
                               "server_cpu_pct")):
        rows.append(f"| {label} | {median('local', point, key):.1f} | "
                    f"{median('gateway', point, key):.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--execs", type=int, default=100)
    parser.add_argument("--watchers", type=int, default=1)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--nice", type=int, default=0, help="e.g. -10 (see bench/README.md)")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    paths = []
    for run in range(args.runs):
        for kind, name in (("latency", f"latency-{run}.ipynb"), ("latency", f"idle-{run}.ipynb")):
            paths.append(fixtures.write(name, notebook_for(kind)))
    gateway = start_gateway()
    servers = {
        "local": Server("huddle", paths, nice=args.nice),
        "gateway": Server("huddle", paths, nice=args.nice, extra_args=[
            f"--GatewayClient.url={gateway.url}",
            f"--GatewayClient.auth_token={gateway.token}"]),
    }
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    try:
        for server in servers.values():
            server.start()
            server.pause()
        for run in range(args.runs):
            order = SIDES if run % 2 == 0 else SIDES[::-1]
            for side in order:
                _log(f"run {run + 1}/{args.runs}: {side}")
                results[side].append(measure_side(servers[side], run, args))
    finally:
        for server in servers.values():
            server.stop()
        gateway.stop()
    RESULTS.mkdir(exist_ok=True)
    out = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "git": git_info(), "machine": machine_info(), "args": vars(args),
           "results": results}
    (RESULTS / "gateway.json").write_text(json.dumps(out, indent=1, default=str))
    print(summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
