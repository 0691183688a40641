"""Making incomplete logs whole again once the database writes.

A document whose log lost writes (``queue.WriteQueue`` tainted it) is rewritten whole by
its owner, the room manager, from the live document: a verified state replaces the partial
log. One nobody has open is forgotten instead: it loads from its file next time, under a new
history. A pass that leaves some incomplete (the queue was full again, a state did not
verify) is tried again after ``delay_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .queue import WriteQueue

log = logging.getLogger(__name__)

# Rewrites a document's whole log from its live copy; False if nobody has it open.
Restore = Callable[[str], Awaitable[bool]]


class Restorer:
    """After the store failed, rewrites each incomplete document log whole (through
    ``hook``: the live document's verified state), one pass at a time, with backoff."""

    def __init__(self, queue: WriteQueue, forget: Callable[[str], Awaitable[None]],
                 finished: Callable[[], None]) -> None:
        self._queue = queue
        self._forget = forget
        self._finished = finished
        self.hook: Restore | None = None
        self.task: asyncio.Task[None] | None = None
        self._not_before = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        """Whether a restore pass is under way."""
        return self.task is not None

    def start(self, delay_s: float) -> None:
        """Start a pass if some log is incomplete, none is running and the last pass was
        not too recent (``delay_s`` is the wait after an unfinished one)."""
        if not self._queue.tainted or self.task is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._not_before - loop.time()
        if wait <= 0:
            self.task = asyncio.create_task(self._run(delay_s))
        elif self._timer is None:
            self._timer = loop.call_later(wait, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._finished()  # the store starts the next pass, if it may

    async def _run(self, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            for key in sorted(self._queue.tainted):
                if key in self._queue.tainted and not await self._rewrite(key):
                    await self._forget(key)
        finally:
            self.task = None
            if self._queue.tainted:  # the queue was full again, a state did not verify
                self._not_before = loop.time() + delay_s
            self._finished()

    async def _rewrite(self, key: str) -> bool:
        if self.hook is None:
            return False
        try:
            return await self.hook(key)
        except Exception:  # the log stays marked incomplete: tried again later
            log.exception("rewriting the history of %s failed", key)
            return True

    async def stop(self) -> None:
        """Cancel the pending retry and any rewrite under way, and wait for it to end."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
