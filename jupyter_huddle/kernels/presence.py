"""The execution fields of the server's presence entry in a notebook's room."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .dispatcher import KernelDispatcher
from .requests import ExecutionRequest

# Presence is sent to every peer on every change: keep it small and not too frequent.
PRESENCE_INTERVAL_S = 0.1
PRESENCE_QUEUE = 50
PRESENCE_RUNS = 200


def brief(request: ExecutionRequest) -> dict[str, Any]:
    """A request as shown in presence (the REST queue view has the full record)."""
    info: dict[str, Any] = {
        "request_id": request.id,
        "cell_id": request.cell_id,
        "state": request.state.value,
        "requested_by": {"username": request.user.username,
                         "display_name": request.user.display_name or request.user.username},
    }
    if request.execution_count is not None:
        info["execution_count"] = request.execution_count
    if request.pending_input is not None:
        info["input"] = {"prompt": request.pending_input.prompt,
                         "password": request.pending_input.password}
    if request.reason:
        info["reason"] = request.reason[:200]
    return info


def fields(active: list[ExecutionRequest], finished: Iterable[ExecutionRequest],
           dispatchers: dict[str, KernelDispatcher]) -> dict[str, Any]:
    """One notebook's queue (``active``, in run order), its recent runs (``finished``,
    oldest first) and its kernel's status, kept small (sent to every peer)."""
    recent = list(finished)[-PRESENCE_RUNS:]
    result: dict[str, Any] = {
        "queue": [brief(r) for r in active[:PRESENCE_QUEUE]],
        "queued_more": max(len(active) - PRESENCE_QUEUE, 0),
        "runs": {r.cell_id: brief(r) for r in recent},
    }
    # the kernel of its latest request (a notebook may have changed kernels)
    latest = max(active, key=lambda r: r.enqueued_at) if active else (
        recent[-1] if recent else None)
    dispatcher = dispatchers.get(latest.kernel_id) if latest is not None else None
    if dispatcher is not None and dispatcher.status != "unknown":
        result["kernel"] = {"id": dispatcher.kernel_id, "status": dispatcher.status}
    return result
