"""Caps on queued executions: per notebook and per person, checked before anything is queued.

Counts are taken from the requests not finished yet (queued or running) each time, so
there is no counter to keep in step or to release.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..collab.ids import DocumentRoomId
from .errors import NotebookQueueFull, PersonQueueFull
from .requests import ExecutionRequest, RequestState

# A Retry-After is a hint, never a promise: at least this, at most that.
MIN_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class QueueLimits:
    """The caps on queued cells."""

    # Cells queued or running for one notebook, everyone's together. Protects the server's
    # memory (each request holds its source and keeps its notebook loaded) and everyone's
    # wait from a crowd: 300 people pressing Run All on a 1000-cell notebook queue this
    # many, not 300 000. Beyond it: 503.
    max_per_notebook: int = 10_000
    # Cells queued or running for one person, over every notebook and kernel. Protects the
    # server from one person filling every queue. Beyond it: 429 with Retry-After.
    max_per_person: int = 5_000


@dataclass(frozen=True)
class Pending:
    """What is queued or running now, as the caps count it, for one new request."""

    in_notebook: int
    theirs: int


def count_pending(active: Iterable[ExecutionRequest], room_id: DocumentRoomId, kernel_id: str,
                  username: str, cell_ids: Iterable[str]) -> Pending:
    """Count the notebook's and the person's unfinished requests, leaving out the ones the
    new request replaces (your own queued run of a cell you run again on the same kernel):
    pressing Run All twice must not be refused for the first one."""
    replaced = set(cell_ids)
    in_notebook = theirs = 0
    for request in active:
        mine = request.user.username == username
        if (mine and request.state is RequestState.QUEUED and request.room_id == room_id
                and request.kernel_id == kernel_id and request.cell_id in replaced):
            continue
        in_notebook += request.room_id == room_id
        theirs += mine
    return Pending(in_notebook, theirs)


def check(limits: QueueLimits, pending: Pending, new: int, typical_run_s: float) -> None:
    """Refuse a request of ``new`` cells that would take a queue past its cap.

    Raises:
        NotebookQueueFull: the notebook would have more than ``max_per_notebook``.
        PersonQueueFull: the person would have more than ``max_per_person``.
    """
    cap = limits.max_per_notebook
    if pending.in_notebook + new > cap:
        raise NotebookQueueFull(
            _too_large(new, cap, "one notebook") if new > cap else
            f"this notebook's queue is full: {pending.in_notebook} cells are queued or "
            f"running (at most {cap}), so these {new} cannot be added; try again when "
            "some have run",
            _retry_after(pending.in_notebook + new - cap, new, cap, typical_run_s))
    cap = limits.max_per_person
    if pending.theirs + new > cap:
        raise PersonQueueFull(
            _too_large(new, cap, "one person") if new > cap else
            f"you have {pending.theirs} cells queued or running (at most {cap} per person), "
            f"so these {new} cannot be added; try again when some have run, or cancel some",
            _retry_after(pending.theirs + new - cap, new, cap, typical_run_s))


def _too_large(new: int, cap: int, whose: str) -> str:
    return (f"this run has {new} cells, more than the {cap} {whose} may have queued; "
            "run fewer at a time")


def _retry_after(excess: int, new: int, cap: int, typical_run_s: float) -> float | None:
    """Roughly when ``excess`` queued cells will have run (None: never enough room)."""
    if new > cap:
        return None
    estimate = math.ceil(excess * typical_run_s)
    return float(min(max(estimate, MIN_RETRY_AFTER_S), MAX_RETRY_AFTER_S))
