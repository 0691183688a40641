"""A room: one shared document (or none, for presence-only rooms) and the peers editing it.

The room speaks the y-websocket protocol with each peer through its ``Connection``: it
sends SyncStep1 on join, answers every SyncStep1 with SyncStep2, applies updates from peers
allowed to write, and fans each applied update out to the other peers as one pre-encoded
frame. It relays presence, removes a peer's presence when it leaves, and keeps idle
sockets alive. It knows nothing about files or HTTP: saving is a callback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, TransactionEvent

from ..documents.base import SharedDocument
from ..documents.notebook import NotebookDocument
from ..errors import ProtocolError
from ..ids import RoomId
from ..origins import ServerOrigin, event_origin
from ..settings import CollabSettings
from . import codec
from .close_codes import CloseCode
from .connection import Connection
from .full_state import FullState
from .guard import ProtectedRoots, ServerState
from .locks import CellLocks
from .presence import PresenceRelay
from .update_inspect import KnownState, changes_document, check_leading_count
from .vetting import HistoryVetting

log = logging.getLogger(__name__)

SaveHandler = Callable[[], Awaitable[str]]
ChangeListener = Callable[[bytes, object], None]
# Told how many bytes of large buffers the room just let go (see ``heap.HeapTrimmer``).
ReleaseListener = Callable[[int], None]
# Keeps the copy of a peer whose history is not the room's, then closes that peer.
StaleCopyHandler = Callable[[Connection, bytes | None, bool], Coroutine[Any, Any, None]]
Guard = ProtectedRoots | ServerState | CellLocks  # checks a peer's update once applied


@dataclass(frozen=True)
class DocumentKeeper:
    """What a room asks of whoever keeps its document (``files.binding.FileBinding``),
    given when the room is made so the persistence flow is visible in one place.

    ``persist`` gets every applied change before anyone else hears of it (the update log
    and the save schedule); ``save`` answers a peer's save request (``"success"`` once the
    file is on disk, else ``"failed"``); ``keep_stale_copy`` keeps the copy of a peer held
    apart as another history (see ``vetting``) and closes that peer. The keeper speaks to
    the room's peers through ``Room.announce``.
    """

    persist: ChangeListener
    save: SaveHandler
    keep_stale_copy: StaleCopyHandler


class Room:
    """Peers around one document. Use as an async context manager (it owns its tasks).

    Its tasks are plain asyncio tasks rather than an anyio task group because a room is
    opened by one peer's handler and closed later by the manager's eviction task, and a
    task group must be exited by the task that entered it.
    """

    def __init__(
        self,
        room_id: RoomId,
        document: SharedDocument | None,
        settings: CollabSettings,
        keeper: DocumentKeeper | None = None,
    ) -> None:
        self.id = room_id
        self.document = document
        # Presence-only rooms still answer sync (y-websocket always asks) from an empty doc
        # that never accepts updates.
        self.doc: Doc[Any] = document.doc if document is not None else Doc()
        self.settings = settings
        self.peers: dict[int, Connection] = {}
        # Peers' presence, relayed, and the server's own entry (see ``presence``).
        self.presence = PresenceRelay(self.peers, settings,
                                      lambda frame, exclude: self.broadcast(frame, exclude))
        self.awareness = self.presence.table
        # None: nobody keeps this document (presence-only rooms, tests): saves fail, stale
        # copies are refused without being kept.
        self.keeper = keeper
        self._change_listeners: list[ChangeListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        roots = document.protected_roots if document is not None else ()
        self._guard = ProtectedRoots(self.doc, roots) if roots else None
        self._state_guard = ServerState(self.doc, str(room_id)) if document is not None else None
        self._locks = CellLocks(document) if isinstance(document, NotebookDocument) else None
        # While a guarded update is checked, its transactions wait here instead of going
        # out: peers get the net result, never a forged change and then its undo.
        self._held: list[tuple[bytes, object]] | None = None
        self._running = False
        # Read once per version of the document, for every peer that asks: the state
        # vector and delete set (read-only peers' updates) and the full state (SyncStep2).
        self._known = KnownState(self.doc)
        self._full_state = FullState(self.doc)
        self.on_release: ReleaseListener | None = None
        # Peers whose copy may be another history of the document (see ``vetting``).
        self._vetting = HistoryVetting(document, self._known, self._stale_copy,
                                       max_copy_bytes=settings.max_peer_queue_bytes,
                                       leave=self.leave, apply=self._apply_peer_update,
                                       answer=self._answer_sync)
        self._subscription = self.doc.observe(self._on_transaction)

    def __repr__(self) -> str:
        return f"<Room {self.id} peers={len(self.peers)}>"

    async def __aenter__(self) -> Room:
        self._running = True
        self._spawn(self._keep_alive())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._running = False
        self.presence.close()
        self.doc.unobserve(self._subscription)
        self._vetting.close()
        for peer in list(self.peers.values()):
            peer.close(CloseCode.GOING_AWAY, "room closed")
        self.peers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(update, origin)`` after every transaction that changed the doc."""
        self._change_listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        """Stop calling a listener added with ``add_change_listener`` (no-op if it is not there)."""
        if listener in self._change_listeners:
            self._change_listeners.remove(listener)

    # --- peers ----------------------------------------------------------------------------

    def join(self, peer: Connection) -> None:
        """Add a peer and start the sync: our state vector, then everyone's presence."""
        self.peers[peer.id] = peer
        self.presence.name_peer(peer)
        if self._guard is not None:
            self._guard.track(peer)
        # Which presence entry is the server's: clients read the run queue, kernel status
        # and presenter from that entry only, never from a state that merely claims to be it.
        peer.send(_raw_json(type="server_presence", client_id=self.presence.server_client_id))
        peer.send(codec.encode_sync_step1(self._known.state))
        presence = self.presence.snapshot_for(peer)
        if presence is not None:
            peer.send(codec.encode_awareness(presence))

    def hold_stale(self, peer: Connection, by_session: bool = True) -> None:
        """Hold a peer whose copy belongs to another history of the document (its session
        names an older epoch, or, ``by_session`` False, its state vector shares nothing
        with this history): its copy is asked for and kept apart (``keeper.keep_stale_copy``),
        never merged."""
        self._vetting.hold(peer, by_session)

    @property
    def busy(self) -> bool:
        """Someone is here: a peer, or a socket held apart while its copy is kept."""
        return bool(self.peers) or bool(self._vetting.held)

    def _stale_copy(self, peer: Connection, copy: bytes | None, by_session: bool) -> None:
        if self.keeper is None or not self._running:
            peer.close(CloseCode.RELOAD, "")
            return
        self._spawn(self.keeper.keep_stale_copy(peer, copy, by_session))

    def leave(self, peer: Connection) -> None:
        """Remove a peer and tell the others its presence is gone; the last one out takes
        the cached full state with it."""
        self._vetting.forget(peer)
        if self.peers.pop(peer.id, None) is None:
            return
        self.presence.remove_peer(peer.id)
        released = peer.outbox.held_bytes() + self._full_state.left(peer.id)
        if not self.peers:
            released += self._full_state.drop()
        self._released(released)

    def forget_caches(self) -> int:
        """Drop what the room keeps only to answer peers (the room is closing); the bytes
        released, with the document's own encoded size, as a hint for the heap."""
        size = max(self._full_state.size_estimate, self._full_state.cached_bytes)
        self._full_state.drop()
        self._known.invalidate()
        return size

    def _released(self, nbytes: int) -> None:
        if self.on_release is not None and nbytes > 0:
            self.on_release(nbytes)

    def broadcast(self, frame: bytes, exclude: Connection | None = None) -> None:
        """Send ``frame`` to every peer except ``exclude``."""
        for peer in list(self.peers.values()):
            if peer is not exclude:
                peer.send(frame)

    def announce(self, message: dict[str, Any]) -> None:
        """Send a RAW JSON message from the server to every peer (e.g. ``file_changed``)."""
        self.broadcast(_raw_json(**message))

    def set_server_state(self, **fields: Any) -> None:
        """Publish server-owned presence fields to every peer (and to later joiners)."""
        self.presence.set_server_state(**fields)

    @property
    def server_state(self) -> dict[str, Any]:
        """A copy of the server-owned presence fields published with ``set_server_state``."""
        return self.presence.server_state

    # --- messages -------------------------------------------------------------------------

    def handle(self, peer: Connection, frame: bytes) -> None:
        """Handle one frame from ``peer``.

        Raises:
            ProtocolError: the frame is malformed; the caller closes this peer only.
        """
        message = codec.decode_message(frame)
        if self._vetting.holds(peer):
            self._vetting.handle_held(peer, message)
            return
        match message:
            case codec.SyncStep1(state_vector):
                if self._vetting.first_sync(peer, state_vector):
                    self._answer_sync(peer, state_vector)
            case codec.SyncStep2(update) | codec.SyncUpdate(update):
                if self._vetting.waiting(peer):
                    self._vetting.settle(peer, update)
                else:
                    self._apply_peer_update(peer, update)
            case codec.AwarenessMessage(payload):
                self.presence.apply(peer, payload)
            case codec.SaveRequest(request_id):
                self._spawn(self._answer_save(peer, request_id))
            case _:
                log.debug("room %s ignores %r from %r", self.id, message, peer)

    def _answer_sync(self, peer: Connection, state_vector: bytes) -> None:
        """SyncStep2: the shared full state for a peer that lacks most of the document, a
        diff of its own for one that is close (see ``full_state``)."""
        check_leading_count(state_vector, "state vector")
        answer = self._full_state.answer(state_vector, peer.id)
        for frame in answer.frames:
            peer.send(frame, shared=answer.shared)

    def _apply_peer_update(self, peer: Connection, update: bytes) -> None:
        if update == codec.EMPTY_UPDATE or self.document is None:
            return
        check_leading_count(update, "update")
        if not peer.permissions.write:
            if changes_document(update, self._known):
                log.info("room %s refused an edit from read-only %r", self.id, peer)
                peer.send(_raw_json(
                    type="error", reason="read_only",
                    message="You have read-only access; your edit was not applied.",
                ))
            return
        guards: list[Guard] = [g for g in (self._guard, self._state_guard) if g is not None]
        if self._locks is not None and not peer.permissions.manage:
            guards.append(self._locks)
        if guards:
            self._apply_guarded(peer, update, guards)
        else:
            self._apply(peer, update)
        self.document.repair(ServerOrigin.REPAIR)

    def _apply(self, peer: Connection, update: bytes) -> None:
        try:
            with self.doc.transaction(origin=peer):
                self.doc.apply_update(update)
        except Exception as err:  # yrs raises plain errors for corrupt updates
            raise ProtocolError(f"update rejected: {err}") from err

    def _apply_guarded(self, peer: Connection, update: bytes, guards: list[Guard]) -> None:
        before = self.doc.get_state()
        self._held = []
        refused: list[Guard] = []
        try:
            for guard in guards:
                guard.before(peer)
            try:
                self._apply(peer, update)
            finally:
                # every guard's revert runs (each also ends its own watch of the update)
                refused = [guard for guard in guards if guard.revert(peer)]
        finally:
            held, self._held = self._held, None
        if not refused:
            for held_update, origin in held:
                self._emit(held_update, origin)
            return
        names = ", ".join(name for guard in refused for name in guard.names)
        log.warning("room %s refused a change to %s from %r", self.id, names, peer)
        reason = "locked" if refused == [self._locks] else "protected"
        peer.send(_raw_json(type="error", reason=reason, message=refused[0].message))
        self.broadcast(codec.encode_sync_update(self.doc.get_update(before)))
        for held_update, origin in held:
            self._tell(held_update, origin)

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        if update == codec.EMPTY_UPDATE:
            return
        self._known.invalidate()
        self._full_state.changed(len(update))
        origin = event_origin(self.doc, event)
        if self._held is not None:
            self._held.append((update, origin))
            return
        self._emit(update, origin)

    def _emit(self, update: bytes, origin: object) -> None:
        frame = codec.encode_sync_update(update)
        exclude = origin if isinstance(origin, Connection) else None
        self.broadcast(frame, exclude=exclude)
        self._tell(update, origin)

    def _tell(self, update: bytes, origin: object) -> None:
        """An applied change: the keeper persists it first, then the other listeners."""
        if self.keeper is not None:
            self.keeper.persist(update, origin)
        for listener in self._change_listeners:
            listener(update, origin)

    async def _answer_save(self, peer: Connection, request_id: int) -> None:
        if self.keeper is None or not peer.permissions.write:
            status = "failed"
        else:
            status = await self.keeper.save()
        peer.send(_raw_json(type="save", responseTo=request_id, status=status))

    # --- background -----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if not self._running:
            coro.close()
            raise RuntimeError("room is not running")
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("room %s task failed", self.id, exc_info=task.exception())

    async def _keep_alive(self) -> None:
        """Send something to every peer at least every ``keepalive_interval_s``, cut off
        peers that stopped reading, and drop cached frames nobody asks for any more.

        y-websocket drops a socket that received nothing for 30 s; ping frames do not count.
        A peer with bytes waiting that takes none of them for ``peer_stall_timeout_s`` gets
        1013: a socket that never reads must not pin what was sent to it.
        """
        keep = self.settings.keepalive_interval_s / 2
        stall = self.settings.peer_stall_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(min(keep, stall / 4), 0.01))
            now = loop.time()
            for peer in list(self.peers.values()):
                if peer.closed:
                    continue
                if peer.outbox.stalled_for(now) >= stall:
                    log.info("room %s cuts off %r: it took nothing for %s s", self.id, peer,
                             stall)
                    peer.close(CloseCode.TRY_AGAIN_LATER, "client stopped reading")
                elif peer.last_sent <= now - keep:
                    peer.send(codec.KEEPALIVE_FRAME)
            self._released(self._full_state.expire())


def _raw_json(**fields: Any) -> bytes:
    return codec.encode_raw(json.dumps(fields, separators=(",", ":")))
