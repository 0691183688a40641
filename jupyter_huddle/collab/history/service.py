"""The history API's core: every history action on a notebook, by an authenticated user.

It opens the notebook's room (the same one its editors are in) and works on that room's
recorder. Who may do what (read: browse, preview, diff, blame, changes; edit: name,
restore, undo) is decided by the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..access.errors import TooManyAttempts
from ..access.limiter import RateLimiter
from ..errors import StoreError
from ..ids import DocumentRoomId
from ..store import AccessTable, VersionRow
from ..sync.connection import UserInfo
from .blame import BlameTracker, decode, describe
from .diffing import diff_notebooks
from .errors import (
    HistoryError,
    HistoryUnavailable,
    TooManyHistoryActions,
    TooManyVersions,
    UnknownVersion,
)
from .looks import changed_cells
from .recorder import HistoryRecorder, version_meta
from .restoring import restore_origin
from .settings import HistorySettings

T = TypeVar("T")
LIVE = "live"
# Marks of what each person last saw, one namespace per notebook: person -> JSON.
_SEEN_NAMESPACE = "history-seen:"


class Rooms(Protocol):
    """What the service needs of the rooms (``RoomManager``)."""

    async def lease(self, room_id: DocumentRoomId) -> Any:
        """Open the notebook's room (or reuse it) and keep it loaded until ``release``."""

    def release(self, room_id: DocumentRoomId) -> None:
        """Let go of a room taken with ``lease``."""

    def history(self, room_id: DocumentRoomId) -> HistoryRecorder | None:
        """The open room's recorder (None: history is off, or not a notebook)."""


class HistoryService:
    """Version history of notebooks: list, preview, diff, blame, name, restore, undo, and
    what changed since each person last looked."""

    def __init__(self, rooms: Rooms, marks: AccessTable, settings: HistorySettings) -> None:
        self.rooms = rooms
        self.marks = marks
        self.settings = settings
        self._rate = RateLimiter(max_failures=settings.actions_per_minute, window_s=60.0)

    async def _with(self, room_id: DocumentRoomId,
                    work: Callable[[HistoryRecorder], Awaitable[T]]) -> T:
        await self.rooms.lease(room_id)
        try:
            recorder = self.rooms.history(room_id)
            if recorder is None:
                raise UnknownVersion("this document has no version history")
            try:
                return await work(recorder)
            except StoreError as err:
                raise HistoryUnavailable(f"the history cannot be reached now: {err}") from err
        finally:
            self.rooms.release(room_id)

    def _count_action(self, user: UserInfo) -> None:
        try:
            self._rate.check(user.username)
        except TooManyAttempts as err:
            raise TooManyHistoryActions(err.retry_after_s) from err
        self._rate.failed(user.username)  # (the limiter counts any event; here: an action)

    # --- browsing -------------------------------------------------------------------------

    async def listing(self, room_id: DocumentRoomId, before: str | None = None,
                      limit: int = 200) -> dict[str, Any]:
        """Kept versions, newest first, a page of ``limit`` older than ``before`` (a version
        id) at a time; and whether the live notebook differs from the newest."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            rows = await recorder.store.versions(recorder.key)
            newer_first = [r for r in reversed(rows) if before is None or r.id < before]
            oldest = version_meta(rows[0]) if rows else {}
            missing = ({"since": oldest["missing_since"], "until": oldest["created_at"]}
                       if "missing_since" in oldest else None)
            return {"versions": [version_meta(r) for r in newer_first[:limit]],
                    "more": len(newer_first) > limit,
                    # (cells changed since the newest version: exact comparison would export
                    # and hash the whole notebook on every listing)
                    "live_changed": recorder.changed,
                    # versions the file says existed that this server's store lost
                    "missing": missing,
                    "contributors": [{"username": u, "display_name": d}
                                     for u, d in sorted(recorder.contributors.items())]}
        return await self._with(room_id, work)

    async def preview(self, room_id: DocumentRoomId, version_id: str) -> dict[str, Any]:
        """A version's notebook, read-only."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            row = await self._row(recorder, version_id)
            notebook = await recorder.content(await recorder.snapshot(version_id))
            return {"version": version_meta(row), "notebook": notebook}
        return await self._with(room_id, work)

    async def diff(self, room_id: DocumentRoomId, from_id: str, to_id: str) -> dict[str, Any]:
        """What changed from one version to another (either may be ``live``)."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            a_meta, a_snap, a = await self._side(recorder, from_id)
            b_meta, b_snap, b = await self._side(recorder, to_id)
            return {"from": a_meta, "to": b_meta, **diff_notebooks(a_snap, a, b_snap, b)}
        return await self._with(room_id, work)

    async def _side(self, recorder: HistoryRecorder, version_id: str
                    ) -> tuple[dict[str, Any], Any, dict[str, Any]]:
        if version_id == LIVE:
            snapshot, notebook = recorder.live()
            return {"id": LIVE, "created_at": time.time()}, snapshot, notebook
        row = await self._row(recorder, version_id)
        snapshot = await recorder.snapshot(version_id)
        return version_meta(row), snapshot, await recorder.content(snapshot)

    async def _row(self, recorder: HistoryRecorder, version_id: str) -> VersionRow:
        for row in await recorder.store.versions(recorder.key):
            if row.id == version_id:
                return row
        raise UnknownVersion(f"no version {version_id} of this notebook")

    async def blame(self, room_id: DocumentRoomId, cell_id: str | None,
                    version_id: str = LIVE) -> dict[str, Any]:
        """Each line's last author and time, for one cell or every cell, live or as a
        version recorded it."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            if version_id == LIVE:
                tracker = recorder.blame
            else:
                snapshot = await recorder.snapshot(version_id)
                notebook = await recorder.content(snapshot)
                tracker = BlameTracker()
                for cell in notebook["cells"]:
                    text = _text(cell.get("source", ""))
                    tracker.seed(cell["id"], text, decode(snapshot.blame.get(cell["id"]), text))
            ids = [cell_id] if cell_id is not None else list(tracker.cells)
            if cell_id is not None and cell_id not in tracker.cells:
                raise UnknownVersion(f"no cell {cell_id} in that notebook")
            return {"cells": {cid: [{"text": line, "author": describe(author, recorder.names),
                                     "at": at or None}
                                    for line, author, at in tracker.lines(cid)]
                              for cid in ids}}
        return await self._with(room_id, work)

    # --- changing -------------------------------------------------------------------------

    async def name(self, room_id: DocumentRoomId, user: UserInfo, name: Any,
                   version_id: str | None = None) -> dict[str, Any]:
        """Name the live notebook as a new version, or (``version_id``) name or unname an
        existing one (``name`` None)."""
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise HistoryError("name must be a non-empty string")
            if len(name) > self.settings.max_name_chars:
                raise HistoryError(f"name is longer than {self.settings.max_name_chars} "
                                   "characters")
            name = name.strip()
        self._count_action(user)

        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            rows = await recorder.store.versions(recorder.key)
            named = sum(1 for r in rows if r.name is not None)
            if name is not None and named >= self.settings.max_named_versions:
                raise TooManyVersions(f"this notebook already has {named} named versions")
            if version_id is None:
                if name is None:
                    raise HistoryError("a new named version needs a name")
                row = await recorder.record("named", name=name, by=_person(user), force=True)
                assert row is not None  # forced
                return version_meta(row)
            if not await recorder.store.name_version(recorder.key, version_id, name):
                raise UnknownVersion(f"no version {version_id} of this notebook")
            return version_meta(await self._row(recorder, version_id))
        return await self._with(room_id, work)

    async def restore(self, room_id: DocumentRoomId, user: UserInfo, version_id: str,
                      cell_id: str | None) -> dict[str, Any]:
        """Restore the whole notebook, or one cell, to a version, as an edit by ``user``."""
        self._count_action(user)

        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            row = await self._row(recorder, version_id)
            snapshot = await recorder.snapshot(version_id)
            notebook = await recorder.content(snapshot)
            await recorder.record("before-restore")
            origin = restore_origin(user)
            when = row.name or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row.created_at))
            restored: dict[str, Any] = {"version_id": version_id, "cell_id": cell_id,
                                        "restore_id": origin.token}
            if cell_id is None:
                recorder.restorer.restore_notebook(origin, notebook)
                label = f"restored the notebook from {when} by {origin.display_name}"
            else:
                index = recorder.restorer.restore_cell(origin, notebook, cell_id)
                restored["index"] = index
                label = f"restored cell {index + 1} from {when} by {origin.display_name}"
            if not recorder.restorer.changed(origin):
                return {"changed": False, "restore_id": None, "version": None}
            recorder.restorer.describe(origin, label)
            # (the restore id names the restore for its undo, which only its author may do)
            version = await recorder.record("restore", label=label, by=_person(user),
                                            extra={"restored": restored}, force=True)
            return {"changed": True, "restore_id": origin.token,
                    "version": version_meta(version) if version else None}
        return await self._with(room_id, work)

    async def undo(self, room_id: DocumentRoomId, user: UserInfo,
                   restore_id: str) -> dict[str, Any]:
        """Take back a restore ``user`` made (and only its changes)."""
        self._count_action(user)

        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            label = recorder.undo_restore(restore_id, user)
            version = await recorder.record("undo", label=f"undid: {label}", by=_person(user),
                                            force=True)
            return {"version": version_meta(version) if version else None}
        return await self._with(room_id, work)

    # --- changes since you last looked ----------------------------------------------------

    async def changes(self, room_id: DocumentRoomId, user: UserInfo) -> dict[str, Any]:
        """The cells changed since ``user`` last looked, and who changed them."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            mark = await self._mark(recorder.key, user)
            if mark is None:
                return {"since": None, "cells": [], "deleted": 0}
            found = await self._base(recorder, mark)
            if found is None:
                return {"since": mark, "cells": [], "deleted": 0}
            base, exact_base = found
            live, _ = recorder.live()
            # exact: the marked version is what the person saw; else line times tell
            exact = bool(mark.get("exact")) and exact_base
            return {"since": mark, **changed_cells(base, live, recorder.blame, recorder.names,
                                                   float(mark["seen_at"]), exact=exact)}
        return await self._with(room_id, work)

    async def _base(self, recorder: HistoryRecorder, mark: dict[str, Any]
                    ) -> tuple[Any, bool] | None:
        """The version a mark names and its time; if retention thinned it out, the nearest
        older one (which shows more as changed, never less)."""
        rows = await recorder.store.versions(recorder.key)
        exact = [r for r in rows if r.id == mark["version_id"]]
        older = exact or [r for r in rows if r.created_at <= float(mark["seen_at"])]
        if not older:
            return None
        row = older[-1]
        return await recorder.snapshot(row.id), bool(exact)

    async def seen(self, room_id: DocumentRoomId, user: UserInfo) -> dict[str, Any]:
        """``user`` has looked at the notebook as it is now."""
        async def work(recorder: HistoryRecorder) -> dict[str, Any]:
            row = recorder.latest_row
            young = row is not None and (
                time.time() - row.created_at < self.settings.seen_checkpoint_interval_s)
            if not young:
                row = await recorder.record("seen") or recorder.latest_row
            if row is None:
                raise HistoryUnavailable("the notebook has no version to mark")
            # exact: the marked version is what the person saw (else line times tell)
            mark = {"version_id": row.id, "seen_at": time.time(),
                    "exact": recorder.live_is_latest()}
            await self.marks.put_value(_SEEN_NAMESPACE + recorder.key, user.username,
                                       json.dumps(mark))
            return mark
        return await self._with(room_id, work)

    async def _mark(self, key: str, user: UserInfo) -> dict[str, Any] | None:
        raw = (await self.marks.values(_SEEN_NAMESPACE + key)).get(user.username)
        try:
            mark = json.loads(raw) if raw else None
        except ValueError:
            return None
        return mark if isinstance(mark, dict) and "version_id" in mark else None


def _person(user: UserInfo) -> dict[str, str]:
    return {"username": user.username, "display_name": user.display_name or user.username}


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)
