"""People's folders of personal copies, through Jupyter's contents manager
(``collab.copies.CopyFolders``)."""

from __future__ import annotations

import posixpath
from typing import Any

from jupyter_server.utils import ensure_async


class ContentsFolders:
    """Counts and creates folders with the server's contents manager."""

    def __init__(self, contents_manager: Any) -> None:
        self._contents = contents_manager

    async def notebooks_in(self, folder: str) -> int:
        """How many notebooks the folder holds; 0 if there is no such folder."""
        if not await ensure_async(self._contents.dir_exists(folder)):
            return 0
        model = await ensure_async(self._contents.get(folder, content=True))
        return sum(1 for entry in model.get("content") or [] if entry.get("type") == "notebook")

    async def make_folders(self, folder: str) -> None:
        """Create the folder and its parents where missing."""
        current = ""
        for part in folder.split("/"):
            current = posixpath.join(current, part) if current else part
            if not await ensure_async(self._contents.dir_exists(current)):
                await ensure_async(self._contents.save({"type": "directory"}, current))
