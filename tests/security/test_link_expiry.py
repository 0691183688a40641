"""Point 4: expiry acts like revocation.

At the moment a link expires its guests' sockets close with 4403. Before, only new
requests were refused: an expired editor link kept editing over its open socket and its
edit reached the file.
"""

from __future__ import annotations

import asyncio
import json
import time

import nbformat
import pytest

from tests.support.guests import guest_in
from tests.support.waiting import eventually

EXPIRES_IN_S = 1.5


@pytest.mark.timing
async def test_an_expiring_link_closes_its_guests_sockets_at_once(huddle, write_notebook,
                                                                  jp_root_dir):
    write_notebook("expiring.ipynb", ["a = 1"])
    started = time.monotonic()
    guest, room, session = await guest_in(huddle, "expiring.ipynb", "editor", "Eve",
                                          expires_in_s=EXPIRES_IN_S)
    async with guest.client(room, session) as view:
        async with asyncio.timeout(20):
            await view.synced.wait()
        source = view.source(0)
        source.insert(len(source), "  # before")  # allowed while the link is valid
        code, reason = await view.wait_closed(timeout=EXPIRES_IN_S + 10)
        closed_after = time.monotonic() - started
        assert code == 4403, (code, reason)
        assert closed_after < EXPIRES_IN_S + 5, closed_after
        # whatever the tab still types goes nowhere
        source.insert(len(source), "  # after expiry")

    def saved_source() -> str:
        return str(nbformat.read(str(jp_root_dir / "expiring.ipynb"), 4).cells[0].source)

    async def saved_before() -> bool:
        return "# before" in saved_source()

    await eventually(saved_before, timeout=10,
                     what="the edit made while the link was valid to be saved")
    async with huddle.open("expiring.ipynb") as owner:
        assert "# after expiry" not in str(owner.source(0))
    assert "# after expiry" not in saved_source()

    # the cookie opens nothing any more, and the owner's list shows the link as expired
    assert (await guest.request("GET", f"api/huddle/access/{room}")).code == 403
    links = json.loads((await huddle.request("GET", f"api/huddle/links/{room}")).body)
    assert links["links"][0]["expires_at"] <= time.time()
