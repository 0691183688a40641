"""What a peer's outbox counts: its queue and what its transport still holds."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.rooms.heap import HeapTrimmer
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.sync.close_codes import CloseCode
from jupyter_huddle.collab.sync.connection import Connection, Outbox, Permissions, UserInfo
from jupyter_huddle.collab.sync.room import Room
from tests.support.memory_peer import MemoryPeer

KB = 1024


class Transport:
    """A fake transport: frames it took and has not sent, and what it has sent."""

    def __init__(self) -> None:
        self.unsent = 0
        self.sent = 0
        self.frames: list[bytes] = []

    def fast(self, frame: bytes) -> bool:
        if self.unsent:
            return False
        self.frames.append(frame)
        self.unsent += len(frame)
        return True

    def backlog(self) -> tuple[int, int]:
        return self.unsent, self.sent

    def transmit(self, nbytes: int) -> None:
        done = min(nbytes, self.unsent)
        self.unsent -= done
        self.sent += done


def connection(max_bytes: int, transport: Transport) -> tuple[Connection, list[int]]:
    closed: list[int] = []
    conn = Connection(user=UserInfo("u"), permissions=Permissions(), max_queue_bytes=max_bytes,
                      on_close=lambda code, reason: closed.append(code))
    conn.attach_fast_path(transport.fast)
    conn.attach_backlog(transport.backlog)
    return conn, closed


async def test_what_the_transport_holds_counts_against_the_bound():
    transport = Transport()
    conn, closed = connection(100 * KB, transport)
    conn.send(b"a" * (80 * KB))  # the transport is idle: it takes it, whatever its size
    assert transport.unsent == 80 * KB
    conn.send(b"b" * (15 * KB))  # queued: 80 + 15 held
    assert len(conn.outbox) == 1
    conn.send(b"c" * (10 * KB))  # 80 + 15 + 10 > 100
    assert closed == [CloseCode.TRY_AGAIN_LATER]


async def test_sent_bytes_stop_counting():
    transport = Transport()
    conn, closed = connection(100 * KB, transport)
    conn.send(b"a" * (80 * KB))
    transport.transmit(70 * KB)
    conn.send(b"b" * (15 * KB))
    conn.send(b"c" * (10 * KB))  # 10 + 15 + 10 still held
    assert closed == []


async def test_a_peer_holding_nothing_takes_one_frame_of_any_size():
    transport = Transport()
    conn, closed = connection(10 * KB, transport)
    conn.send(b"p" * (50 * KB))  # a large paste must still reach everyone
    assert closed == []
    conn.send(b"q" * (11 * KB))
    assert closed == [CloseCode.TRY_AGAIN_LATER]


async def test_the_first_shared_frame_is_free_and_later_ones_count():
    transport = Transport()
    conn, closed = connection(100 * KB, transport)
    document = b"d" * (500 * KB)  # the room's full state, shared by every peer
    conn.send(document, shared=True)
    conn.send(b"u" * (90 * KB))  # updates after it still have the whole bound
    assert closed == []
    conn.send(document, shared=True)  # asking again: this one counts
    assert closed == [CloseCode.TRY_AGAIN_LATER]


async def test_a_stalled_peer_is_one_that_takes_nothing():
    transport = Transport()
    outbox = Outbox(1000 * KB)
    outbox.attach_backlog(transport.backlog)
    assert outbox.stalled_for(0.0) == 0.0  # nothing waiting
    outbox.put(b"x" * KB)
    frames = outbox.take_all()
    transport.unsent += sum(map(len, frames))
    assert outbox.stalled_for(1.0) == 0.0
    assert outbox.stalled_for(5.0) == 4.0
    transport.transmit(10)  # slow, but reading: not stalled
    assert outbox.stalled_for(9.0) == 0.0
    assert outbox.stalled_for(10.0) == 1.0
    transport.transmit(10 * KB)
    assert outbox.stalled_for(20.0) == 0.0


@pytest.mark.timing
async def test_a_room_cuts_off_a_peer_that_stops_reading():
    settings = CollabSettings(peer_stall_timeout_s=0.1, keepalive_interval_s=0.04)
    doc = NotebookDocument()
    async with Room(DocumentRoomId("json", "notebook", "stall"), doc, settings) as room:
        reader = MemoryPeer(room, "reader").join()
        stuck = MemoryPeer(room, "stuck").join()
        stuck.conn.outbox.take_all()  # it took what it had, then stops
        async with asyncio.timeout(5):
            while stuck.closed_with is None:  # keep-alive frames pile up, untaken
                reader.pump()
                await asyncio.sleep(0.01)
        assert stuck.closed_with == (CloseCode.TRY_AGAIN_LATER, "client stopped reading")
        assert reader.closed_with is None


class FakeLibc:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return 1


@pytest.mark.timing
async def test_the_heap_is_trimmed_after_large_releases_and_not_often():
    libc = FakeLibc()
    heap = HeapTrimmer(libc, threshold_bytes=10 * KB, min_interval_s=0.2, delay_s=0.0)
    for _ in range(100):
        heap.released(50)  # small rooms' departures: 5 KB in all
    await asyncio.sleep(0.05)
    assert libc.calls == 0
    heap.released(20 * KB)
    async with asyncio.timeout(2):
        while libc.calls < 1:
            await asyncio.sleep(0.01)
    heap.released(20 * KB)  # within min_interval_s of the first
    await asyncio.sleep(0.05)
    assert libc.calls == 1
    async with asyncio.timeout(2):
        while libc.calls < 2:
            await asyncio.sleep(0.01)
    heap.close()


async def test_without_malloc_trim_nothing_is_scheduled():
    heap = HeapTrimmer(None)
    heap.released(1 << 30)
    assert heap.trims == 0
