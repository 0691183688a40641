"""When to save: after a quiet spell, but never later than a maximum delay; one at a time.

A pure trailing debounce never saves while someone types or a cell streams output, so the
wait is capped by ``max_save_delay_s`` from the first unsaved change. A failed save keeps
the changes marked unsaved and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..errors import SaveError

log = logging.getLogger(__name__)

_MAX_RETRY_DELAY_S = 60.0


class SaveScheduler:
    """Runs ``save`` after ``quiet_s`` without changes, at most ``max_delay_s`` after the first.

    One save at a time; a failed one is retried with doubling delays from ``retry_delay_s``.
    """

    def __init__(
        self,
        save: Callable[[], Awaitable[None]],
        *,
        quiet_s: float,
        max_delay_s: float,
        retry_delay_s: float,
        name: str = "",
    ) -> None:
        self._save = save
        self._quiet_s = quiet_s
        self._max_delay_s = max(max_delay_s, quiet_s)
        self._retry_delay_s = retry_delay_s
        self._name = name
        self._generation = 0
        self._saved_generation = 0
        self._first_unsaved = 0.0
        self._last_change = 0.0
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._failures = 0
        self.last_error: str | None = None
        # Told the outcome of every save attempt (None: saved), to show it to the peers.
        self.on_result: Callable[[str | None], None] | None = None

    @property
    def dirty(self) -> bool:
        """Whether there are changes since the last successful save."""
        return self._generation != self._saved_generation

    def mark_dirty(self) -> None:
        """Record a change to be saved (the first since a save starts the maximum delay)."""
        now = asyncio.get_running_loop().time()
        if not self.dirty:
            self._first_unsaved = now
        self._generation += 1
        self._last_change = now
        self._changed.set()

    async def run(self) -> None:
        """Save on schedule until cancelled."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if not self.dirty:
                continue
            await self._wait_until_due()
            try:
                await self.save_now()
            except SaveError:
                await asyncio.sleep(self._retry_delay())
                self._changed.set()

    async def _wait_until_due(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = min(self._last_change + self._quiet_s, self._first_unsaved + self._max_delay_s)
            remaining = due - loop.time()
            if remaining <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    def _retry_delay(self) -> float:
        backoff: float = self._retry_delay_s * 2.0 ** max(self._failures - 1, 0)
        return min(backoff, _MAX_RETRY_DELAY_S)

    def _report(self, error: str | None) -> None:
        self.last_error = error
        if self.on_result is not None:
            self.on_result(error)

    async def save_now(self) -> None:
        """Save if there are unsaved changes, after any save in flight.

        Raises:
            SaveError: the save failed; the changes stay marked unsaved.
        """
        async with self._lock:
            if not self.dirty:
                return
            generation = self._generation
            started = asyncio.get_running_loop().time()
            try:
                await self._save()
            except Exception as err:
                self._failures += 1
                self.last_error = str(err)
                if not isinstance(err, SaveError):
                    # A bug or a document broken in a way nobody foresaw: report it as a
                    # failed save (retried, shown to clients) instead of killing the saver.
                    log.exception("saving %s failed unexpectedly", self._name)
                    err = SaveError(f"could not save: {err!r}")
                else:
                    log.warning("saving %s failed (attempt %d): %s", self._name,
                                self._failures, err)
                self._report(str(err))
                raise err from None
            self._failures = 0
            if self.last_error is not None:
                self._report(None)
            self.last_error = None
            self._saved_generation = generation
            if self.dirty:
                # Changes arrived while saving: they are due from when the save began.
                self._first_unsaved = started
