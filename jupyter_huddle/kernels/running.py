"""One request while it runs in the kernel: what the dispatcher hears of it (an
``ExecutionListener``): outputs go to its writer, and it is over once the kernel replied
and is idle again, or once it is aborted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .outputs import OutputWriter
from .requests import ExecutionRequest, InputPrompt

_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "clear_output")


class Run:
    """One request in the kernel: collects its messages (an ExecutionListener)."""

    def __init__(self, request: ExecutionRequest, writer: OutputWriter,
                 changed: Callable[[ExecutionRequest], None]) -> None:
        self.request = request
        self.writer = writer
        # told when the request shows something new (its prompt)
        self.changed = changed
        self.reply: dict[str, Any] | None = None
        self.reply_at: float | None = None
        self.idle_at: float | None = None
        # When the last iopub message of this run arrived: a flood of output can still be
        # on its way (queued in ZMQ, read slower than the kernel wrote it) long after the
        # reply, which the shell channel brings at once.
        self.iopub_at: float | None = None
        # False while waiting for the kernel (connecting, or its auto-restart): a restart
        # then is what the run was waiting for, not a reason to abort it.
        self.sent = False
        self.abort_reason = ""
        self.done = asyncio.Event()

    def on_iopub(self, msg_type: str, content: dict[str, Any]) -> None:
        """Outputs go to the writer; the count is noted; "idle" may end the run."""
        self.iopub_at = time.monotonic()
        if msg_type == "status" and content.get("execution_state") == "idle":
            self.idle_at = time.monotonic()
            self._check_done()
        elif msg_type == "execute_input":
            self.request.execution_count = content.get("execution_count")
        elif msg_type in _OUTPUT_TYPES:
            self.writer.add(msg_type, content)

    def on_reply(self, content: dict[str, Any]) -> None:
        """The reply (and any pending prompt is over); the run ends once idle too."""
        self.reply = content
        self.reply_at = time.monotonic()
        self.request.pending_input = None
        self._check_done()

    def on_input_request(self, content: dict[str, Any]) -> None:
        """The kernel asks for input: the request shows the prompt."""
        self.request.pending_input = InputPrompt(str(content.get("prompt", "")),
                                                 bool(content.get("password", False)))
        self.changed(self.request)

    def abort(self, reason: str) -> None:
        """End the run now (unless it ended already), aborted for ``reason``."""
        if not self.done.is_set():
            self.abort_reason = reason
            self.done.set()

    def _check_done(self) -> None:
        # Outputs can follow the reply: the run is over once the kernel is idle again.
        if self.reply is not None and self.idle_at is not None:
            self.done.set()
