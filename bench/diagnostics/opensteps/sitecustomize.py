"""Diagnostics (not part of Huddle): time the steps of a room load by wrapping Huddle's
methods once their modules are imported (nothing in jupyter_huddle/ is changed).

Use: BENCH_SERVER_PYTHONPATH=bench/diagnostics/opensteps python -m bench open --sides huddle \
         --runs 1 --tag steps
Writes $BENCH_DIAG_DIR/steps-<pid>.log (default /tmp), one line per call with its duration.
"""

import functools
import inspect
import os
import sys
import threading
import time

_log = open(os.path.join(os.environ.get("BENCH_DIAG_DIR", "/tmp"),  # noqa: SIM115
                         f"steps-{os.getpid()}.log"), "w", buffering=1)
TARGETS = {
    "jupyter_huddle.collab.store.sqlite": ("SQLiteStore", ["record", "load", "put_record",
                                                           "flush"]),
    "jupyter_huddle.server.contents_backend": ("ContentsFileBackend", ["load"]),
    "jupyter_huddle.collab.documents.notebook": ("NotebookDocument", ["load", "export"]),
    "jupyter_huddle.collab.files.binding": ("FileBinding", ["load"]),
    "jupyter_huddle.collab.rooms.manager": ("RoomManager", ["_load", "session_for"]),
}


def _wrap(cls: type, name: str) -> None:
    fn = getattr(cls, name)

    def note(t0: float) -> None:
        _log.write(f"{time.time():.4f} {cls.__name__}.{name} "
                   f"{(time.perf_counter() - t0) * 1000:.1f}ms\n")

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                note(t0)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                note(t0)
    setattr(cls, name, wrapper)


def _patch_when_imported() -> None:
    done: set[str] = set()
    deadline = time.monotonic() + 60
    while len(done) < len(TARGETS) and time.monotonic() < deadline:
        for module, (cls_name, names) in TARGETS.items():
            cls = getattr(sys.modules.get(module), cls_name, None)
            if module in done or cls is None:
                continue
            for name in names:
                if hasattr(cls, name):
                    _wrap(cls, name)
            done.add(module)
        time.sleep(0.05)


threading.Thread(target=_patch_when_imported, daemon=True).start()
