"""Concurrent calls for the same key share one run of the work.

Many peers join a room at the same moment, and the first requests for a document arrive
together: the file is loaded once and the history created once, and everyone waits on
that one result (or error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedCalls(Generic[K, V]):
    """The calls in progress, by key; each is forgotten once it finishes."""

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """``work()``'s result, or that of the call already running for ``key``.

        Raises:
            Whatever ``work`` raised, to every caller that waited on it.
        """
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await work()
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: the callers waiting on it re-raise it
            raise
        finally:
            del self._pending[key]
        future.set_result(result)
        return result
