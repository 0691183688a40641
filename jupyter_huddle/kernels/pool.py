"""The dispatchers of the kernels that ran something here, one per kernel, and their
lifetimes: each is started as it is added and closed when its kernel goes, or at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from ..collab.ids import DocumentRoomId
from .dispatcher import KernelDispatcher
from .requests import ExecutionRequest


class DispatcherPool:
    """Dispatchers by kernel id.

    Bounded by the kernels the server runs: a kernel's dispatcher goes when it shuts down
    (``pop``, on its event) or when the sweep finds it removed without one (``retire``).
    Dispatchers retired in the background are closed in tasks this pool owns and waits
    for in ``close()``.
    """

    def __init__(self) -> None:
        self._dispatchers: dict[str, KernelDispatcher] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._dispatchers)

    def __contains__(self, kernel_id: object) -> bool:
        return kernel_id in self._dispatchers

    def __iter__(self) -> Iterator[KernelDispatcher]:
        return iter(list(self._dispatchers.values()))

    def get(self, kernel_id: str) -> KernelDispatcher | None:
        """The kernel's dispatcher, if it has one."""
        return self._dispatchers.get(kernel_id)

    def add(self, dispatcher: KernelDispatcher) -> KernelDispatcher:
        """Start ``dispatcher`` and keep it as its kernel's."""
        self._dispatchers[dispatcher.kernel_id] = dispatcher
        dispatcher.start()
        return dispatcher

    def pop(self, kernel_id: str) -> KernelDispatcher | None:
        """Take the kernel's dispatcher out (the caller closes it)."""
        return self._dispatchers.pop(kernel_id, None)

    def retire(self, kernel_id: str, reason: str) -> None:
        """Take the kernel's dispatcher out and close it in the background."""
        dispatcher = self._dispatchers.pop(kernel_id, None)
        if dispatcher is not None:
            task = asyncio.create_task(dispatcher.close(reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def active(self, room_id: DocumentRoomId) -> list[ExecutionRequest]:
        """The notebook's running and queued requests, in run order per kernel."""
        return [r for d in self._dispatchers.values() for r in d.requests()
                if r.room_id == room_id]

    def status(self, kernel_id: str) -> str:
        """The kernel's status as its dispatcher knows it ("unknown" without one)."""
        dispatcher = self._dispatchers.get(kernel_id)
        return dispatcher.status if dispatcher is not None else "unknown"

    async def close(self) -> None:
        """Close every dispatcher (their cells go idle) and wait for retired ones."""
        for dispatcher in list(self._dispatchers.values()):
            await dispatcher.close()
        self._dispatchers.clear()
        await asyncio.gather(*self._closing, return_exceptions=True)
