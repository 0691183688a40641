"""Why an execution request is refused (``server/errors.py`` maps each to an HTTP status)."""

from __future__ import annotations

from ..collab.errors import CollabError


class ExecutionError(CollabError):
    """A request that cannot be queued."""


class UnknownKernel(ExecutionError):
    """No such kernel."""


class UnknownDocument(ExecutionError):
    """The notebook cannot be opened, or the document is not a notebook."""


class KernelMismatch(ExecutionError):
    """The kernel is not the notebook's kernel."""


class StaleSource(ExecutionError):
    """A cell's source is not the one the user saw (its hash differs)."""


class UnknownRequest(ExecutionError):
    """No queued or running request with this id."""


class QueueLimitError(ExecutionError):
    """A queue is at its cap; nothing of the request was queued.

    ``retry_after_s`` is a hint of when a retry may fit (None: the request is larger than
    the cap itself, so a retry never will).
    """

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotebookQueueFull(QueueLimitError):
    """The notebook's queue is full, for everyone."""


class PersonQueueFull(QueueLimitError):
    """This person has as many cells queued as one person may; others still can."""
