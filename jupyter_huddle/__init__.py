"""Huddle: real-time collaborative notebooks on Jupyter Server.

The package has three parts: ``collab`` (documents, rooms, sync protocol, persistence),
``kernels`` (the shared kernel per notebook) and ``server`` (the Jupyter Server extension
that adapts both to HTTP and websockets).
"""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import HuddleApp

    return [{"module": "jupyter_huddle", "app": HuddleApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Huddle's JupyterLab plugin (labextension/), for `jupyter labextension develop`."""
    return [{"src": "labextension", "dest": "jupyter-huddle-lab"}]


__all__ = ["__version__"]
