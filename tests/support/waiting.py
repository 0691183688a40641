"""Polling a condition that has no event of its own (server state, a file on disk, a
store's table), always under a deadline: the one polling helper of the suite.

Where there is an event (a client's document or presence changed, a socket closed), tests
wait on it instead (``YClient.wait_for``, ``RawPeer.wait_for``, fake kernels' ``wait_for``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nbformat.reader import NotJSONError

POLL_INTERVAL_S = 0.02

# A file read while the server writes it: Jupyter's contents manager truncates a file and
# writes it in place (its "atomic" writing keeps a backup copy, it does not rename), so a
# check that reads a saved file can find it empty or cut short. That is "not saved yet",
# for every check; the more likely the busier the machine (tests on several workers).
FILE_BEING_WRITTEN: tuple[type[BaseException], ...] = (NotJSONError, json.JSONDecodeError)


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]],
                     timeout: float = 20, what: str = "condition", *,
                     interval: float = POLL_INTERVAL_S,
                     ignoring: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, and return that.

    ``ignoring``: more exceptions that mean "not yet", besides ``FILE_BEING_WRITTEN``
    (always: a file read while the server writes it).

    Raises:
        AssertionError: ``timeout`` seconds passed first (naming ``what``; the exception of
            the last check, if it raised one of those, is its cause).
    """
    not_yet = (*FILE_BEING_WRITTEN, *ignoring)
    deadline = time.monotonic() + timeout
    while True:
        last: BaseException | None = None
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
        except not_yet as exc:
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}") from last
        await asyncio.sleep(interval)  # the polling interval, under the deadline
