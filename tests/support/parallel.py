"""What the suite's processes share when it runs on several pytest-xdist workers
(``pytest -n 3``), and what each keeps to itself.

- One folder for the whole run (``run_dir``): made by the process that starts the run (the
  xdist controller, or the only process) and named to every worker it starts through
  ``HUDDLE_TEST_RUN_DIR``. Each worker keeps its own temp folders below it.
- Tests marked ``timing`` (they assert a duration, a rate, a loop stall, or memory) run
  alone: while one runs, no other test of the run does, on any worker (``RunLock``). Being
  in one xdist group (``--dist loadgroup``) also puts them on one worker one after another,
  so that the run waits for the other workers once, not once per test.
- Ports for servers in their own process (``free_port``) come from a range of the worker's
  own, below the kernel's ephemeral range: no other worker, no ``bind(0)``, no outgoing
  connection takes a port between the moment a test picks it and the moment its server
  listens on it (or listens again on it, after a restart).
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import socket
from pathlib import Path
from typing import IO

RUN_DIR_ENV = "HUDDLE_TEST_RUN_DIR"


def worker_id() -> str | None:
    """``gw0``, ``gw1``... in an xdist worker; None in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def run_dir() -> Path:
    """The folder of the whole run, shared by its workers."""
    return Path(os.environ[RUN_DIR_ENV])


class RunLock:
    """A readers-writer lock over the run's processes, the writer first: ``shared`` for an
    ordinary test, ``exclusive`` for a test that must run alone. A writer waiting at the gate
    stops new readers from coming in, so it waits only for the tests running at that moment.

    ``flock`` locks: the kernel drops them when a worker dies, so none is left held."""

    def __init__(self, folder: Path) -> None:
        self._gate: IO[bytes] = (folder / "run-gate.lock").open("ab")
        self._main: IO[bytes] = (folder / "run-main.lock").open("ab")
        self.held: str | None = None

    def shared(self) -> None:
        fcntl.flock(self._gate, fcntl.LOCK_SH)
        try:
            fcntl.flock(self._main, fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        self.held = "shared"

    def exclusive(self) -> None:
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        fcntl.flock(self._main, fcntl.LOCK_EX)
        self.held = "exclusive"

    def release(self) -> None:
        fcntl.flock(self._main, fcntl.LOCK_UN)
        fcntl.flock(self._gate, fcntl.LOCK_UN)
        self.held = None

    def close(self) -> None:
        self._gate.close()
        self._main.close()


def clear_once(folder: Path) -> None:
    """Empty ``folder`` (a test tier's artifacts) once in the run, whichever worker asks
    first; the others wait until it is done and then leave it alone."""
    marker = run_dir() / ("cleared-" + str(folder).strip("/").replace("/", "-"))
    with (run_dir() / "clear.lock").open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            shutil.rmtree(folder, ignore_errors=True)
            marker.touch()
        folder.mkdir(parents=True, exist_ok=True)


# Ports for servers started in their own process: below the ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), split between workers.
PORTS = (20000, 32000)
_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _worker_ports() -> range | None:
    low, high = PORTS
    if _ephemeral_low() < high:
        return None
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = worker_id()
    index = int(worker[2:]) if worker and worker[2:].isdigit() else 0
    if index >= count:
        return None
    size = (high - low) // count
    return range(low + index * size, low + (index + 1) * size)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on, for a server this process is about to start; never the
    same one twice in a worker (a restarted server keeps its own)."""
    ports = _worker_ports()
    if ports is not None:
        pick = random.Random()
        for _ in range(200):
            port = pick.choice(ports)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    with socket.socket() as sock:  # no range of our own: the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
