"""Refusing clients that keep sending bad share tokens, for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import TooManyAttempts


@dataclass
class RateLimiter:
    """At most ``max_failures`` bad attempts per client in ``window_s``; then refused until
    the oldest failure leaves the window."""

    max_failures: int = 10
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)


    def _recent(self, client: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return recent


    def check(self, client: str) -> None:
        """Refuse a client that has used up its bad attempts in the window.

        Raises:
            TooManyAttempts: it has; ``retry_after_s`` says when it may try again.
        """
        recent = self._recent(client)
        if len(recent) >= self.max_failures:
            raise TooManyAttempts(self.window_s - (self.clock() - recent[0]))


    def failed(self, client: str) -> None:
        """Count one bad attempt against ``client``."""
        self._recent(client)
        self._failures.setdefault(client, []).append(self.clock())
        if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest
            del self._failures[next(iter(self._failures))]
