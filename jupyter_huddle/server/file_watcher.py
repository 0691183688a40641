"""Filesystem notifications for the folders of open files (watchfiles: inotify, FSEvents...).

The room manager polls every open file as well (``file_poll_interval_s``): notifications
make an outside change show up within a fraction of a second, polling catches what they
miss (network filesystems, a watcher that could not start). Only folders that hold an open
file are watched, without recursion, so a large tree costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable

import watchfiles

log = logging.getLogger(__name__)

OnChange = Callable[[str], Awaitable[None]]


class FileWatcher:
    """Watches the folders of open files (``collab.room_files.FileWatch``) and calls
    ``on_change`` with the API path of each file that changed in them."""

    def __init__(self, root_dir: str, on_change: OnChange) -> None:
        self.root_dir = os.path.realpath(root_dir)
        self.on_change = on_change
        self._folders: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def watch(self, api_path: str) -> None:
        """Watch the folder of an opened file (counted: one per open file)."""
        self._folders[self._folder(api_path)] += 1
        self._restart()

    def unwatch(self, api_path: str) -> None:
        """A file closed: stop watching its folder when no open file is left in it."""
        folder = self._folder(api_path)
        self._folders[folder] -= 1
        if self._folders[folder] <= 0:
            del self._folders[folder]
        self._restart()

    def _folder(self, api_path: str) -> str:
        return os.path.dirname(os.path.join(self.root_dir, api_path.strip("/")))

    def _restart(self) -> None:
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop watching (server shutdown)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._folders:
            self._changed.clear()
            folders = self._existing_folders()
            if not folders:
                await self._changed.wait()
                continue
            try:
                async for changes in watchfiles.awatch(
                    *folders, recursive=False, debounce=50, step=20,
                    stop_event=self._changed, watch_filter=None,
                ):
                    for path in sorted({p for _, p in changes}):
                        await self._notify(path)
            except (OSError, RuntimeError) as err:
                log.warning("filesystem notifications unavailable (%s); open files are "
                            "still polled", err)
                await self._changed.wait()

    def _existing_folders(self) -> list[str]:
        return [f for f in self._folders if os.path.isdir(f)]

    def _api_path(self, os_path: str) -> str | None:
        relative = os.path.relpath(os.path.realpath(os_path), self.root_dir)
        return None if relative.startswith("..") else relative.replace(os.sep, "/")

    async def _notify(self, os_path: str) -> None:
        relative = self._api_path(os_path)
        if relative is None:
            return
        try:
            await self.on_change(relative)
        except Exception:  # one failed check must not stop the watcher
            log.exception("checking %s after a change on disk failed", relative)
