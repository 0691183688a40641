"""Diagnostics (not part of Huddle): what the server's latency would be if the objects
created at start-up were moved out of the collector's reach (``gc.freeze()``), 3 s after the
interpreter starts (the server is up by then, before the benchmark connects).

Use: BENCH_SERVER_PYTHONPATH=bench/diagnostics/gcfreeze python -m bench fanout ... --tag gcfreeze
"""

import gc
import os
import threading

_log = open(os.path.join(os.environ.get("BENCH_DIAG_DIR", "/tmp"),  # noqa: SIM115
                         f"gcfreeze-{os.getpid()}.log"), "w", buffering=1)


def _freeze() -> None:
    gc.collect()
    gc.freeze()
    _log.write(f"frozen {gc.get_freeze_count()} objects\n")


threading.Timer(3.0, _freeze).start()
