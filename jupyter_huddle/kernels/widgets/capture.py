"""Output widgets capture outputs by message id, and here the server is the frontend that
sees them.

An ``Output`` widget (and ``interact``, which uses one) sets its ``msg_id`` state to the
request the kernel is handling while it captures; every output of that request then
belongs in the widget's ``outputs`` state, not in a cell. JupyterLab does this with a
message hook on its kernel connection; here the server's kernel client does it, once for
everyone.
"""

from __future__ import annotations

import json
from typing import Any

OUTPUT_MODEL = "OutputModel"
_CAPTURED = ("stream", "display_data", "execute_result", "error", "clear_output")


def _size(output: dict[str, Any]) -> int:
    return len(json.dumps(output, separators=(",", ":"), default=str))


class CapturedOutputs:
    """One Output widget's outputs as nbformat dicts, merged as a notebook would (streams
    of one name join), bounded in bytes (the oldest go first)."""

    def __init__(self, outputs: list[dict[str, Any]], max_bytes: int) -> None:
        self.outputs = [dict(o) for o in outputs if isinstance(o, dict)]
        self.max_bytes = max_bytes
        self._clear_on_next = False

    def add(self, msg_type: str, content: dict[str, Any]) -> bool:
        """Take one iopub message; whether ``outputs`` changed."""
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_on_next = True
                return False
            changed = bool(self.outputs)
            self.outputs = []
            return changed
        if self._clear_on_next:
            self.outputs, self._clear_on_next = [], False
        if msg_type == "stream":
            name, text = str(content.get("name", "stdout")), str(content.get("text", ""))
            last = self.outputs[-1] if self.outputs else None
            if last and last.get("output_type") == "stream" and last.get("name") == name:
                self.outputs[-1] = {**last, "text": str(last.get("text", "")) + text}
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        elif msg_type == "error":
            self.outputs.append({"output_type": "error",
                                 "ename": content.get("ename", ""),
                                 "evalue": content.get("evalue", ""),
                                 "traceback": content.get("traceback", [])})
        else:
            output = {"output_type": msg_type, "data": content.get("data", {}),
                      "metadata": content.get("metadata", {})}
            if msg_type == "execute_result":
                output["execution_count"] = content.get("execution_count")
            self.outputs.append(output)
        self._trim()
        return True

    def _trim(self) -> None:
        sizes = [_size(o) for o in self.outputs]
        total = sum(sizes)
        while total > self.max_bytes and len(self.outputs) > 1:
            total -= sizes.pop(0)
            self.outputs.pop(0)
        if total > self.max_bytes and self.outputs and self.outputs[0].get("text"):
            # one stream larger than the bound: keep its end, as a terminal would
            text = str(self.outputs[0]["text"])
            self.outputs[0] = {**self.outputs[0], "text": text[-self.max_bytes // 2:]}


class CaptureRouter:
    """Which Output widget captures the outputs of which kernel message."""

    def __init__(self) -> None:
        self._by_msg: dict[str, str] = {}  # parent msg id -> comm id
        self._by_comm: dict[str, str] = {}

    def state_changed(self, comm_id: str, model_name: str, state: dict[str, Any]) -> None:
        """An Output widget's ``msg_id`` set (capturing) or cleared (done)."""
        if model_name != OUTPUT_MODEL or "msg_id" not in state:
            return
        self.forget(comm_id)
        msg_id = state.get("msg_id")
        if isinstance(msg_id, str) and msg_id:
            self._by_msg[msg_id] = comm_id
            self._by_comm[comm_id] = msg_id

    def forget(self, comm_id: str) -> None:
        """The widget closed, or stopped capturing."""
        msg_id = self._by_comm.pop(comm_id, None)
        if msg_id is not None and self._by_msg.get(msg_id) == comm_id:
            del self._by_msg[msg_id]

    def clear(self) -> None:
        self._by_msg.clear()
        self._by_comm.clear()

    def target(self, msg_type: str, parent_msg_id: str) -> str | None:
        """The Output widget that captures this message, if any."""
        if msg_type not in _CAPTURED or not parent_msg_id:
            return None
        return self._by_msg.get(parent_msg_id)
