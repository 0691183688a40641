"""Malformed and unexpected frames from one connection: that connection is closed with a
protocol-error code (or the frame is ignored), and the honest peers of the room notice
nothing: they keep syncing, and nothing they already applied is lost."""

from __future__ import annotations

import asyncio
import json
import random
import resource
from collections import Counter
from typing import Any

import pytest
from pycrdt import Doc, Text

from tests.support.waiting import eventually
from tests.support.yclient import awareness_update

from .helpers import (
    DEADLINE,
    PROTOCOL_CLOSE,
    HonestRoom,
    append,
    awareness_frame,
    awareness_payload,
    honest_room,
    marker,
    raw_frame,
    save_frame,
    sync_frame,
    text_of,
    var_bytes,
    varuint,
)


def _valid_update() -> bytes:
    doc: Doc[Any] = Doc()
    text = doc.get("hostile", type=Text)
    text += "hello hostile world"
    return doc.get_update()


VALID = _valid_update()
_HELLO = VALID.index(b"hello")
CONTINUATIONS = b"\xff" * 10 + b"\x01"  # 11 bytes: more than any varuint we accept
TWO_GB = b"\xff\xff\xff\xff\x07"  # 2**31 - 1
FOUR_GB = b"\xff\xff\xff\xff\x0f"  # 2**32 - 1

# Frames that are not the protocol: the server must close the sender with 1002/1007.
BAD_FRAMES: dict[str, bytes | str] = {
    "empty": b"",
    "text-frame": "hello, I am text",
    "text-frame-json": json.dumps({"type": "save"}),
    # message type varuint
    "type-truncated": b"\x80",
    "type-truncated-long": b"\xff\xff\xff",
    "type-10-continuations": CONTINUATIONS,
    # sync
    "sync-no-subtype": b"\x00",
    "sync-subtype-truncated": b"\x00\x80",
    "sync-no-length": b"\x00\x02",
    "sync-length-truncated": b"\x00\x02\x85",
    "sync-length-10-continuations": b"\x00\x02" + CONTINUATIONS + b"\x00\x00",
    "sync-subtype-10-continuations": b"\x00" + CONTINUATIONS + b"\x02\x00\x00",
    "sync-length-2GB": b"\x00\x02" + TWO_GB + b"\x00\x00abc",
    "step2-length-4GB": b"\x00\x01" + FOUR_GB + b"\x00\x00",
    "step1-length-2GB": b"\x00\x00" + TWO_GB + b"\x00",
    "sync-unknown-subtype-3": sync_frame(3, b"\x00\x00"),
    "sync-unknown-subtype-200": sync_frame(200, b"\x00\x00"),
    "update-garbage": sync_frame(2, b"\xde\xad\xbe\xef\x01\x02\x03"),
    "step2-garbage": sync_frame(1, b"\xde\xad\xbe\xef\x01\x02\x03"),
    "update-all-ff": sync_frame(2, b"\xff" * 64),
    "update-empty-payload": sync_frame(2, b""),
    "update-truncated": sync_frame(2, VALID[:-5]),
    "update-bad-utf8-content": sync_frame(
        2, VALID[:_HELLO] + b"\xff\xfe" + VALID[_HELLO + 2 :]),
    "update-trailing-struct-cut": sync_frame(1, VALID[: len(VALID) // 2]),
    "step1-garbage-state-vector": sync_frame(0, b"\xff" * 20),
    "step1-truncated-state-vector": sync_frame(0, b"\x02\x85\x03"),
    "step1-empty-payload": sync_frame(0, b""),
    # awareness
    "awareness-no-length": b"\x01",
    "awareness-length-2GB": b"\x01" + TWO_GB + b"\x01",
    "awareness-count-truncated": awareness_frame(b"\x85"),
    "awareness-entry-truncated": awareness_frame(b"\x01\x05"),
    "awareness-state-truncated": awareness_frame(b"\x01\x05\x01\x10{}"),
    "awareness-count-10-continuations": awareness_frame(CONTINUATIONS),
    "awareness-count-lies": awareness_frame(awareness_payload([(77, 1, "{}")])[:-3]),
    "awareness-non-json-state": awareness_frame(awareness_payload([(77, 1, "{not json")])),
    "awareness-array-state": awareness_frame(awareness_payload([(77, 1, "[1, 2, 3]")])),
    "awareness-string-state": awareness_frame(awareness_payload([(77, 1, '"me"')])),
    "awareness-number-state": awareness_frame(awareness_payload([(77, 1, "42")])),
    "awareness-bad-utf8-state": awareness_frame(awareness_payload([(77, 1, b'{"a":"\xff"}')])),
    "awareness-second-entry-bad": awareness_frame(
        awareness_payload([(77, 1, "{}"), (78, 1, "[]")])),
    # RAW
    "raw-no-length": b"\x02",
    "raw-length-2GB": b"\x02" + TWO_GB + b"save",
    "raw-invalid-utf8": raw_frame(b"\xff\xfe\xfd"),
    "raw-invalid-utf8-save-like": raw_frame(b"sav\xe9"),
    "raw-save-truncated-id": save_frame(1)[:-1] + b"\x80",
    "raw-save-id-10-continuations": save_frame(1)[:-1] + CONTINUATIONS,
}


async def _assert_closed_for_protocol_error(room: HonestRoom, name: str,
                                            frame: bytes | str) -> None:
    peer = await room.raw()
    await peer.send(frame)
    code, reason = await peer.closed()
    assert code in PROTOCOL_CLOSE, (name, code, reason)
    assert len(reason.encode()) <= 123, name
    # The server forgot the connection.
    await eventually(lambda: len(room.server_room.peers) == 2,
                     what=f"the peer that sent {name} to be removed")


async def test_malformed_frames_close_only_the_sender(huddle, write_notebook):
    """Each frame on a fresh socket against one long-lived room; after each, the honest
    clients still sync both ways, a newcomer gets the same content, and nothing is lost."""
    async with honest_room(huddle, write_notebook) as room:
        for name, frame in BAD_FRAMES.items():
            await _assert_closed_for_protocol_error(room, name, frame)
            try:
                await room.healthy()
            except (AssertionError, TimeoutError) as err:
                raise AssertionError(f"room unhealthy after {name}: {err!r}") from err
        assert len(room.server_room.awareness) == 0  # no presence left behind by any


async def test_malformed_frames_on_one_socket_after_valid_traffic(huddle, write_notebook):
    """A peer that first behaves (edits, presence) and then sends a bad frame: its valid
    edits stay, its presence is removed."""
    async with honest_room(huddle, write_notebook) as room:
        for name in ("update-garbage", "awareness-array-state", "raw-invalid-utf8",
                     "type-10-continuations", "empty"):
            async with huddle.open(room.path) as peer:
                edit = marker()
                append(peer, edit)

                def edit_arrived(e: str = edit) -> bool:
                    return e in text_of(room.a)

                await room.a.wait_for(edit_arrived, DEADLINE)
                room.kept.append(edit)
                pid: int = peer.doc.client_id

                def present(p: int = pid) -> bool:
                    return p in room.b.awareness

                def gone(p: int = pid) -> bool:
                    return p not in room.b.awareness

                await peer.send(awareness_update(pid, 1, {"user": {"name": "soon gone"}}))
                await room.b.wait_for(present, DEADLINE)
                await peer.send(BAD_FRAMES[name])
                code, reason = await peer.wait_closed()
                assert code in PROTOCOL_CLOSE, (name, code, reason)
                await room.b.wait_for(gone, DEADLINE)
            await room.healthy()


# Frames that are odd but legal (or unknown and to be ignored): the connection stays open.
IGNORED_FRAMES: dict[str, bytes] = {
    "query-awareness-3": b"\x03",
    "type-3-with-payload": b"\x03" + var_bytes(b"anything"),
    "chat-125": b"\x7d" + var_bytes(b"hi"),
    "type-126-bare": b"\x7e",
    "type-200": varuint(200) + b"\x00\x01\x02",
    "type-2**40": varuint(2**40) + b"junk",
    "type-9-byte-varuint": b"\xff" * 8 + b"\x7f",
    "raw-unknown-string": raw_frame("hello there"),
    "raw-unknown-json": raw_frame(json.dumps({"type": "conflict"})),
    "raw-empty-string": raw_frame(""),
    "raw-save-no-id": raw_frame("save"),
    "raw-save-huge-id": save_frame(2**62),
    "update-empty": sync_frame(2, b"\x00\x00"),
    "step2-empty": sync_frame(1, b"\x00\x00"),
    "step1-empty-state-vector": sync_frame(0, b"\x00"),
    "awareness-zero-entries": awareness_frame(b"\x00"),
    "awareness-trailing-bytes": awareness_frame(b"\x00trailing"),
    "sync-trailing-bytes": sync_frame(2, b"\x00\x00") + b"trailing",
}


async def test_ignored_frames_keep_the_connection_syncing(huddle, write_notebook):
    async with honest_room(huddle, write_notebook) as room, huddle.open(room.path) as odd:
        for name, frame in IGNORED_FRAMES.items():
            await odd.send(frame)
            probe = marker()
            append(odd, probe)

            def probe_arrived(p: str = probe) -> bool:
                return p in text_of(room.a)

            # The edit sent after the odd frame arrives: the frame was read and ignored.
            try:
                await room.a.wait_for(probe_arrived, DEADLINE)
            except TimeoutError:
                raise AssertionError(f"{name}: connection stopped syncing "
                                     f"(close {odd.close_code} {odd.close_reason})") from None
            room.kept.append(probe)
        assert odd.close_code is None
        await room.healthy()


# --- random bytes -----------------------------------------------------------------------

def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


_AWARENESS = awareness_payload([(77, 1, '{"user":{"name":"x"},"cursors":[]}')])

SHAPES = {
    "bare": lambda body, rng: body,
    # Near-valid content reaches deeper into the decoders than random bytes do.
    "mutated-update": lambda body, rng: sync_frame(rng.choice((1, 2)), _mutate(VALID, rng)),
    "mutated-state-vector": lambda body, rng: sync_frame(
        0, _mutate(b"\x02\xac\xdb\xf5\xea\x07\x05\x01\x03", rng)),
    "mutated-awareness": lambda body, rng: awareness_frame(_mutate(_AWARENESS, rng)),
    "sync": lambda body, rng: sync_frame(rng.randrange(3), body),
    "awareness": lambda body, rng: awareness_frame(body),
    "raw": lambda body, rng: raw_frame(body),
    "bad-length": lambda body, rng: bytes([rng.randrange(3)]) + body,
}


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_random_frames(huddle, write_notebook, shape):
    """Seeded random frames over one connection until it is closed, then a new one. After
    each frame either the server still reads the socket or it closed it for a protocol
    error; never an abort (1006) or internal error (1011)."""
    rng = random.Random(f"huddle-hostile-{shape}")
    outcomes: Counter[str] = Counter()
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        async with asyncio.timeout(40):
            for i in range(150):
                body = rng.randbytes(rng.choice((0, 1, 2, 3, 5, 8, 16, 40)))
                frame = SHAPES[shape](body, rng)
                await peer.send(frame)
                if await peer.probe():
                    outcomes["ignored"] += 1
                    continue
                code, reason = await peer.closed()
                assert code in PROTOCOL_CLOSE, (i, frame, code, reason)
                outcomes[str(code)] += 1
                peer = await room.raw()
        await peer.aclose()
        await room.healthy()
    assert sum(outcomes.values()) == 150, outcomes


async def test_random_burst_without_waiting(huddle, write_notebook):
    """Thousands of random frames sent without waiting for anything: the server closes the
    socket at the first bad one and stays healthy."""
    rng = random.Random("huddle-hostile-burst")
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        for _ in range(3000):
            if not await peer.send(rng.randbytes(rng.randrange(1, 64))):
                break
        code, reason = await peer.closed()
        assert code in PROTOCOL_CLOSE, (code, reason)
        await room.healthy()


# --- updates that decode but are hostile ------------------------------------------------


@pytest.mark.parametrize("sub_type", [2, 1, 0], ids=["update", "step2", "step1-state-vector"])
@pytest.mark.timing
async def test_tiny_frame_claiming_huge_count_is_cheap(huddle, write_notebook, sub_type):
    """Five bytes that claim 2**28 entries must be refused as cheaply as any bad frame."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def ticker() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.002)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tick = asyncio.create_task(ticker())
        try:
            await peer.send(sync_frame(sub_type, varuint(2**28 - 1)))
            code, reason = await peer.closed()
            await room.healthy()
        finally:
            tick.cancel()
        rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        assert code in PROTOCOL_CLOSE, (code, reason)
    stall = max(gaps, default=0.0)
    summary = f"stalled the event loop {stall:.2f} s, grew peak RSS by {rss_growth_mb:.0f} MB"
    assert stall < 0.1, summary
    assert rss_growth_mb < 100, summary


async def test_update_with_missing_dependencies_is_harmless(huddle, write_notebook):
    """A well-formed update whose structs depend on ones the room never saw: yrs keeps it
    pending. The room goes on, and the content the honest clients wrote is intact."""
    doc: Doc[Any] = Doc()
    text = doc.get("orphan", type=Text)
    text += "first"
    before = doc.get_state()
    text += " second"
    dangling = doc.get_update(before)  # depends on "first", which we never send
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        await peer.send(sync_frame(2, dangling))
        assert await peer.probe()
        await room.healthy()
        await peer.aclose()


# --- awareness --------------------------------------------------------------------------


def cursors(state: dict | None) -> list | None:
    return None if state is None else state.get("cursors")


async def test_awareness_spoofing_another_connections_id_is_ignored(huddle, write_notebook):
    async with honest_room(huddle, write_notebook) as room:
        victim = room.a.doc.client_id
        state = {"user": {"username": "alice", "name": "Alice"}, "cursors": []}
        await room.a.send(awareness_update(victim, 3, state))
        await room.b.wait_for(lambda: cursors(room.b.awareness.get(victim)) == [])
        # the server stamps who the sender really is: alice's claimed name is not shown
        seen = room.b.awareness[victim]
        assert seen["user"]["name"] != "Alice"
        state = seen

        async with huddle.open(room.path) as mallory:
            mallory_id = mallory.doc.client_id
            await mallory.send(awareness_update(victim, 4, {"user": {"name": "Mallory"}}))
            await mallory.send(awareness_update(victim, 100, None))  # remove the victim
            await mallory.send(awareness_update(victim, 3, None))  # same clock removal
            # Mallory's own presence, sent last: once B has it, the spoofs were handled.
            await mallory.send(awareness_update(mallory_id, 1, {"user": {"name": "Alice"}}))
            await room.b.wait_for(lambda: mallory_id in room.b.awareness)
            assert room.b.awareness[mallory_id]["user"]["name"] != "Alice"
            assert room.b.awareness.get(victim) == state
            assert mallory.close_code is None  # ignored, not a reason to disconnect

            async with huddle.open(room.path) as newcomer:
                await newcomer.wait_for(lambda: victim in newcomer.awareness)
                assert newcomer.awareness[victim] == state
            # The victim's own later update still goes through.
            state2 = {**state, "cursors": [{"anchor": 1}]}
            await room.a.send(awareness_update(victim, 4, state2))
            await room.b.wait_for(lambda: room.b.awareness.get(victim) == state2)
        # Mallory left: her presence is removed, the victim's stays.
        await room.b.wait_for(lambda: mallory_id not in room.b.awareness)
        assert room.b.awareness.get(victim) == state2
        await room.healthy()


@pytest.mark.parametrize("batched", [True, False], ids=["one-message", "many-messages"])
async def test_thousand_awareness_ids_from_one_connection(huddle, write_notebook, batched):
    """One socket announcing 1000 presences is cut off; none of them stays as a ghost."""
    async with honest_room(huddle, write_notebook) as room:
        peer = await room.raw()
        ids = list(range(10_000, 11_000))
        if batched:
            await peer.send(awareness_frame(awareness_payload(
                (cid, 1, json.dumps({"user": {"name": f"bot{cid}"}})) for cid in ids)))
        else:
            for cid in ids:
                if not await peer.send(awareness_frame(awareness_payload(
                        [(cid, 1, json.dumps({"user": {"name": f"bot{cid}"}}))]))):
                    break
        code, reason = await peer.closed()
        assert code in PROTOCOL_CLOSE | {1008}, (code, reason)
        await eventually(lambda: len(room.server_room.peers) == 2, what="the bot to leave")
        assert len(room.server_room.awareness) == 0
        await room.healthy()
        async with huddle.open(room.path) as newcomer:
            await room.healthy()
            assert not set(ids) & set(newcomer.awareness)
        assert not set(ids) & set(room.b.awareness)
