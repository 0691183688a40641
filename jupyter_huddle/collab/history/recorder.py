"""One notebook's history while its room is open: who changes what, and when to record.

The recorder watches the live document: each change is attributed (line authorship in
``blame``, contributors since the last version) from its transaction's origin — a
connection's server-stamped identity, a person acting through the API, the file on disk.
It records a version (``record``) after a save with changes, at most once per
``version_interval_s``; before an outside change is merged in; before and after a restore;
when the room closes; and when asked (a named version, a look). A version whose content is
the latest one's is not recorded again (a named one is).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pycrdt import Map

from ..documents.notebook import NotebookDocument
from ..errors import StoreError
from ..origins import PersonOrigin, ServerOrigin, deep_event_origin
from ..store import NewVersion, VersionRow, VersionTable
from ..sync.connection import Connection, UserInfo
from . import blame as authorship
from .content import (
    Snapshot,
    assemble,
    decode_blob,
    decode_manifest,
    encode_blob,
    encode_manifest,
    split,
)
from .diffing import summarize
from .errors import HistoryUnavailable, UnknownVersion
from .restoring import Restorer
from .retention import expired
from .settings import HistorySettings

log = logging.getLogger(__name__)

Announce = Callable[[dict[str, Any]], None]


def version_meta(row: VersionRow) -> dict[str, Any]:
    """A version as the API lists it: its row and what its info says."""
    try:
        info = json.loads(row.info)
    except ValueError:
        info = {}
    return {"id": row.id, "created_at": row.created_at, "kind": row.kind, "name": row.name,
            **(info if isinstance(info, dict) else {})}


class HistoryRecorder:
    """The open room's history (see the module docstring); ``start`` before peers join,
    ``close`` when the room closes."""

    def __init__(self, key: str, document: NotebookDocument, store: VersionTable,
                 settings: HistorySettings, announce: Announce | None = None,
                 mark_dirty: Callable[[], None] | None = None,
                 loaded_stamp: Any = None) -> None:
        self.key = key
        self.document = document
        self.store = store
        self.settings = settings
        self.announce = announce
        self.blame = authorship.BlameTracker()
        # Since the latest version: who changed the notebook (username -> display name),
        # and what else did (disk, kernel, unattributed changes).
        self.contributors: dict[str, str] = {}
        self.flags: set[str] = set()
        # Display names of everyone who ever wrote a line here (blame shows them).
        self.names: dict[str, str] = {}
        self.latest: Snapshot | None = None
        self.latest_row: VersionRow | None = None
        self._lock = asyncio.Lock()
        self._due: asyncio.Task[None] | None = None
        self._subscription: Any = None
        # Who is acting while the server undoes a restore (its transaction has no origin
        # of ours).
        self._acting: str | None = None
        self._last_id = ""
        self._ids: list[str] = []
        # Whether anything in the cells changed since the latest version was recorded
        # (cheap to read, unlike comparing the live notebook with it).
        self.changed = False
        self.restorer = Restorer(document, settings.max_undoable_restores,
                                 settings.undo_window_s)
        # Tells the binding a change needs saving (an undo's transaction is not ours).
        self.mark_dirty = mark_dirty
        # What the file said of its history when loaded (``stamp``), and when the oldest
        # version we hold was recorded.
        self.loaded_stamp = loaded_stamp
        self.first_at: float | None = None

    # --- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up the history where the latest version left it, and start watching.

        Raises:
            StoreError: the versions cannot be read.
        """
        rows = await self.store.versions(self.key)
        if rows:
            self.latest_row = rows[-1]
            self._last_id = rows[-1].id
            manifest = await self.store.manifest(self.key, rows[-1].id)
            self.latest = decode_manifest(manifest) if manifest is not None else None
        for row in rows:
            self._learn_names(version_meta(row))
        self.first_at = rows[0].created_at if rows else None
        await self._seed_blame()
        # Cell ids by index, kept with the cells' order: a keystroke's event names its cell
        # by index, and reading the id from the document costs more than the rest.
        self._ids = [str(cell.get("id")) for cell in self.document.cells]
        self._subscription = self.document.cells.observe_deep(self._on_events)
        if self.latest is None:
            await self.record("opened", extra=self._missing())
        elif not self.live_is_latest():
            # Changed since the latest version without us watching (a crash before the
            # version was recorded, or the file edited while the server was down).
            self.flags.add("unattributed")
            await self.record("opened")

    def stamp(self) -> dict[str, Any] | None:
        """What the file keeps of the history (``huddle.history``): since when versions
        exist, so a server whose store lost them can say so instead of starting silently."""
        if self.first_at is None or not self.settings.stamp_files:
            return None
        return {"since": round(self.first_at, 3)}

    def _missing(self) -> dict[str, Any] | None:
        """Versions the file says existed and this store does not have (a lost store)."""
        since = self.loaded_stamp.get("since") if isinstance(self.loaded_stamp, dict) else None
        if not isinstance(since, int | float) or isinstance(since, bool):
            return None
        self.flags.add("earlier-missing")
        return {"missing_since": float(since)}

    async def close(self) -> None:
        """The room is closing: record what changed since the latest version, and stop."""
        if self._due is not None:
            self._due.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._due
        try:
            await self.record("closed")
        except StoreError as err:
            log.error("the last version of %s could not be recorded: %s", self.key, err)
        self.restorer.close()
        if self._subscription is not None:
            self.document.cells.unobserve(self._subscription)
            self._subscription = None

    def undo_restore(self, token: str, user: UserInfo) -> str:
        """Take back a restore (``Restorer.undo``); its label."""
        label = self.restorer.undo(token, user, self._set_acting)
        if self.mark_dirty is not None:
            self.mark_dirty()
        return label

    def _set_acting(self, author: str | None) -> None:
        self._acting = author

    async def _seed_blame(self) -> None:
        """Line authorship from the latest version; lines changed since are unknown."""
        latest = self.latest
        live = [(str(c.get("id")), str(c.get("source", ""))) for c in self._cells()]
        old_texts: dict[str, str] = {}
        if latest is not None:
            stale = [latest.cell(cid) for cid, text in live
                     if authorship.decode(latest.blame.get(cid), text) is None]
            bodies = await self.store.blobs([e.body for e in stale if e is not None])
            for entry in stale:
                if entry is not None and entry.body in bodies:
                    body = decode_blob(bodies[entry.body])
                    old_texts[entry.id] = _text(body.get("source", ""))
        for cell_id, text in live:
            marks = authorship.decode(latest.blame.get(cell_id), text) if latest else None
            if marks is not None or cell_id not in old_texts:
                self.blame.seed(cell_id, text, marks)
                continue
            old = old_texts[cell_id]
            old_marks = authorship.decode(latest.blame.get(cell_id), old) if latest else None
            self.blame.seed(cell_id, old, old_marks)
            self.blame.changed(cell_id, text, None)

    def _cells(self) -> list[dict[str, Any]]:
        cells: list[dict[str, Any]] = self.document.export()["cells"]
        return cells

    # --- watching changes ----------------------------------------------------------------

    def _on_events(self, events: list[Any]) -> None:
        if not events:
            return
        self.changed = True
        origin = deep_event_origin(events[0])
        if origin is ServerOrigin.KERNEL:
            self.flags.add("outputs")
            return
        author = self._author(origin)
        touched: dict[int, Any] = {}
        structure = []
        for event in events:
            path = list(event.path)
            if not path:
                structure.append(event)
            elif len(path) == 2 and path[1] == "source" and isinstance(path[0], int):
                touched[path[0]] = event.target  # the cell's source text itself
            elif len(path) == 1 and isinstance(path[0], int):
                touched[path[0]] = None  # a key of the cell replaced (its source, maybe)
        for event in structure:  # first: the indexes of nested events are the new ones
            self._follow_structure(event, author)
        ids = self._ids
        for index, text in touched.items():
            if index >= len(ids):
                continue
            if text is None:
                text = self.document.cells[index].get("source", "")
            self.blame.changed(ids[index], str(text), author)

    def _follow_structure(self, event: Any, author: authorship.AuthorKey) -> None:
        """Cells were inserted, deleted or moved (a move deletes a cell and inserts one with
        its id): follow the array's delta, reading only the inserted cells, so a new cell
        in a 1000-cell notebook costs one cell, not a pass over the notebook. A moved cell
        keeps its lines' authors; a new one is its author's."""
        ids = self._ids
        position = 0
        gone: list[str] = []
        for change in event.delta or []:
            if "retain" in change:
                position += int(change["retain"])
            elif "delete" in change:
                count = int(change["delete"])
                gone += ids[position:position + count]
                del ids[position:position + count]
            elif "insert" in change:
                added = []
                for cell in change["insert"]:
                    cell_id = str(cell.get("id")) if isinstance(cell, Map) else ""
                    source = cell.get("source", "") if isinstance(cell, Map) else ""
                    self.blame.changed(cell_id, str(source), author)
                    added.append(cell_id)
                ids[position:position] = added
                position += len(added)
        if len(ids) != len(self.document.cells):  # a delta we could not follow: start over
            self._rescan(author)
        elif gone:
            self.blame.keep_only(set(ids))

    def _rescan(self, author: authorship.AuthorKey) -> None:
        """Look at every cell again (moved cells keep their lines' authors)."""
        self._ids = []
        for cell in self.document.cells:
            cell_id = str(cell.get("id"))
            self._ids.append(cell_id)
            self.blame.changed(cell_id, str(cell.get("source", "")), author)
        self.blame.keep_only(set(self._ids))

    def _author(self, origin: object) -> authorship.AuthorKey:
        """Who made a change with this origin (and note them as a contributor)."""
        if isinstance(origin, Connection):
            return self._contributor(origin.user.username,
                                     origin.user.display_name or origin.user.username)
        if isinstance(origin, PersonOrigin):
            return self._contributor(origin.username, origin.display_name)
        if origin is ServerOrigin.FILE:
            self.flags.add("disk")
            return authorship.DISK
        if self._acting is not None:
            return self._acting
        return None

    def _contributor(self, username: str, display_name: str) -> str:
        self.contributors[username] = display_name
        self.names[username] = display_name
        return authorship.user_key(username)

    def _learn_names(self, meta: dict[str, Any]) -> None:
        for person in meta.get("authors") or []:
            if isinstance(person, dict) and isinstance(person.get("username"), str):
                self.names[person["username"]] = str(person.get("display_name") or "")

    # --- recording -------------------------------------------------------------------------

    def saved(self) -> None:
        """The notebook was saved with changes: record a version once
        ``version_interval_s`` has passed since the latest one."""
        if self._due is not None and not self._due.done():
            return
        latest = self.latest_row.created_at if self.latest_row is not None else 0.0
        delay = max(0.0, latest + self.settings.version_interval_s - time.time())
        self._due = asyncio.create_task(self._record_after(delay))

    async def _record_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.record("auto")
        except StoreError as err:
            log.error("recording a version of %s failed: %s", self.key, err)

    async def before_outside_change(self) -> None:
        """Record the live notebook before the file's outside change is merged in."""
        try:
            await self.record("before-outside")
        except StoreError as err:
            log.error("recording %s before an outside change failed: %s", self.key, err)

    def _live_snapshot(self) -> tuple[Snapshot, dict[str, bytes]]:
        return split(self.document.export())

    async def record(self, kind: str, *, name: str | None = None, label: str | None = None,
                     by: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
                     force: bool = False) -> VersionRow | None:
        """Record the live notebook as a version, unless its content is the latest
        version's (and not ``force``). Returns the new version's row, or None.

        Raises:
            StoreError: the store could not keep it.
        """
        async with self._lock:
            snapshot, raw = self._live_snapshot()
            if not force and self.latest is not None and snapshot == replace(self.latest,
                                                                              blame={}):
                self.changed = False
                return None
            snapshot = replace(snapshot, blame=self.blame.encode())
            known = self.latest.refs if self.latest is not None else frozenset()
            blobs = {h: encode_blob(raw[h]) for h in snapshot.refs - known}
            now = time.time()
            info: dict[str, Any] = {
                "authors": [{"username": u, "display_name": d}
                            for u, d in sorted(self.contributors.items())],
                "summary": summarize(self.latest, snapshot),
                "flags": sorted(self.flags), "label": label, "by": by, **(extra or {})}
            row = VersionRow(self.key, self._new_id(now), now, kind, name,
                             json.dumps(info, separators=(",", ":")))
            await self.store.add_version(
                NewVersion(row, encode_manifest(snapshot), snapshot.refs, blobs))
            self.latest, self.latest_row = snapshot, row
            self.changed = False
            self.first_at = self.first_at or now
            self.contributors.clear()
            self.flags.clear()
            await self._thin(now)
        if self.announce is not None:
            self.announce({"type": "history", "version": version_meta(row)})
        return row

    def _new_id(self, now: float) -> str:
        """Sortable and unique: milliseconds, then a random tail; never below the last."""
        stamp = f"{int(now * 1000):012x}"
        if stamp <= self._last_id[:12]:
            stamp = f"{int(self._last_id[:12], 16) + 1:012x}"
        self._last_id = stamp + secrets.token_hex(3)
        return self._last_id

    async def _thin(self, now: float) -> None:
        rows = await self.store.versions(self.key)
        doomed = expired(rows, now, self.settings)
        if doomed:
            await self.store.delete_versions(self.key, doomed)
            kept = [r for r in rows if r.id not in set(doomed)]
            self.first_at = kept[0].created_at if kept else None

    # --- reading ---------------------------------------------------------------------------

    async def snapshot(self, version_id: str) -> Snapshot:
        """A version's snapshot.

        Raises:
            UnknownVersion: this notebook has no such version.
            HistoryUnavailable: the store cannot be read.
        """
        try:
            manifest = await self.store.manifest(self.key, version_id)
        except StoreError as err:
            raise HistoryUnavailable(str(err)) from err
        if manifest is None:
            raise UnknownVersion(f"no version {version_id} of this notebook")
        return decode_manifest(manifest)

    async def content(self, snapshot: Snapshot) -> dict[str, Any]:
        """The notebook a snapshot describes.

        Raises:
            HistoryUnavailable: the store cannot be read, or lost a blob.
        """
        try:
            stored = await self.store.blobs(snapshot.refs)
            return assemble(snapshot, {h: decode_blob(b) for h, b in stored.items()})
        except StoreError as err:
            raise HistoryUnavailable(str(err)) from err

    def live_is_latest(self) -> bool:
        """Whether the live notebook's content is the latest version's."""
        latest = self.latest
        return latest is not None and self._live_snapshot()[0] == replace(latest, blame={})

    def live(self) -> tuple[Snapshot, dict[str, Any]]:
        """The live notebook and its snapshot (with its current line authorship)."""
        notebook = self.document.export()
        snapshot, _ = split(notebook)
        return replace(snapshot, blame=self.blame.encode()), notebook


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)
