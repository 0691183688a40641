"""A document bound to its file and its update log: load, save, log, follow the disk.

Loading: the update log wins when the file is what the server last saved (unsaved edits
survive a crash); a file changed since is merged in, the disk winning where both changed.
Saving: the scheduler decides when; after each write the server records ``state.dirty =
false``, ``state.hash`` (exactly what the contents API reports) and, in the store, the
file's hash and per-cell digests (the base of later merges). Every change is appended to
the log; the log is compacted to one verified state now and then.

A notebook's review threads are not in its shared metadata but in a root of their own; the
binding moves them between that root and the file's metadata (``huddle.comments``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from ..documents.base import DiskMerge, SharedDocument
from ..documents.notebook import NotebookDocument
from ..documents.schema import (
    copy_json,
    saved_only,
    split_comments,
    split_history_stamp,
    with_comments,
    with_history_stamp,
)
from ..documents.text import TextDocument
from ..errors import DocumentLoadError, DocumentNotFound, SaveError
from ..ids import DocumentRoomId
from ..origins import PersonOrigin, ServerOrigin
from ..review import follow_outside_edit, load_saved_threads, saved_threads
from ..settings import CollabSettings
from ..store import DocumentRecord, StoredHistory, UpdateStore
from ..sync.connection import Connection
from .backend import FileBackend, FileSnapshot
from .history import verified_state
from .saver import SaveScheduler

log = logging.getLogger(__name__)

Notify = Callable[[dict[str, Any]], None]


class VersionHooks(Protocol):
    """What the binding tells the document's version history (``history.HistoryRecorder``)."""

    def saved(self) -> None:
        """The file was written with changes."""

    async def before_outside_change(self) -> None:
        """The file changed outside Huddle and is about to be merged into the document."""

    def stamp(self) -> dict[str, Any] | None:
        """What the file keeps of the history (``huddle.history``), or None."""


def new_document(room_id: DocumentRoomId) -> SharedDocument:
    """An empty shared document of the room's type: a notebook, or plain text."""
    return NotebookDocument() if room_id.type == "notebook" else TextDocument()


def load_file(document: SharedDocument, content: Any) -> Any:
    """Fill an empty document from its file's content; a notebook's saved review threads
    go to their own root, not into the shared metadata. Returns the notebook's version
    history stamp (``huddle.history``), or None."""
    if not isinstance(document, NotebookDocument):
        document.load(content, ServerOrigin.LOAD)
        return None
    metadata, threads = split_comments(content.get("metadata") or {})
    metadata, stamp = split_history_stamp(metadata)
    document.load({**content, "metadata": metadata}, ServerOrigin.LOAD)
    if threads is not None:
        load_saved_threads(document, copy_json(threads))
    return stamp


def file_content(document: SharedDocument, settings: CollabSettings,
                 stamp: dict[str, Any] | None = None) -> Any:
    """What the document's file holds now: its export and, unless ``save_comments`` is off,
    a notebook's review threads in its metadata; and the history ``stamp`` if given."""
    content = document.export()
    if isinstance(document, NotebookDocument) and settings.save_comments:
        threads = saved_threads(document)
        if threads is not None:
            content["metadata"] = with_comments(content["metadata"], threads)
    if isinstance(document, NotebookDocument) and stamp is not None:
        content["metadata"] = with_history_stamp(content["metadata"], stamp)
    return content


def document_content(document: SharedDocument, content: Any) -> Any:
    """File content without what the document does not hold (a notebook's saved review
    threads): what its ``merge_disk`` and ``mark_saved`` take."""
    if not isinstance(document, NotebookDocument):
        return content
    return {**content, "metadata": saved_only(content.get("metadata") or {})}


class FileBinding:
    """One room's document bound to its file and its update log (see the module docstring)."""

    def __init__(
        self,
        room_id: DocumentRoomId,
        backend: FileBackend,
        store: UpdateStore,
        path: str,
        settings: CollabSettings,
        epoch: str,
    ) -> None:
        self.room_id = room_id
        self.key = str(room_id)
        self.backend = backend
        self.store = store
        self.path = path
        self.settings = settings
        self.document = new_document(room_id)
        self.record = DocumentRecord(self.key, epoch, path=path)
        self.saver = SaveScheduler(
            self._save,
            quiet_s=settings.save_delay_s,
            max_delay_s=settings.max_save_delay_s,
            retry_delay_s=settings.save_retry_delay_s,
            name=str(room_id),
        )
        # Tells the room's peers what happened to their file (conflicts, deletion).
        self.notify: Notify | None = None
        # A failed save is shown to everyone (state.save_error), and cleared once saved.
        self.saver.on_result = lambda error: self.document.set_state(
            ServerOrigin.SAVE_STATE, save_error=error)
        # Saving and reading the disk for changes exclude each other: otherwise our own
        # save, seen half-way, would look like someone else's change.
        self._disk_lock = asyncio.Lock()
        self._since_compaction = 0
        self._bytes_since_compaction = 0
        # Size of the last compacted state: compaction costs O(state), so it waits until
        # at least half that much has been logged since (its cost stays proportional to
        # the logging it saves, however large the document).
        self._state_bytes = 0
        self._compaction: asyncio.Task[bool] | None = None
        # The document's version history, once its room is open (notebooks only).
        self.history: VersionHooks | None = None
        # (mtime, size) of the file right after our last save: a save first checks the file
        # did not change since (an outside write the watcher has not seen yet).
        self._saved_fingerprint: Any = None
        # The history stamp the file held when loaded (None: none, or not loaded from it).
        self.loaded_stamp: Any = None

    @property
    def epoch(self) -> str:
        """Which Yjs history of the document the store holds; a rebuilt history gets a new one."""
        return self.record.epoch

    def content(self) -> Any:
        """What the file would hold if saved now (``file_content``)."""
        stamp = self.history.stamp() if self.history is not None else None
        return file_content(self.document, self.settings, stamp)

    # --- loading ----------------------------------------------------------------------------

    async def load(self, new_epoch: Callable[[], str]) -> None:
        """Fill the document from the store and the file.

        Raises:
            DocumentNotFound, DocumentLoadError: from the backend.
        """
        history = await self.store.load(self.key)
        snapshot = await self.backend.load(self.path, self.room_id.type)
        stored_state = b"\x00"  # what the log holds: nothing, or the replayed history
        if (history is not None and history.complete and history.updates
                and self._replay(history)):
            stored_state = self.document.doc.get_state()
            self.record = replace(history.record, path=self.path)
            if snapshot.hash != history.record.saved_hash:
                log.info("%s changed on disk while the server was down: merging it", self.path)
                await self._merge_disk(snapshot)
            elif self.document.digest(self.content()) != self.record.saved_digest:
                # The log is newer than the file (edits made before a crash, never saved).
                log.info("%s: restored unsaved edits from the update store", self.path)
                self.saver.mark_dirty()
        else:
            if history is not None and (history.updates or not history.complete):
                if not history.complete:
                    log.warning("%s: its stored history lost writes while the update store "
                                "failed; loading the file under a new history", self.path)
                self.record = DocumentRecord(self.key, new_epoch(), path=self.path)
            self.loaded_stamp = load_file(self.document, snapshot.content)
            content = self.content()
            self.record = replace(self.record, saved_hash=snapshot.hash,
                                  saved_digest=self.document.digest(content))
        self.document.settle_execution(ServerOrigin.LOAD)
        # Log whatever loading added (the file's content, a merge, settled cells): the room's
        # change listener is not attached yet.
        added = self.document.doc.get_update(stored_state)
        if stored_state == b"\x00":
            # Nothing replayed: this is the whole log, replacing whatever the store held
            # under this key (a corrupt, incomplete or orphaned log).
            await self.store.compact(self.key, added)
        elif added != b"\x00\x00":
            self.store.append(self.key, added)
        await self.store.put_record(self.record)
        self.document.set_state(ServerOrigin.LOAD, path=self.path, dirty=self.saver.dirty,
                                hash=snapshot.hash)

    def _replay(self, history: StoredHistory) -> bool:
        """Apply the stored history; False (and a fresh document) if it does not apply."""
        try:
            with self.document.doc.transaction(origin=ServerOrigin.STORE):
                for update in history.updates:
                    self.document.doc.apply_update(update)
        except Exception as err:  # yrs raises plain errors on corrupt updates
            log.error("the stored history of %s (%s) is corrupt (%s): loading the file with "
                      "a new history; clients of the old one will be asked to reload",
                      self.path, self.key, err)
            self.document = new_document(self.room_id)
            return False
        return True

    # --- changes ----------------------------------------------------------------------------

    def on_change(self, update: bytes, origin: object) -> None:
        """Room change listener: log the change, and decide whether it needs saving."""
        if isinstance(origin, ServerOrigin) and not origin.persisted:
            return
        self.store.append(self.key, update)
        self._since_compaction += 1
        self._bytes_since_compaction += len(update)
        if self._compaction_due():
            self.schedule_compaction()
        if isinstance(origin, Connection | PersonOrigin) or (
            isinstance(origin, ServerOrigin) and origin.marks_dirty
        ):
            self.saver.mark_dirty()

    def _compaction_due(self) -> bool:
        return (self._since_compaction >= self.settings.compact_after_updates
                and self._bytes_since_compaction * 2 >= self._state_bytes)

    def schedule_compaction(self) -> None:
        """Start compacting the log in the background, unless a compaction is running already."""
        if self._compaction is None or self._compaction.done():
            self._compaction = asyncio.create_task(self._compact_while_due())

    async def _compact_while_due(self) -> bool:
        # Edits keep arriving while a compaction commits; go again if enough piled up.
        done = await self.compact()
        while done and self._compaction_due():
            done = await self.compact()
        return done

    async def compact(self) -> bool:
        """Replace the log by one state, only if that state replays to the live document."""
        self._since_compaction = self._bytes_since_compaction = 0
        state = verified_state(self.document.doc)
        if state is None:
            log.error("compacting %s: the compacted state does not replay to the live "
                      "document; keeping the full log", self.key)
            return False
        self._state_bytes = len(state)
        await self.store.compact(self.key, state)
        return True

    async def restore_history(self) -> None:
        """The store lost part of this document's log (it failed): write it whole again,
        a verified state and the record."""
        if await self.compact():
            await self.store.put_record(self.record)

    async def close(self) -> None:
        """The room is closing: compact its log."""
        if self._compaction is not None:
            await asyncio.gather(self._compaction, return_exceptions=True)
        await self.compact()

    # --- saving -----------------------------------------------------------------------------

    async def save_request(self) -> str:
        """Answer a client's save request: "success" only once the file is on disk."""
        try:
            await self.saver.save_now()
        except SaveError:
            return "failed"
        return "success"

    async def refresh_path(self) -> None:
        """Follow a rename: the file id stays, the path and ``state.path`` change."""
        path = await self.backend.path_for(self.room_id.file_id)
        if path is not None and path != self.path:
            log.info("%s moved from %s to %s", self.room_id, self.path, path)
            self.path = path
            self.record = replace(self.record, path=path)
            await self.store.put_record(self.record)
            self.document.set_state(ServerOrigin.RENAME, path=path)

    async def _save(self) -> None:
        await self.refresh_path()
        async with self._disk_lock:
            await self._merge_unseen_change()
            self.document.prepare_for_save(ServerOrigin.REPAIR)
            content = self.content()
            digest = self.document.digest(content)
            if digest == self.record.saved_digest:
                self.document.set_state(ServerOrigin.SAVE_STATE, dirty=False)
                return
            self.document.check(content)
            snapshot = await self.backend.save(self.path, self.room_id.type, content)
            self._saved_fingerprint = await self.backend.fingerprint(self.path)
            self.document.mark_saved(document_content(self.document, content))
            self.record = replace(self.record, saved_hash=snapshot.hash, saved_digest=digest)
            await self.store.put_record(self.record)
        self.document.set_state(ServerOrigin.SAVE_STATE, dirty=False, hash=snapshot.hash)
        if self.history is not None:
            self.history.saved()

    # --- the file changing outside Huddle ---------------------------------------------------

    async def _merge_unseen_change(self) -> None:
        """About to save: if the file changed since our last save and the watcher has not
        merged it yet, merge it now, or the save would overwrite it (a stat per save; the
        file is read only when its fingerprint moved)."""
        if self._saved_fingerprint is None:
            return
        if await self.backend.fingerprint(self.path) == self._saved_fingerprint:
            return
        try:
            snapshot = await self.backend.load(self.path, self.room_id.type)
        except (DocumentNotFound, DocumentLoadError):
            return  # gone or half-written: the watcher decides; the save goes ahead
        if snapshot.hash != self.record.saved_hash:
            log.info("%s changed outside Huddle just before a save: merging it first",
                     self.path)
            if self.history is not None:
                await self.history.before_outside_change()
            await self._merge_disk(snapshot)

    async def check_disk(self) -> bool:
        """Merge the file into the document if it changed outside Huddle.

        Returns:
            False if the file is gone.
        """
        async with self._disk_lock:
            try:
                snapshot = await self.backend.load(self.path, self.room_id.type)
            except DocumentNotFound:
                return False
            except DocumentLoadError as err:
                # Caught half-written by another program, or broken: keep the live document.
                log.warning("%s changed on disk but cannot be read (%s); keeping the live "
                            "document", self.path, err)
                return True
            if snapshot.hash == self.record.saved_hash:
                return True  # touched, not changed
            log.info("%s changed outside Huddle: merging it into the live document", self.path)
            if self.history is not None:
                await self.history.before_outside_change()
            await self._merge_disk(snapshot)
            await self.store.put_record(self.record)
        self.document.set_state(ServerOrigin.SAVE_STATE, hash=snapshot.hash,
                                dirty=self.saver.dirty)
        return True

    async def _merge_disk(self, snapshot: FileSnapshot) -> None:
        theirs = self.document.normalize(snapshot.content)
        # The threads root is the truth about threads: the file's copy is not merged.
        ours = document_content(self.document, self.content())
        merge = self.document.merge_disk(self.record.saved_digest, ours,
                                         document_content(self.document, theirs),
                                         ServerOrigin.FILE)
        if isinstance(self.document, NotebookDocument):
            follow_outside_edit(self.document, ours["cells"])
        disk_digest = self.document.digest(theirs)
        self.record = replace(self.record, saved_hash=snapshot.hash, saved_digest=disk_digest)
        if self.document.digest(self.content()) != disk_digest:
            self.saver.mark_dirty()  # unsaved edits of ours survived the merge
        if merge.conflicts:
            await self._keep_overwritten(merge)

    async def save_stale_copy(self, copy: bytes, path: str | None) -> str:
        """Write a copy of this document from another history (a stale tab's) next to the
        file, as ``name.recovered-<time>.ext`` (or over ``path``, the one written for the
        same tab before); "" when it holds nothing the live document does not (no cells or
        text at all, or the same content).

        Raises:
            SaveError: it cannot be read as this kind of document, or written.
        """
        stale = new_document(self.room_id)
        try:
            stale.doc.apply_update(copy)
            stale.prepare_for_save(ServerOrigin.REPAIR)
            content = file_content(stale, self.settings)
        except Exception as err:  # yrs and the schema code raise plain errors on bad copies
            raise SaveError(f"unreadable copy: {err}") from err
        if not stale.holds_content(stale.doc) or (
                stale.digest(content) == self.document.digest(self.content())):
            return ""
        target = path or conflict_path(self.path, "recovered")
        await self.backend.save(target, self.room_id.type, content)
        log.warning("kept a stale tab's copy of %s in %s", self.path, target)
        return target

    async def _keep_overwritten(self, merge: DiskMerge) -> None:
        """Save what the disk overwrote next to the file, and tell the peers."""
        backup = conflict_path(self.path)
        try:
            await self.backend.save(backup, self.room_id.type, merge.overwritten)
        except SaveError as err:
            log.error("could not keep the overwritten version of %s: %s", self.path, err)
            backup = ""
        log.warning("%s: the file on disk and unsaved edits both changed %s; the disk won, "
                    "the unsaved version is in %s", self.path, merge.conflicts, backup or "-")
        if self.notify is not None:
            self.notify({"type": "file_changed", "path": self.path,
                         "conflicts": merge.conflicts, "backup": backup})


def conflict_path(path: str, label: str = "conflict") -> str:
    """``dir/name.ipynb`` -> ``dir/name.conflict-20261127-031500.ipynb``."""
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    new_name = f"{stem}.{label}-{stamp}" + (f".{suffix}" if suffix else "")
    return f"{folder}/{new_name}" if folder else new_name
