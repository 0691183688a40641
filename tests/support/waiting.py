"""Polling a condition that has no event of its own (server state, a file on disk, a
store's table), always under a deadline: the one polling helper of the suite.

Where there is an event (a client's document or presence changed, a socket closed), tests
wait on it instead (``YClient.wait_for``, ``RawPeer.wait_for``, fake kernels' ``wait_for``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

POLL_INTERVAL_S = 0.02


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]],
                     timeout: float = 20, what: str = "condition", *,
                     interval: float = POLL_INTERVAL_S,
                     ignoring: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, and return that.

    ``ignoring``: exceptions that mean "not yet" (a file read while the server writes it).

    Raises:
        AssertionError: ``timeout`` seconds passed first (naming ``what``).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
        except ignoring:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)  # the polling interval, under the deadline
