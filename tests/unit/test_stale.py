"""Copies from another history are held apart and kept, never merged; offline edits on
top of the room's history merge once; refused tabs are held back, then let through."""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Array, Doc, Map, Text

from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync import codec
from jupyter_huddle.collab.sync.close_codes import CloseCode
from jupyter_huddle.collab.sync.held import HeldPeers
from jupyter_huddle.collab.sync.room import DocumentKeeper, Room
from jupyter_huddle.collab.sync.stale import StaleTabs, foreign_history
from tests.support.memory_peer import MemoryPeer
from tests.unit.test_room import ROOM, notebook, source


def cell_sources(doc: Any) -> list[str]:
    return [str(c["source"]) for c in doc.get("cells", type=Array)]


def test_foreign_means_content_and_nothing_in_common():
    assert foreign_history({7: 3}, {1: 10})
    assert not foreign_history({7: 3, 1: 2}, {1: 10})  # builds on client 1's history
    assert not foreign_history({}, {1: 10})  # holds nothing
    assert not foreign_history({7: 0}, {1: 10})


async def test_a_copy_from_another_history_is_kept_apart_never_merged():
    kept: list[tuple[int, bytes | None]] = []

    async def keep(peer: Any, copy: bytes | None, by_session: bool) -> None:
        assert not by_session  # its session was current: its copy told it apart
        kept.append((peer.id, copy))
        peer.close(CloseCode.RELOAD, "reload")

    async def save() -> str:
        return "failed"

    keeper = DocumentKeeper(persist=lambda update, origin: None, save=save, keep_stale_copy=keep)
    async with Room(ROOM, notebook("a", "b", "c"), CollabSettings(), keeper) as room:
        honest = MemoryPeer(room, "honest").join()
        # the same notebook loaded into another history (a lost store rebuilt from the file)
        stale_doc: Doc = Doc()
        stale_doc.get("cells", type=Array).extend(
            [Map({"id": f"x{i}", "cell_type": "code", "source": Text(s), "metadata": Map(),
                  "outputs": Array(), "execution_count": None}) for i, s in
             enumerate(["a", "b", "c", "typed offline"])])
        stale = MemoryPeer(room, "stale", doc=stale_doc).join()
        for _ in range(3):
            stale.pump()
            honest.pump()
        async with asyncio.timeout(5):  # the room hands the copy on in a task of its own
            while not kept:
                await asyncio.sleep(0)
        assert cell_sources(room.doc) == ["a", "b", "c"]
        assert cell_sources(honest.doc) == ["a", "b", "c"]
        assert stale.conn.id not in room.peers
        ((peer_id, copy),) = kept
        assert peer_id == stale.conn.id
        assert copy is not None
        recovered: Doc = Doc()
        recovered.apply_update(copy)
        assert cell_sources(recovered) == ["a", "b", "c", "typed offline"]


async def test_offline_edits_on_this_history_merge_once():
    async with Room(ROOM, notebook("start"), CollabSettings()) as room:
        first = MemoryPeer(room, "a").join()
        first.detach()  # offline
        source(first, 0).insert(0, "offline ")
        back = MemoryPeer(room, "a", doc=first.doc).join()
        for _ in range(3):
            back.pump()
        assert cell_sources(room.doc) == ["offline start"]
        assert back.conn.id in room.peers


def test_refused_tabs_are_held_back_then_let_through():
    now = [0.0]
    tabs = StaleTabs(retry_s=20, max_tabs=2, clock=lambda: now[0])
    key = ("ann", "json:notebook:x", "old")
    assert not tabs.refusing(key)
    tabs.refused(key)
    assert tabs.refusing(key)
    now[0] = 21
    assert not tabs.refusing(key)  # one attempt goes through, to keep what was typed
    tabs.remember(key, "d1", "nb.recovered.ipynb")
    assert tabs.kept(key, "d1") == ("nb.recovered.ipynb", False)
    assert tabs.kept(key, "d2") == ("nb.recovered.ipynb", True)
    for n in range(5):  # bounded: the oldest are forgotten
        tabs.refused(("bob", "r", str(n)))
    assert len(tabs) == 2


async def test_a_held_peer_that_never_answers_cannot_grow_its_copy_past_the_bound():
    """A held peer that sends updates but never its SyncStep2 has its copy taken once it
    has handed in ``max_bytes``; what it sends after that is not kept."""
    taken: list[bytes | None] = []
    held = HeldPeers(lambda peer, copy, by_session: taken.append(copy), wait_s=60,
                     max_bytes=250)  # about two and a half of the updates below

    class Peer:
        id = 1

        def send(self, frame: bytes, shared: bool = False) -> None:
            pass

    peer: Any = Peer()
    held.hold(peer, b"\x00", by_session=True)
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    updates = []
    for _ in range(4):
        before = doc.get_state()
        text += "x" * 90
        updates.append(doc.get_update(before))
    for update in updates[:2]:
        held.handle(peer, codec.SyncUpdate(update))
    assert taken == [], "under the bound: still waiting for its copy"
    held.handle(peer, codec.SyncUpdate(updates[2]))
    assert len(taken) == 1, "past the bound: the copy is taken as it stands"
    held.handle(peer, codec.SyncUpdate(updates[3]))
    assert len(taken) == 1
    copy: Doc = Doc()
    assert taken[0] is not None
    copy.apply_update(taken[0])
    assert str(copy.get("t", type=Text)) == "x" * 270
    held.close()
