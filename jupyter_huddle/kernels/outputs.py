"""Kernel output written into the shared document by the server.

One ``OutputWriter`` per execution. Messages are buffered and written in one transaction per
flush window (``flush_interval_s``), so a cell printing 10 000 lines costs a few dozen
document updates, not 10 000. Rules (what JupyterLab's output area does, on the server):

- consecutive stream messages of one name extend one output whose ``text`` is a Y.Text,
  with ``\\r`` and ``\\b`` applied (a progress bar ends as one line);
- ``clear_output(wait=True)`` clears in the same transaction as the next output, so no
  peer ever sees an empty frame;
- ``update_display_data`` replaces, in place, every output carrying that display id, in any
  cell or notebook on the kernel (``displays.DisplayRegistry``); it never appends;
- a per-output size cap and a per-execution byte budget end a flood with one notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Map, Text

from ..collab.documents.notebook import NotebookDocument
from ..collab.documents.schema import output_to_ymap
from . import terminal
from .cells import KERNEL, find_cell
from .displays import DisplayRef, DisplayRegistry

# DisplayRegistry is re-exported: it was defined here, and bench/execution.py imports it here.
__all__ = ["DisplayRegistry", "OutputLimits", "OutputWriter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputLimits:
    """Caps on what one run writes, and how often it is written."""

    # One output larger than this is replaced by a notice (protects every peer's memory).
    max_output_bytes: int = 8 * 1024 * 1024
    # What one execution may write in total before its output is cut off with a notice.
    max_execution_bytes: int = 32 * 1024 * 1024
    flush_interval_s: float = 0.05


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, separators=(",", ":"), default=str))


@dataclass(frozen=True)
class _Stream:
    """A stream output being extended: everything but its last line is final."""

    name: str
    index: int
    prefix_bytes: int  # UTF-8 bytes of the complete lines before ``last_line``
    last_line: str

    @property
    def size(self) -> int:
        """UTF-8 bytes of the whole stream output."""
        return self.prefix_bytes + len(self.last_line.encode())

    @classmethod
    def of(cls, name: str, index: int, text: str) -> _Stream:
        """A new stream output holding ``text``."""
        return cls(name, index, 0, "").advanced(text)

    def advanced(self, tail: str) -> _Stream:
        """After the last line was replaced by ``tail`` (which may hold new lines)."""
        cut = tail.rfind("\n") + 1
        return _Stream(self.name, self.index, self.prefix_bytes + len(tail[:cut].encode()),
                       tail[cut:])


class OutputWriter:
    """Writes one execution's outputs into one cell."""

    def __init__(
        self,
        document: NotebookDocument,
        cell_id: str,
        registry: DisplayRegistry,
        limits: OutputLimits,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.document = document
        self.cell_id = cell_id
        self.registry = registry
        self.limits = limits
        self._on_write = on_write
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._cell_index = -1
        self._clear_next = False
        # The stream output being extended.
        self._stream: _Stream | None = None
        self._written_bytes = 0
        self._truncated = False
        self._last_flush = 0.0
        self.cell_found = True

    # --- lifecycle ---------------------------------------------------------------------

    def begin(self) -> bool:
        """Clear the cell's outputs and mark it running and trusted; False if it is gone."""
        with self.document.doc.transaction(origin=KERNEL):
            ycell = self._cell()
            if ycell is None:
                return False
            self._clear(ycell)
            ycell["execution_count"] = None
            ycell["execution_state"] = "running"
            metadata = ycell.get("metadata")
            if isinstance(metadata, Map):
                metadata["trusted"] = True
        return True

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        """Buffer one iopub message. The first one after a quiet spell is written at once
        (a ``print(1)`` shows without waiting); a burst is written once per window."""
        self._pending.append((msg_type, content))
        if self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_flush >= self.limits.flush_interval_s:
            self.flush()
        else:
            self._flush_handle = loop.call_later(self.limits.flush_interval_s, self.flush)

    def flush(self) -> None:
        """Write the buffered messages now, in one transaction (cancels the timer)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        self._last_flush = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, []
        with self.document.doc.transaction(origin=KERNEL):
            ycell = self._cell()
            if ycell is None:
                return  # deleted while running: the kernel goes on, its output is dropped
            for msg_type, content in pending:
                self._apply(ycell, msg_type, content)
        if self._on_write is not None:
            self._on_write()

    def end(self, execution_count: int | None) -> None:
        """Write what is left, the execution count, and mark the cell idle."""
        self.flush()
        with self.document.doc.transaction(origin=KERNEL):
            ycell = self._cell()
            if ycell is None:
                return
            if execution_count is not None:
                ycell["execution_count"] = execution_count
            ycell["execution_state"] = "idle"

    def _cell(self) -> Any:
        self._cell_index, ycell = find_cell(self.document, self.cell_id, self._cell_index)
        self.cell_found = ycell is not None
        return ycell

    # --- messages ------------------------------------------------------------------------

    def cell_source(self) -> str | None:
        """The cell's source as it is now (None if the cell is gone)."""
        ycell = self._cell()
        source = ycell.get("source") if ycell is not None else None
        return str(source) if source is not None else None

    def _apply(self, ycell: Map[Any], msg_type: str, content: dict[str, Any]) -> None:
        if self._truncated:
            return  # the notice stays the last word of this run, even past a clear
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_next = True
            else:
                self._clear(ycell)
            return
        if msg_type not in ("stream", "display_data", "execute_result", "error"):
            return
        if self._clear_next:
            self._clear(ycell)
        outputs = ycell.get("outputs")
        if not isinstance(outputs, Array):
            outputs = ycell["outputs"] = Array([])
        if msg_type == "stream":
            self._stream_output(outputs, content)
        else:
            self._rich_output(outputs, msg_type, content)

    def _clear(self, ycell: Map[Any]) -> None:
        outputs = ycell.get("outputs")
        if isinstance(outputs, Array):
            outputs.clear()
        self.registry.forget_cell(self.document, self.cell_id)
        self._clear_next = False
        self._stream = None

    def _budget(self, outputs: Array[Any], size: int) -> bool:
        """Count ``size`` bytes against the execution's budget; False (and one notice)
        once it is spent."""
        self._written_bytes += size
        if self._written_bytes <= self.limits.max_execution_bytes:
            return True
        self._truncated = True
        self._stream = None
        outputs.append(output_to_ymap({
            "output_type": "stream", "name": "stderr",
            "text": f"[output truncated: this run wrote more than "
                    f"{self.limits.max_execution_bytes} bytes; the rest was dropped. "
                    "The code keeps running.]\n",
        }))
        return False

    def _stream_output(self, outputs: Array[Any], content: dict[str, Any]) -> None:
        name = str(content.get("name", "stdout"))
        chunk = str(content.get("text", ""))
        if not self._budget(outputs, len(chunk)):
            return
        stream = self._stream
        if stream is not None and stream.name == name and stream.index == len(outputs) - 1:
            youtput = outputs[stream.index]
            ytext = youtput.get("text") if isinstance(youtput, Map) else None
            if isinstance(ytext, Text) and len(ytext) == stream.size:
                self._extend(stream, ytext, chunk)
                return
        text = terminal.render(chunk)
        cap = self.limits.max_output_bytes
        if len(text.encode()) > cap:
            text = text.encode()[:cap].decode(errors="ignore")
            text += f"\n[output truncated at {cap} bytes]\n"
            self._truncated = True
        outputs.append(output_to_ymap({"output_type": "stream", "name": name, "text": text}))
        self._stream = None if self._truncated else _Stream.of(name, len(outputs) - 1, text)

    def _extend(self, stream: _Stream, ytext: Text, chunk: str) -> None:
        """Add a chunk to the shown stream. Only its last line can change (a \r or \b in the
        chunk redraws it), so the cost is the chunk's, however long the output already is."""
        start, replacement = terminal.append(stream.last_line, chunk)
        tail = stream.last_line[:start] + replacement
        if stream.prefix_bytes + len(tail.encode()) > self.limits.max_output_bytes:
            ytext.insert(len(ytext), f"\n[output truncated at "
                                     f"{self.limits.max_output_bytes} bytes]\n")
            self._stream = None
            self._truncated = True
            return
        offset = stream.prefix_bytes + len(stream.last_line[:start].encode())
        if offset < len(ytext):
            del ytext[offset:len(ytext)]
        ytext.insert(offset, replacement)
        self._stream = stream.advanced(tail)

    def _rich_output(self, outputs: Array[Any], msg_type: str, content: dict[str, Any]) -> None:
        self._stream = None
        output: dict[str, Any] = {"output_type": msg_type}
        if msg_type == "error":
            output.update(ename=content.get("ename", ""), evalue=content.get("evalue", ""),
                          traceback=list(content.get("traceback", [])))
        else:
            output.update(data=content.get("data", {}), metadata=content.get("metadata", {}))
            if msg_type == "execute_result":
                output["execution_count"] = content.get("execution_count")
        size = _size(output)
        if size > self.limits.max_output_bytes:
            # Not written, so not charged: only the notice counts against the budget.
            output = {"output_type": "stream", "name": "stderr",
                      "text": f"[output of {size} bytes not shown: over the "
                              f"{self.limits.max_output_bytes}-byte limit per output]\n"}
            size = _size(output)
        if not self._budget(outputs, size):
            return
        outputs.append(output_to_ymap(output))
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id and "data" in output:
            self.registry.add(display_id, DisplayRef(self.document, self.cell_id,
                                                      len(outputs) - 1, output["data"]))
