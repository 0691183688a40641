"""Display outputs by id: ``update_display_data`` replaces, in place, every output shown
with that id, in any cell or notebook on the kernel, whoever's run sent the update."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Array, Map

from ..collab.documents.notebook import NotebookDocument
from .cells import KERNEL, find_cell


@dataclass(eq=False)
class DisplayRef:
    """Where an output shown with a display id is, and what it holds."""

    document: NotebookDocument
    cell_id: str
    index: int
    # What we last wrote there: if the output no longer holds it, someone cleared or
    # replaced it and the reference is dropped.
    data: Any


# Display outputs one kernel's registry remembers. Protects the server's memory: each
# reference holds a copy of its output's data (up to max_output_bytes), and a loop of
# ``display(..., display_id=True)`` run again and again would add references forever.
# Past the cap the oldest are forgotten (an update to them is then not shown).
MAX_DISPLAY_REFS = 2000


@dataclass(eq=False)
class DisplayRegistry:
    """Outputs by display id, across every cell and notebook of one kernel.

    Bounded (``max_refs``, oldest first out) and released: a cell's references go when the
    server clears its outputs (a new run, ``clear_output``), a notebook's when its room
    closes (``retain``), all of them when the kernel restarts or goes away (``clear``).
    """

    refs: dict[str, list[DisplayRef]] = field(default_factory=dict)
    # Updates waiting for the next flush, latest per display id: an animation sending 20
    # frames a second costs the peers one frame per flush window.
    pending: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    max_refs: int = MAX_DISPLAY_REFS
    _count: int = 0
    _flush: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return self._count

    def queue_update(self, display_id: str, data: Any, metadata: Any, delay_s: float) -> None:
        """Replace the display's outputs at the next flush, ``delay_s`` from the first
        update waiting (its timer is cancelled by ``clear``)."""
        self.pending[display_id] = (data, metadata)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(delay_s, self.flush)

    def flush(self) -> None:
        """Apply the waiting updates now."""
        self._flush = None
        pending, self.pending = self.pending, {}
        for display_id, (data, metadata) in pending.items():
            self.update(display_id, data, metadata)

    def add(self, display_id: str, ref: DisplayRef) -> None:
        """Remember an output shown with this id (the oldest go past ``max_refs``)."""
        # (re)inserted last: the dict's order is the order of last use, oldest first
        self.refs[display_id] = [*self.refs.pop(display_id, []), ref]
        self._count += 1
        while self._count > self.max_refs:
            oldest = next(iter(self.refs))
            self._set(oldest, self.refs[oldest][1:])

    def update(self, display_id: str, data: Any, metadata: Any) -> int:
        """Replace every live output with this id; return how many were replaced."""
        live = [ref for ref in self.refs.get(display_id, [])
                if self._replace(ref, data, metadata)]
        self._set(display_id, live)
        return len(live)

    def forget_cell(self, document: NotebookDocument, cell_id: str) -> None:
        """The cell's outputs were cleared: its references point at nothing."""
        self._keep(lambda ref: ref.document is not document or ref.cell_id != cell_id)

    def retain(self, documents: list[NotebookDocument]) -> None:
        """Forget the references into every document but these (the open notebooks)."""
        self._keep(lambda ref: any(ref.document is d for d in documents))

    def clear(self) -> None:
        """Forget everything (the kernel restarted or went away)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self.refs, self.pending, self._count = {}, {}, 0

    def _keep(self, predicate: Callable[[DisplayRef], bool]) -> None:
        for display_id, refs in list(self.refs.items()):
            self._set(display_id, [ref for ref in refs if predicate(ref)])

    def _set(self, display_id: str, refs: list[DisplayRef]) -> None:
        self._count += len(refs) - len(self.refs.get(display_id, []))
        if refs:
            self.refs[display_id] = refs
        else:
            self.refs.pop(display_id, None)

    def _replace(self, ref: DisplayRef, data: Any, metadata: Any) -> bool:
        _, ycell = find_cell(ref.document, ref.cell_id)
        if ycell is None:
            return False
        outputs = ycell.get("outputs")
        if not isinstance(outputs, Array) or ref.index >= len(outputs):
            return False
        youtput = outputs[ref.index]
        if not isinstance(youtput, Map) or youtput.get("data") != ref.data:
            return False
        with ref.document.doc.transaction(origin=KERNEL):
            youtput["data"] = data
            youtput["metadata"] = metadata or {}
        ref.data = data
        return True
