"""Benchmark harness CLI: Huddle against jupyter-collaboration 5.0.4, side by side.

    python -m bench all [--quick]          every scenario, then docs/PERFORMANCE.md
    python -m bench open|fanout|throughput|rooms [--runs N] [--profile huddle|reference|both]
    python -m bench report                 rewrite docs/PERFORMANCE.md from bench/results/
    python -m bench setup                  create bench/.venv-reference only

Results (raw per-run figures) go to bench/results/<scenario>.json (git-ignored); ``report``
turns the latest of each into the generated part of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py ...`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench import scenarios as sc
from bench.servers import ensure_reference_venv, git_info, machine_info

RESULTS = sc.RESULTS

# (runs, duration) per scenario, full and --quick
DEFAULTS = {
    "open": {"runs": 5, "quick_runs": 2},
    "fanout": {"runs": 3, "quick_runs": 2, "duration": 10.0, "quick_duration": 3.0},
    "throughput": {"runs": 5, "quick_runs": 2, "duration": 10.0, "quick_duration": 3.0},
    "rooms": {"runs": 3, "quick_runs": 2, "rooms": 100, "quick_rooms": 50,
              "idle": 5.0, "quick_idle": 3.0},
}
SCENARIOS = ("open", "fanout", "throughput", "rooms")


def _log(msg: str) -> None:
    print(msg, flush=True)


def run_one(name: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    d = DEFAULTS[name]
    runs = args.runs or (d["quick_runs"] if args.quick else d["runs"])
    opts = sc.Options(quick=args.quick, runs=runs, profile=args.profile, log=_log,
                      profile_point=args.profile_point, sides=tuple(args.sides))
    if args.quick:  # no retries, short waits for quiet: noisy but fast
        opts.max_attempts, opts.quiet_wait_s = 1, 0.0
    if args.max_attempts:
        opts.max_attempts = args.max_attempts
    opts.nice = args.nice
    started = time.time()
    git_start = git_info()
    params: dict[str, Any] = {"runs": runs, "max_attempts": opts.max_attempts, "nice": args.nice}
    if name == "open":
        res = sc.run_scenario(name, [sc.OPEN_POINTS], sc.open_measure(opts), sc.open_fixtures(opts),
                              opts)
    elif name == "fanout":
        points = tuple(args.clients or (sc.FANOUT_QUICK_POINTS if args.quick
                                        else sc.FANOUT_POINTS))
        if opts.profile_point is not None:
            opts.profile_point = int(opts.profile_point)
        duration = args.duration or (d["quick_duration"] if args.quick else d["duration"])
        params.update(clients=points, duration_s=duration, interval_ms=20)
        res = sc.run_scenario(name, [points], sc.fanout_measure(opts, duration),
                              sc.fanout_fixtures(points), opts)
    elif name == "throughput":
        duration = args.duration or (d["quick_duration"] if args.quick else d["duration"])
        params.update(writers=10, window=16, duration_s=duration)
        res = sc.run_scenario(name, [["10w"]], sc.throughput_measure(opts, duration),
                              sc.throughput_fixtures(), opts)
    else:
        count = args.rooms or (d["quick_rooms"] if args.quick else d["rooms"])
        idle = d["quick_idle"] if args.quick else d["idle"]
        params.update(rooms=count, clients_per_room=2, idle_s=idle)
        res = sc.run_scenario(name, [["idle"], ["burst"]], sc.rooms_measure(opts, count, idle),
                              sc.rooms_fixtures(count), opts, retry=False)
    res.update(scenario=name, command=command, params=params, quick=args.quick,
               profiled=bool(args.profile), started=dt.datetime.fromtimestamp(started).isoformat(
                   timespec="seconds"), duration_s=time.time() - started,
               profiles=opts.profiles, git={"start": git_start, "end": git_info()})
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Profiled runs are perturbed by the sampler: kept apart from the figures.
    suffix = "-profiled" if args.profile else ""
    if args.tag:  # experiments: kept apart, never read by the report
        suffix += f"-{args.tag}"
    out = RESULTS / f"{name}{suffix}.json"
    stamp = dt.datetime.fromtimestamp(started).strftime("%Y%m%d-%H%M%S")
    text = json.dumps(res, indent=1, default=str)
    out.write_text(text)
    (RESULTS / "history").mkdir(exist_ok=True)
    (RESULTS / "history" / f"{name}{suffix}-{stamp}.json").write_text(text)
    _log(f"[{name}] done in {res['duration_s']:.0f} s -> {out}")
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=(*SCENARIOS, "all", "report", "setup"))
    parser.add_argument("--quick", action="store_true", help="fewer runs and points (< 3 min)")
    parser.add_argument("--runs", type=int, help="runs per scenario (default: 5/3, quick 2)")
    parser.add_argument("--duration", type=float, help="typing seconds (fanout, throughput)")
    parser.add_argument("--clients", type=int, nargs="+", help="fanout receiver counts")
    parser.add_argument("--rooms", type=int, help="rooms for the rooms scenario (default 100)")
    parser.add_argument("--profile", choices=("huddle", "reference", "both"),
                        help="py-spy the server during one point's measured phase")
    parser.add_argument("--profile-point", help="which point to profile (fanout: receivers)")
    parser.add_argument("--max-attempts", type=int,
                        help="measure again while other processes are busy (default 2, quick 1)")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness for both servers and the client, e.g. -10 so that other "
                        "work on a shared machine gets less of the CPU during measurements")
    parser.add_argument("--sides", nargs="+", choices=("huddle", "reference"),
                        default=["huddle", "reference"], help="servers to measure")
    parser.add_argument("--tag", help="save results as <scenario>[-profiled]-TAG.json (an "
                        "experiment the report does not read)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite the doc")
    args = parser.parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python -m bench " + " ".join(shlex.quote(a) for a in argv_used)

    if args.scenario == "setup":
        ensure_reference_venv()
        return 0
    if args.scenario != "report":
        ensure_reference_venv()
        if args.nice:
            os.nice(args.nice)  # before any thread exists, so all inherit it
        info = machine_info()
        _log(f"machine: {info['nproc']} cores, {info['cpu_model']}; {info['versions']}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        if not args.tag and not args.profile:
            (RESULTS / "machine.json").write_text(json.dumps(info, indent=1))
        names = SCENARIOS if args.scenario == "all" else (args.scenario,)
        t0 = time.time()
        for name in names:
            run_one(name, args, command)
        _log(f"total {time.time() - t0:.0f} s")
    if not args.no_report and not args.profile and not args.tag:
        from bench.report import write_report
        path = write_report()
        _log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
