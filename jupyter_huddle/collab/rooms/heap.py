"""Give freed memory back to the operating system after large frames are dropped.

CPython and yrs allocate through the C library's malloc. glibc keeps what is freed in its
heap for reuse and returns memory to the system only from the top of the heap, so after a
burst of large buffers (every peer's copy of a large notebook, a large room evicted) the
server's resident size stays near its peak although nothing uses it. ``malloc_trim(0)``
returns every free page. It walks the heap (milliseconds per GB), so it runs in a worker
thread (ctypes releases the GIL during the call), only once at least ``threshold_bytes``
were released since the last one, and at most once per ``min_interval_s``: the departure
of a peer of a small room never triggers one.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

Trim = Callable[[], object]


def libc_malloc_trim() -> Trim | None:
    """glibc's ``malloc_trim(0)``, or None where there is no such call (musl, macOS...)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: function(0)


class HeapTrimmer:
    """Collects reports of released memory and trims the heap when they add up."""

    def __init__(self, trim: Trim | None, *, threshold_bytes: int = 16 * 1024 * 1024,
                 min_interval_s: float = 5.0, delay_s: float = 0.2) -> None:
        self._trim = trim
        self.threshold_bytes = threshold_bytes
        self.min_interval_s = min_interval_s
        # Reports come as the last references go; give the loop a moment to drop the rest
        # (a closed socket's buffers, a room's tasks) before trimming.
        self.delay_s = delay_s
        self._pending = 0
        self._last = -float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self._running: asyncio.Future[object] | None = None
        self.trims = 0

    def released(self, nbytes: int) -> None:
        """``nbytes`` of large buffers were just let go."""
        if self._trim is None or nbytes <= 0:
            return
        self._pending += nbytes
        if self._pending < self.threshold_bytes or self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(self.delay_s, self._last + self.min_interval_s - loop.time())
        self._timer = loop.call_later(delay, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._running is not None and not self._running.done():
            self._timer = asyncio.get_running_loop().call_later(self.min_interval_s,
                                                                self._start)
            return
        loop = asyncio.get_running_loop()
        self._pending = 0
        self._last = loop.time()
        self.trims += 1
        assert self._trim is not None  # released() schedules nothing without one
        self._running = loop.run_in_executor(None, self._trim)
        self._running.add_done_callback(_log_failure)

    def close(self) -> None:
        """Cancel a trim that is scheduled; one already running finishes on its own."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _log_failure(future: asyncio.Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("returning freed memory to the system failed", exc_info=future.exception())
