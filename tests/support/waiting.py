"""Waiting for a condition that is polled (server state over HTTP, a file on disk)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20,
                     what: str = "condition") -> Any:
    """Poll an async check under a deadline; return its first truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling interval, not a wait for an event
