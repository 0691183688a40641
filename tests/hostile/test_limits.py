"""Size bounds: frames above ``max_frame_bytes`` (1009) and peers that read slower than the
room writes (1013), with the memory they could pin on the server kept bounded."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from tests.support.waiting import eventually
from tests.support.yclient import awareness_update

from .helpers import (
    DEADLINE,
    RawPeer,
    append,
    honest_room,
    marker,
    sync_frame,
    text_of,
)

MAX_FRAME = 1024 * 1024
MAX_QUEUE = 256 * 1024


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "save_retry_delay_s": 0.2, "max_frame_bytes": MAX_FRAME,
            "max_peer_queue_bytes": MAX_QUEUE}


# --- oversize frames --------------------------------------------------------------------


def _frame_of_size(size: int) -> bytes:
    """A sync update frame of exactly ``size`` bytes."""
    body = size - 2
    while len(sync_frame(2, b"\x00" * body)) > size:
        body -= 1
    frame = sync_frame(2, b"\x00" * body)
    assert len(frame) == size
    return frame


@pytest.mark.parametrize("size", [MAX_FRAME + 1, 4 * MAX_FRAME, 64 * MAX_FRAME],
                         ids=["limit+1", "4x", "64x"])
async def test_frame_above_max_frame_bytes_is_1009(huddle, write_notebook, size):
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        frame = _frame_of_size(size)
        await peer.send(frame)
        code, reason = await peer.closed()
        assert code == 1009, (code, reason)
        await eventually(lambda: len(room.server_room.peers) == 2, what="the peer to go")
        await room.healthy()


async def test_fragmented_frame_above_limit_is_1009(huddle, write_notebook):
    """The limit holds for a message sent as many small fragments too."""
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        chunk = b"\x00" * (64 * 1024)
        await peer.send([b"\x00\x02" + chunk] + [chunk] * 32)  # 2 MiB in 33 fragments
        code, reason = await peer.closed()
        assert code == 1009, (code, reason)
        await room.healthy()


async def test_compressed_bomb_is_bounded(huddle, write_notebook):
    """A client offering permessage-deflate: either the server declines it, or a 64 MiB
    message of zeros (64 KiB on the wire) is still refused with 1009."""
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw(compression="deflate")
        if not peer.ws.protocol.extensions:
            await peer.aclose()
            return
        await peer.send(sync_frame(2, b"\x00" * (64 * MAX_FRAME)))
        code, reason = await peer.closed()
        assert code == 1009, (code, reason)
        await room.healthy()


async def test_large_edit_under_the_limit_is_accepted(huddle, write_notebook):
    """The limit is not off by much: an honest 900 KiB paste goes through."""
    async with honest_room(huddle, write_notebook) as room:
        paste = "p" * (900 * 1024)
        append(room.a, paste)
        await room.b.wait_for(lambda: len(text_of(room.b)) >= len(paste), DEADLINE)
        assert room.a.close_code is None
        room.kept.append(paste[:64])
        await room.healthy()


# --- slow readers -----------------------------------------------------------------------


async def _slow_peer(room: Any) -> tuple[RawPeer, Any]:
    """A socket that reads nothing: tiny kernel receive buffer, websockets queue of 1."""
    before = set(room.server_room.peers)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = room.huddle.port
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    slow = await room.raw(reading=False, sock=sock, max_queue=1)
    await eventually(lambda: len(set(room.server_room.peers) - before) == 1,
                     what="the slow peer to join")
    (peer_id,) = set(room.server_room.peers) - before
    return slow, room.server_room.peers[peer_id]


async def test_slow_reader_is_cut_off_and_released(huddle, write_notebook):
    """A peer that never reads while the room is busy: the server stops queueing for it at
    ``max_peer_queue_bytes``, closes it with 1013 and frees everything it held, while the
    honest peers notice nothing."""
    async with honest_room(huddle, write_notebook) as room:
        slow, conn = await _slow_peer(room)
        a_id = room.a.doc.client_id
        handler = conn._on_close.__self__
        stream = handler.ws_connection.stream
        pad = "x" * (32 * 1024)
        peak_queue = peak_pinned = 0
        sent = 0
        async with asyncio.timeout(30):
            while not conn.closed:
                sent += 1
                state = {"user": {"name": "A"}, "n": sent, "pad": pad}
                await room.a.send(awareness_update(a_id, sent, state))

                def caught_up(n: int = sent) -> bool:
                    return (room.b.awareness.get(a_id) or {}).get("n") == n

                # Paced by an honest reader, so only the slow one falls behind.
                await room.b.wait_for(caught_up)
                # What the server holds for the slow peer: its queue, plus the batch
                # Tornado is still trying to write.
                tornado_buffer = len(stream._write_buffer or b"")
                peak_queue = max(peak_queue, conn.outbox.queued_bytes)
                peak_pinned = max(peak_pinned, conn.outbox.queued_bytes + tornado_buffer)
                if sent % 20 == 0:
                    append(room.a, marker())
        assert peak_queue <= MAX_QUEUE + 64 * 1024
        assert peak_pinned <= 2 * MAX_QUEUE + 128 * 1024, peak_pinned
        assert conn.outbox.queued_bytes == 0
        assert len(conn.outbox) == 0
        # ~32 KiB per frame: the room sent far more than the queue may hold.
        assert sent * 32 * 1024 > 4 * MAX_QUEUE

        # Once the slow peer reads, it finds the close frame: 1013.
        slow.start_reading()
        code, reason = await slow.closed(timeout=15)
        assert code == 1013, (code, reason)
        await eventually(lambda: conn.id not in room.server_room.peers,
                         what="the slow peer to leave the room")
        # Nothing on the server still holds what was queued for the slow peer: the room and
        # its presence table forgot it, its queue is empty, its socket (and so Tornado's
        # write buffer) is closed and its writer task ended. The handler object itself
        # lingers until jupyter_server's next 30 s ping tick, holding only this empty
        # Connection.
        assert handler.ws_connection is None
        await eventually(lambda: handler._writer is None or handler._writer.done(),
                         what="the writer task to end")
        assert conn.outbox.queued_bytes == 0
        assert conn.id not in room.server_room.awareness._owned
        await room.healthy()
        assert (room.b.awareness.get(a_id) or {}).get("n") == sent


async def test_slow_reader_that_never_reads_again_is_dropped(huddle, write_notebook):
    """The same, but the slow peer never reads at all: the server still gets rid of it (it
    cannot complete a close handshake) instead of keeping its socket and buffers forever."""
    async with honest_room(huddle, write_notebook) as room:
        slow, conn = await _slow_peer(room)
        a_id = room.a.doc.client_id
        pad = "y" * (32 * 1024)
        sent = 0
        async with asyncio.timeout(30):
            while not conn.closed:
                sent += 1
                await room.a.send(awareness_update(a_id, sent, {"n": sent, "pad": pad}))

                def caught_up(n: int = sent) -> bool:
                    return (room.b.awareness.get(a_id) or {}).get("n") == n

                await room.b.wait_for(caught_up)
        await eventually(lambda: conn.id not in room.server_room.peers, timeout=15,
                         what="the server to drop the silent peer")
        await room.healthy()
        slow.ws.transport.abort()


async def test_sync_step1_amplification_is_bounded(huddle, write_notebook):
    """Each 4-byte SyncStep1 asks for the whole document. A peer that asks again and again
    without reading is cut off (1013) instead of making the server queue copies of it."""
    async with honest_room(huddle, write_notebook,
                           sources=["big = '" + "z" * (128 * 1024) + "'", "x"]) as room:
        slow, conn = await _slow_peer(room)
        step1 = sync_frame(0, b"\x00")
        async with asyncio.timeout(30):
            for _ in range(2000):
                if conn.closed or not await slow.send(step1):
                    break
                assert conn.outbox.queued_bytes <= MAX_QUEUE + 200 * 1024
                await asyncio.sleep(0)
        # The server may still be reading requests the socket buffered.
        await eventually(lambda: conn.closed, what="the peer to be cut off")
        assert conn.outbox.queued_bytes == 0
        slow.start_reading()
        code, reason = await slow.closed(timeout=15)
        assert code == 1013, (code, reason)
        await room.healthy()


async def test_reading_peer_is_not_cut_off_by_bursts(huddle, write_notebook):
    """The queue bound is about readers that fall behind, not about bursts: a peer that
    keeps reading receives a burst of 400 KiB of edits intact."""
    async with honest_room(huddle, write_notebook) as room:
        pieces = [marker() + "q" * 4096 for _ in range(100)]
        for piece in pieces:
            append(room.a, piece)
        await room.b.wait_for(lambda: pieces[-1] in text_of(room.b), 20)
        assert room.b.close_code is None
        assert room.a.close_code is None
        room.kept.extend(p[:14] for p in pieces)
        await room.healthy()


async def test_honest_reconnect_after_1013_resyncs(huddle, write_notebook):
    """A peer cut off for being slow reconnects and gets everything it missed."""
    async with honest_room(huddle, write_notebook) as room:
        slow, conn = await _slow_peer(room)
        pad = "w" * (32 * 1024)
        async with asyncio.timeout(30):
            while not conn.closed:
                append(room.a, pad)
                await room.b.wait_for(lambda: len(text_of(room.b)) == len(text_of(room.a)))
        slow.ws.transport.abort()
        async with huddle.open(room.path) as again:
            await again.wait_for(lambda: text_of(again) == text_of(room.a), DEADLINE)
        await room.healthy()
        assert json.dumps(text_of(room.a))  # still a plain string
