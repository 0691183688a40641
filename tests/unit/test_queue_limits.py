"""Caps on queued executions (kernels.limits): counted from the unfinished requests."""

from __future__ import annotations

import pytest

from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.sync.connection import UserInfo
from jupyter_huddle.kernels import limits
from jupyter_huddle.kernels.errors import NotebookQueueFull, PersonQueueFull
from jupyter_huddle.kernels.limits import Pending, QueueLimits
from jupyter_huddle.kernels.requests import ExecutionRequest, RequestState

ROOM = DocumentRoomId("json", "notebook", "nb1")
OTHER_ROOM = DocumentRoomId("json", "notebook", "nb2")


def request(cell: str, who: str = "ada", room: DocumentRoomId = ROOM, kernel: str = "k1",
            state: RequestState = RequestState.QUEUED) -> ExecutionRequest:
    made = ExecutionRequest(room, cell, "1", UserInfo(who), kernel, "batch")
    made.state = state
    return made


def test_counts_the_notebook_and_the_person_everywhere():
    active = [request("a", state=RequestState.RUNNING), request("b", who="bob"),
              request("c", room=OTHER_ROOM, kernel="k2")]
    assert limits.count_pending(active, ROOM, "k1", "ada", ["x"]) == Pending(2, 2)


def test_a_run_that_replaces_your_queued_run_is_not_counted_twice():
    active = [request("a", state=RequestState.RUNNING), request("b"), request("c", who="bob")]
    # b is replaced (your own, queued); a is running (not replaced); bob's c is not yours
    assert limits.count_pending(active, ROOM, "k1", "ada", ["a", "b", "c"]) == Pending(2, 1)
    # on another kernel nothing is replaced
    assert limits.count_pending(active, ROOM, "k2", "ada", ["b"]) == Pending(3, 2)


def test_the_notebook_cap_refuses_with_its_reason_and_a_retry_hint():
    caps = QueueLimits(max_per_notebook=3, max_per_person=100)
    limits.check(caps, Pending(2, 0), 1, typical_run_s=0.5)  # exactly at the cap: fine
    with pytest.raises(NotebookQueueFull) as refused:
        limits.check(caps, Pending(3, 0), 2, typical_run_s=4.0)
    assert "queue is full" in str(refused.value)
    assert "at most 3" in str(refused.value)
    assert refused.value.retry_after_s == 8.0  # two cells of about 4 s


def test_the_person_cap_refuses_first_unless_the_notebook_cap_is_hit():
    caps = QueueLimits(max_per_notebook=10, max_per_person=2)
    with pytest.raises(PersonQueueFull) as refused:
        limits.check(caps, Pending(2, 2), 1, typical_run_s=0.01)
    assert "you have 2 cells" in str(refused.value)
    assert refused.value.retry_after_s == limits.MIN_RETRY_AFTER_S
    with pytest.raises(NotebookQueueFull):
        limits.check(caps, Pending(10, 2), 1, typical_run_s=1000.0)


def test_a_run_larger_than_a_cap_is_told_so_without_a_retry_hint():
    caps = QueueLimits(max_per_notebook=10, max_per_person=2)
    with pytest.raises(PersonQueueFull) as refused:
        limits.check(caps, Pending(0, 0), 3, typical_run_s=1.0)
    assert "this run has 3 cells" in str(refused.value)
    assert refused.value.retry_after_s is None


def test_retry_after_is_capped():
    caps = QueueLimits(max_per_notebook=1, max_per_person=1)
    with pytest.raises(NotebookQueueFull) as refused:
        limits.check(caps, Pending(1, 0), 1, typical_run_s=3600.0)
    assert refused.value.retry_after_s == limits.MAX_RETRY_AFTER_S
