from __future__ import annotations

import asyncio
from typing import Any

import nbformat
import pytest
from pycrdt import Array, Map, Text

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.errors import ProtocolError
from jupyter_huddle.collab.ids import AwarenessRoomId, DocumentRoomId
from jupyter_huddle.collab.origins import ServerOrigin
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.close_codes import CloseCode
from jupyter_huddle.collab.sync.room import DocumentKeeper, Room
from tests.support.memory_peer import MemoryPeer
from tests.support.yclient import awareness_update

ROOM = DocumentRoomId("json", "notebook", "abc")


def notebook(*sources: str) -> NotebookDocument:
    doc = NotebookDocument()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    doc.load(nb, ServerOrigin.LOAD)
    return doc


def source(peer: MemoryPeer, index: int) -> Text:
    return peer.doc.get("cells", type=Array)[index]["source"]


async def test_peers_converge_and_updates_are_not_echoed():
    async with Room(ROOM, notebook("x = 1"), CollabSettings()) as room:
        a, b = MemoryPeer(room, "a").join(), MemoryPeer(room, "b").join()
        assert str(source(a, 0)) == str(source(b, 0)) == "x = 1"
        source(a, 0).insert(0, "é")
        assert a.pump() == 0  # the writer does not get its own update back
        assert b.pump() == 1
        source(b, 0).insert(len(str(source(b, 0)).encode()), "!")
        a.pump()
        assert str(source(a, 0)) == str(source(b, 0)) == "éx = 1!"
        assert isinstance(room.document, NotebookDocument)
        assert str(room.document.cells[0]["source"]) == "éx = 1!"


async def test_read_only_peer_syncs_but_cannot_edit():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        writer = MemoryPeer(room, "w").join()
        reader = MemoryPeer(room, "r", write=False).join()
        del source(writer, 0)[0:1]  # deletions make every SyncStep2 carry a delete set
        reader.pump()
        assert reader.raw == []  # its SyncStep2 changed nothing, so no refusal
        source(reader, 0).insert(0, "evil")
        writer.pump()
        assert isinstance(room.document, NotebookDocument)
        assert str(room.document.cells[0]["source"]) == ""
        reader.pump()
        assert reader.raw[-1]["reason"] == "read_only"


async def test_deleting_every_cell_leaves_one():
    async with Room(ROOM, notebook("a", "b"), CollabSettings()) as room:
        peer = MemoryPeer(room).join()
        cells = peer.doc.get("cells", type=Array)
        cells.clear()
        peer.pump()
        assert isinstance(room.document, NotebookDocument)
        assert len(room.document.cells) == 1
        assert len(cells) == 1


async def test_presence_is_sent_to_newcomers_and_removed_on_leave():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        a = MemoryPeer(room, "a").join()
        room.handle(a.conn, awareness_update(42, 1, {"user": {"name": "Ann"}, "cell": "c1"}))
        b = MemoryPeer(room, "b").join()
        # the name is the server's idea of who "a" is, not what the client claimed
        assert b.awareness == {42: {"user": {"username": "a", "name": "a",
                                             "display_name": "a", "initials": "A"},
                                    "cell": "c1"}}
        room.leave(a.conn)
        b.pump()
        assert b.awareness == {}


async def test_two_people_of_one_name_are_told_apart_in_the_room():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        peers = [MemoryPeer(room, user) for user in ("anon-1", "anon-2", "anon-3", "anon-1")]
        for peer in peers:
            peer.conn.presence = {"username": peer.conn.user.username, "name": "Anonymous Io",
                                  "display_name": "Anonymous Io", "initials": "AI"}
            peer.join()
        for i, peer in enumerate(peers):
            room.handle(peer.conn, awareness_update(100 + i, 1, {"user": {}}))
        watcher = MemoryPeer(room, "w").join()
        names = {cid: state["user"]["name"] for cid, state in watcher.awareness.items()}
        # the first keeps the name, the others are numbered; a second tab keeps its own
        assert names == {100: "Anonymous Io", 101: "Anonymous Io 2", 102: "Anonymous Io 3",
                         103: "Anonymous Io"}
        assert watcher.awareness[101]["user"]["display_name"] == "Anonymous Io 2"


async def test_malformed_frame_raises_for_that_peer_only():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        a, b = MemoryPeer(room, "a").join(), MemoryPeer(room, "b").join()
        with pytest.raises(ProtocolError):
            room.handle(a.conn, b"\x00\x02\x05garbage")
        source(b, 0).insert(0, "ok ")
        a.pump()
        assert str(source(a, 0)) == "ok x"


async def test_slow_peer_is_cut_off_with_1013():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        writer = MemoryPeer(room, "w").join()
        slow = MemoryPeer(room, "slow", max_queue_bytes=2000).join()
        for i in range(200):
            source(writer, 0).insert(0, f"{i:04d}")
        assert slow.closed_with is not None
        assert slow.closed_with[0] == CloseCode.TRY_AGAIN_LATER


async def test_save_requests_are_answered_after_the_handler():
    done = asyncio.Event()

    async def save() -> str:
        done.set()
        return "success"

    async def keep(peer: Any, copy: bytes | None, by_session: bool) -> None:
        raise AssertionError("no copy is stale here")

    keeper = DocumentKeeper(persist=lambda update, origin: None, save=save, keep_stale_copy=keep)
    async with Room(ROOM, notebook("x"), CollabSettings(), keeper) as room:
        peer = MemoryPeer(room).join()
        room.handle(peer.conn, b"\x02\x04save\x05")
        async with asyncio.timeout(2):
            await done.wait()
            await peer.conn.outbox.wait()
        peer.pump()
        assert peer.raw == [{"type": "save", "responseTo": 5, "status": "success"}]


async def test_idle_peers_get_keepalive_frames():
    settings = CollabSettings(keepalive_interval_s=0.05)
    async with Room(AwarenessRoomId("JupyterLab:globalAwareness"), None, settings) as room:
        peer = MemoryPeer(room).join()
        async with asyncio.timeout(2):
            await peer.conn.outbox.wait()
        assert peer.conn.outbox.take_all()[0] == b"\x01\x01\x00"


async def test_awareness_room_ignores_document_updates():
    async with Room(AwarenessRoomId("x"), None, CollabSettings()) as room:
        peer = MemoryPeer(room).join()
        peer.doc.get("t", type=Text).insert(0, "stash")
        assert str(room.doc.get("t", type=Text)) == ""


async def test_peers_cannot_write_the_comments_root():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        with room.doc.transaction(origin=ServerOrigin.REPAIR):
            room.doc.get("comments", type=Map)["t0"] = Map({"body": "real"})
        mallory, other = MemoryPeer(room, "m").join(), MemoryPeer(room, "o").join()
        with mallory.doc.transaction():
            mallory.doc.get("comments", type=Map)["t1"] = Map({"body": "forged"})
            del mallory.doc.get("comments", type=Map)["t0"]
            source(mallory, 0).insert(0, "legit ")
        other.pump()
        mallory.pump()
        for peer in (other, mallory):
            assert peer.doc.get("comments", type=Map).to_py() == {"t0": {"body": "real"}}
            assert str(source(peer, 0)) == "legit x"
        assert room.doc.get("comments", type=Map).to_py() == {"t0": {"body": "real"}}
        assert mallory.raw[-1]["reason"] == "protected"
        assert other.raw == []


def watch_presence_batches(room: Room) -> asyncio.Event:
    """An event set each time the room sends a batch of presence (cleared by the test)."""
    flushed = asyncio.Event()
    original = room.presence._send_batch

    def flush() -> None:
        original()
        flushed.set()

    room.presence._send_batch = flush  # type: ignore[method-assign]
    return flushed


async def test_presence_in_a_large_room_goes_out_in_batches():
    settings = CollabSettings(awareness_batch_above_peers=4, awareness_batch_ms=20)
    async with Room(ROOM, notebook("x"), settings) as room:
        peers = [MemoryPeer(room, f"p{i}").join() for i in range(10)]
        for peer in peers:
            peer.pump()
        flushed = watch_presence_batches(room)
        # everyone moves their cursor twice before the batch goes out
        for i, peer in enumerate(peers):
            for clock in (1, 2):
                room.handle(peer.conn, awareness_update(100 + i, clock,
                                                        {"cursor": clock, "i": i}))
        assert all(peer.pump() == 0 for peer in peers)  # nothing sent yet
        await asyncio.wait_for(flushed.wait(), 5)
        # one frame to each peer, holding everyone's latest state
        assert [peer.pump() for peer in peers] == [1] * 10
        for peer in peers:
            assert {cid: s["cursor"] for cid, s in peer.awareness.items()} == {
                100 + i: 2 for i in range(10)}
        # leaving is batched too, and seen by all
        flushed.clear()
        room.leave(peers[0].conn)
        await asyncio.wait_for(flushed.wait(), 5)
        assert all(peer.pump() == 1 for peer in peers[1:])
        assert 100 not in peers[1].awareness


async def test_presence_in_a_small_room_goes_out_at_once():
    async with Room(ROOM, notebook("x"), CollabSettings()) as room:
        a, b = MemoryPeer(room, "a").join(), MemoryPeer(room, "b").join()
        b.pump()
        room.handle(a.conn, awareness_update(7, 1, {"cursor": 1}))
        assert b.pump() == 1
        assert b.awareness[7]["cursor"] == 1


async def test_in_a_large_room_readers_get_the_writers_presence_not_each_others():
    settings = CollabSettings(awareness_batch_above_peers=4, awareness_batch_ms=10)
    async with Room(ROOM, notebook("x"), settings) as room:
        teacher = MemoryPeer(room, "teacher").join()
        students = [MemoryPeer(room, f"s{i}", write=False).join() for i in range(6)]
        flushed = watch_presence_batches(room)
        room.handle(teacher.conn, awareness_update(1, 1, {"cell": "c1"}))
        for i, student in enumerate(students):
            room.handle(student.conn, awareness_update(100 + i, 1, {"cell": f"s{i}"}))
        await asyncio.wait_for(flushed.wait(), 5)
        for peer in (teacher, *students):
            peer.pump()
        assert set(teacher.awareness) == {1, *range(100, 106)}  # the teacher sees the class
        for student in students:
            assert set(student.awareness) == {1}  # students see the teacher only
        # a newcomer student's snapshot leaves the other students out too
        late = MemoryPeer(room, "late", write=False).join()
        assert set(late.awareness) == {1}
        # departures reach everyone
        flushed.clear()
        room.leave(teacher.conn)
        await asyncio.wait_for(flushed.wait(), 5)
        for student in students:
            student.pump()
            assert student.awareness == {}
