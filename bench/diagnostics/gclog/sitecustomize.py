"""Diagnostics (not part of Huddle): log the server's garbage-collector pauses.

Use: BENCH_SERVER_PYTHONPATH=bench/diagnostics/gclog python -m bench fanout ... --tag gclog
Writes $BENCH_DIAG_DIR/gc-<pid>.log (default /tmp): every gen-2 collection and every
collection over 5 ms, with its duration and the number of tracked objects.
"""

import gc
import os
import time

_log = open(os.path.join(os.environ.get("BENCH_DIAG_DIR", "/tmp"),  # noqa: SIM115
                         f"gc-{os.getpid()}.log"), "w", buffering=1)
_start = [0.0]


def _callback(phase: str, info: dict) -> None:
    if phase == "start":
        _start[0] = time.perf_counter()
        return
    ms = (time.perf_counter() - _start[0]) * 1000
    if info["generation"] == 2 or ms > 5:
        tracked = len(gc.get_objects()) if info["generation"] == 2 else ""
        _log.write(f"{time.time():.3f} gen{info['generation']} {ms:.1f}ms "
                   f"collected={info['collected']} objs={tracked}\n")


gc.callbacks.append(_callback)
