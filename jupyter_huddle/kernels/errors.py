"""Why an execution request is refused; ``status`` is the HTTP status the edge maps it to."""

from __future__ import annotations

from ..collab.errors import CollabError


class ExecutionError(CollabError):
    """A request that cannot be queued."""

    status = 400


class UnknownKernel(ExecutionError):
    """No such kernel."""

    status = 404


class UnknownDocument(ExecutionError):
    """The notebook cannot be opened, or the document is not a notebook."""

    status = 404


class KernelMismatch(ExecutionError):
    """The kernel is not the notebook's kernel."""

    status = 409


class StaleSource(ExecutionError):
    """A cell's source is not the one the user saw (its hash differs)."""

    status = 409


class UnknownRequest(ExecutionError):
    """No queued or running request with this id."""

    status = 404


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

    status = 503


class PersonQueueFull(QueueLimitError):
    """This person has as many cells queued as one person may; others still can."""

    status = 429
