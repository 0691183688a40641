"""Floods: one connection sends well-formed traffic as fast as it can. Nothing is refused,
but the honest peers of the room must still converge within a deadline, and every flooded
edit must be applied (nothing lost, nothing duplicated)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pycrdt import Doc

from tests.support.yclient import YClient

from .helpers import (
    DEADLINE,
    append,
    awareness_frame,
    awareness_payload,
    honest_room,
    marker,
    save_frame,
    sync_frame,
    text_of,
)

pytestmark = pytest.mark.timing  # runs alone: floods under a deadline

FLOOD = 10_000
CONVERGE_S = 30


def _flood_updates(source_client: YClient, count: int) -> tuple[list[bytes], str]:
    """``count`` one-character edits to cell 1, made on a copy of the room's document, as
    the sync updates a client would send (and the text they produce)."""
    doc: Doc[Any] = Doc()
    doc.apply_update(source_client.doc.get_update())
    updates: list[bytes] = []
    sub = doc.observe(lambda event: updates.append(event.update))
    text = doc.get("cells", type=type(source_client.cells))[1]["source"]
    for i in range(count):
        text.insert(len(text), "abcdefghij"[i % 10])
    doc.unobserve(sub)
    return updates, str(text)


async def _converged(room: Any, expected_cell1: str, timeout: float) -> None:
    for client in (room.a, room.b):
        await client.wait_for(lambda c=client: text_of(c, 1) == expected_cell1, timeout)


async def test_update_flood_while_honest_clients_edit(huddle, write_notebook):
    loop = asyncio.get_running_loop()
    async with honest_room(huddle, write_notebook) as room:
        updates, flooded = _flood_updates(room.a, FLOOD)
        frames = [sync_frame(2, u) for u in updates]
        flooder = await room.raw()
        started = loop.time()

        async def flood() -> None:
            for frame in frames:
                assert await flooder.send(frame)

        async def honest_edits() -> list[str]:
            made = []
            for i in range(20):
                m = marker()
                append(room.a if i % 2 else room.b, m)
                made.append(m)
                # Each honest edit reaches the other honest client within the deadline,
                # flood or not.
                other = room.b if i % 2 else room.a

                def arrived(m: str = m, o: YClient = other) -> bool:
                    return m in text_of(o)

                await other.wait_for(arrived, CONVERGE_S)
            return made

        async with asyncio.timeout(CONVERGE_S):
            _, made = await asyncio.gather(flood(), honest_edits())
            await _converged(room, flooded, CONVERGE_S)
        elapsed = loop.time() - started
        room.kept.extend(made)
        converged = await room.healthy()
        # Every flooded character arrived exactly once.
        assert text_of(room.a, 1) == text_of(room.b, 1) == flooded
        assert converged.count(made[0]) == 1
        assert flooder.ws.close_code is None
        await flooder.aclose()
    assert elapsed < CONVERGE_S


async def test_awareness_flood(huddle, write_notebook):
    async with honest_room(huddle, write_notebook) as room:
        flooder = await room.raw()
        flood_id = 4242
        frames = [
            awareness_frame(awareness_payload(
                [(flood_id, clock, json.dumps({"user": {"name": "flood"}, "n": clock}))]))
            for clock in range(1, FLOOD + 1)
        ]
        async with asyncio.timeout(CONVERGE_S):
            for frame in frames:
                assert await flooder.send(frame)
            converged = await room.healthy()
            for client in (room.a, room.b):

                def flooded(c: YClient = client) -> bool:
                    return (c.awareness.get(flood_id) or {}).get("n") == FLOOD

                await client.wait_for(flooded, CONVERGE_S)
        assert flooder.ws.close_code is None
        assert room.kept[0] in converged
        await flooder.aclose()
        # The flooder's presence goes with it.
        await room.b.wait_for(lambda: flood_id not in room.b.awareness, DEADLINE)


@pytest.mark.parametrize("kind", ["sync-step1", "save", "unknown-type"])
async def test_request_flood(huddle, write_notebook, kind):
    """Requests that each make the server do work or answer: 10k SyncStep1 (each answered
    with the whole document), save requests, or ignored unknown messages. A reading
    flooder is served; the honest clients keep syncing meanwhile."""
    frame = {
        "sync-step1": sync_frame(0, b"\x00"),
        "save": save_frame(7),
        "unknown-type": b"\x7d" + b"x" * 32,
    }[kind]
    count = FLOOD if kind != "save" else 2_000
    async with honest_room(huddle, write_notebook) as room:
        flooder = await room.raw()

        async def flood() -> None:
            for _ in range(count):
                assert await flooder.send(frame)

        async with asyncio.timeout(CONVERGE_S):
            flooding = asyncio.create_task(flood())
            await room.healthy()
            await flooding
            alive = await flooder.probe(CONVERGE_S)
            await room.healthy()
        assert alive, (flooder.ws.close_code, flooder.ws.close_reason)
        if kind == "save":
            replies = [r for r in flooder.raw if r.get("responseTo") == 7]
            assert len(replies) == count
            assert {r["status"] for r in replies} <= {"success", "skipped"}
        await flooder.aclose()
