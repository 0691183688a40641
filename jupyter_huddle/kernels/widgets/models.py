"""The live widget models of one kernel, as the kernel last said they are.

ipywidgets sends binary values apart from the JSON state (``buffer_paths``): a model keeps
its state without them and its buffers by path, and puts them back together only where a
page or the saved notebook needs both.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

WIDGET_TARGET = "jupyter.widget"
Path = tuple[str | int, ...]


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


def paired_buffers(paths: Any, buffers: list[bytes]) -> dict[Path, bytes]:
    """Buffers by their path (ipywidgets' ``buffer_paths``); mismatched ones dropped."""
    if not isinstance(paths, list):
        return {}
    return {tuple(path): buffer for path, buffer in zip(paths, buffers, strict=False)
            if isinstance(path, list) and path and isinstance(path[0], str)}


@dataclass
class WidgetModel:
    """One live model: its comm, its state (without binary values) and its buffers."""

    comm_id: str
    target_name: str
    state: dict[str, Any] = field(default_factory=dict)
    buffers: dict[Path, bytes] = field(default_factory=dict)
    # JSON size of each state key, so that an update costs the keys it sets
    _sizes: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def apply(self, state: dict[str, Any], buffers: dict[Path, bytes]) -> int:
        """Set the keys of ``state`` (and their buffers); returns the change in size."""
        before = self.size
        for key, value in state.items():
            self.state[key] = value
            self.size += _json_size(value) - self._sizes.get(key, 0)
            self._sizes[key] = _json_size(value)
            for path in [p for p in self.buffers if p[0] == key]:
                self.size -= len(self.buffers.pop(path))
        for path, buffer in buffers.items():
            self.size += len(buffer) - len(self.buffers.get(path, b""))
            self.buffers[path] = buffer
        return self.size - before

    @property
    def model_name(self) -> str:
        return str(self.state.get("_model_name", ""))

    def describe(self) -> tuple[dict[str, Any], list[bytes]]:
        """The model as the wire protocol's ``Model``, and its buffers in path order."""
        paths = list(self.buffers)
        return ({
            "comm_id": self.comm_id,
            "target_name": self.target_name,
            "model_name": self.model_name,
            "model_module": self.state.get("_model_module", ""),
            "model_module_version": self.state.get("_model_module_version", ""),
            "state": self.state,
            "buffer_paths": [list(p) for p in paths],
        }, [self.buffers[p] for p in paths])

    def saved_form(self) -> dict[str, Any]:
        """The model in a notebook's widget-state metadata (buffers base64-encoded)."""
        saved: dict[str, Any] = {
            "model_name": self.model_name,
            "model_module": self.state.get("_model_module", ""),
            "model_module_version": self.state.get("_model_module_version", ""),
            "state": self.state,
        }
        if self.buffers:
            saved["buffers"] = [
                {"path": list(path), "encoding": "base64",
                 "data": base64.b64encode(buffer).decode("ascii")}
                for path, buffer in self.buffers.items()]
        return saved


class WidgetStates:
    """The kernel's live models by comm id, bounded in count and in bytes."""

    def __init__(self, max_models: int, max_bytes: int) -> None:
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._models: dict[str, WidgetModel] = {}
        self.size = 0
        # bumped on every change: the saver writes only when it moved
        self.version = 0

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[WidgetModel]:
        return iter(list(self._models.values()))

    def get(self, comm_id: str) -> WidgetModel | None:
        return self._models.get(comm_id)

    def open(self, comm_id: str, target_name: str, state: dict[str, Any],
             buffers: dict[Path, bytes]) -> WidgetModel | None:
        """Keep a model the kernel opened; None when it is over a bound (not shared)."""
        if comm_id not in self._models and len(self._models) >= self.max_models:
            log.warning("widget %s not shared: the kernel already has %d live models",
                        comm_id, self.max_models)
            return None
        self.close(comm_id)
        model = WidgetModel(comm_id, target_name)
        self._models[comm_id] = model
        return model if self.update(comm_id, state, buffers) else None

    def update(self, comm_id: str, state: dict[str, Any], buffers: dict[Path, bytes]) -> bool:
        """Apply a state change; False when the model is unknown, or grew past the bound
        and was dropped (its pages should close it)."""
        model = self._models.get(comm_id)
        if model is None:
            return False
        self.size += model.apply(state, buffers)
        self.version += 1
        if self.size > self.max_bytes:
            log.warning("widget %s (%s) no longer shared: the kernel's widget state is over "
                        "%d bytes", comm_id, model.model_name, self.max_bytes)
            self.close(comm_id)
            return False
        return True

    def close(self, comm_id: str) -> bool:
        """Forget a model; whether it was kept."""
        model = self._models.pop(comm_id, None)
        if model is None:
            return False
        self.size -= model.size
        self.version += 1
        return True

    def clear(self) -> None:
        """The kernel restarted or went: no model lives on."""
        self._models.clear()
        self.size = 0
        self.version += 1

    def saved_form(self) -> dict[str, Any]:
        """Every model as ``application/vnd.jupyter.widget-state+json``."""
        return {"version_major": 2, "version_minor": 0,
                "state": {m.comm_id: m.saved_form() for m in self._models.values()
                          if m.target_name == WIDGET_TARGET}}
