"""Execution requests: what was asked to run, by whom, and what became of it."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..collab.ids import DocumentRoomId
from ..collab.sync.connection import UserInfo


class RequestState(StrEnum):
    """Where a request is: waiting, running, or finished one of four ways."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    ABORTED = "aborted"

    @property
    def finished(self) -> bool:
        """Done, error, cancelled or aborted."""
        return self not in (RequestState.QUEUED, RequestState.RUNNING)


def source_hash(source: str) -> str:
    """The hash a client sends for the source it saw: SHA-256 of the UTF-8 text, hex."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def new_request_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class InputPrompt:
    """An ``input()`` (or ``getpass``) prompt waiting for an answer."""

    prompt: str
    password: bool
    asked_at: float = field(default_factory=time.time)


@dataclass(eq=False)
class ExecutionRequest:
    """One cell to run for one person, from the moment it is queued to its end."""

    room_id: DocumentRoomId
    cell_id: str
    # The source that was checked against the user's hash: this, not a later edit, runs.
    source: str
    user: UserInfo
    kernel_id: str
    batch_id: str
    id: str = field(default_factory=new_request_id)
    state: RequestState = RequestState.QUEUED
    reason: str = ""
    enqueued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    execution_count: int | None = None
    pending_input: InputPrompt | None = None
    # Someone edited the cell between the request and its run (the snapshot ran).
    source_changed: bool = False

    def finish(self, state: RequestState, reason: str = "") -> None:
        """Conclude the request (once; later calls change nothing)."""
        if self.state.finished:
            return
        self.state = state
        self.reason = reason
        self.finished_at = time.time()
        self.pending_input = None

    def public(self) -> dict[str, Any]:
        """What every collaborator may see (never an input value)."""
        info: dict[str, Any] = {
            "request_id": self.id,
            "batch_id": self.batch_id,
            "document_id": str(self.room_id),
            "cell_id": self.cell_id,
            "kernel_id": self.kernel_id,
            "state": self.state.value,
            "requested_by": {"username": self.user.username,
                             "display_name": self.user.display_name or self.user.username},
            "enqueued_at": self.enqueued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.reason:
            info["reason"] = self.reason
        if self.execution_count is not None:
            info["execution_count"] = self.execution_count
        if self.source_changed:
            info["source_changed"] = True
        if self.pending_input is not None:
            info["input"] = {"prompt": self.pending_input.prompt,
                             "password": self.pending_input.password}
        return info
