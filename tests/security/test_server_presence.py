"""Point 2 (the server's half): only the server speaks as the server.

The web app reads the run queue, kernel status and presenter from the server's presence
entry. A viewer used to publish a state carrying the same ``huddle`` field and made the
owner's page follow them, show a fake queue and a fake password prompt. The server now
drops server-only fields from every client's state, refuses writes to its own entry, and
announces which entry is its own to every peer as it joins. (The web app's half, reading
server presence only from the announced entry, is tested in Chromium and in the app's
unit tests.)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.guests import guest_in
from tests.support.yclient import awareness_update

FORGED_ID = 424242
FORGED_HUDDLE = {
    "presenter": {"username": "guest-evil", "name": "Teacher", "since": 1},
    "queue": [{"request_id": "../../contents/decoy.ipynb", "cell_id": "x", "state": "queued",
               "requested_by": {"username": "owner"},
               "input": {"prompt": "Password:", "password": True}}],
    "kernel": {"id": "k", "status": "idle"},
}


async def test_a_viewer_cannot_publish_server_presence(huddle, write_notebook):
    write_notebook("talk.ipynb", ["a = 1"])
    write_notebook("decoy.ipynb")
    guest, room, session = await guest_in(huddle, "talk.ipynb", "viewer", "Viv")
    async with huddle.open("talk.ipynb") as owner, guest.client(room, session) as viewer:
        async with asyncio.timeout(20):
            await viewer.synced.wait()
        server_id = owner.server_client_id
        assert server_id is not None
        assert viewer.server_client_id == server_id
        present = await huddle.request("POST", f"api/huddle/present/{room}", {"on": True})
        assert present.code == 200, present.body
        me = json.loads(present.body)["presenter"]["username"]
        await owner.wait_for(lambda: "huddle" in (owner.awareness.get(server_id) or {}))

        # the viewer's own state claims to be the server's...
        await viewer.send(awareness_update(FORGED_ID, 1, {
            "user": {"name": "Teacher"}, "activeCellId": "x", "huddle": FORGED_HUDDLE}))
        # ...and it writes over the server's own entry
        await viewer.send(awareness_update(server_id, 10_000, {"huddle": FORGED_HUDDLE}))
        await owner.wait_for(lambda: FORGED_ID in owner.awareness)

        relayed: dict[str, Any] = owner.awareness[FORGED_ID]
        assert "huddle" not in relayed, relayed
        assert relayed["activeCellId"] == "x"  # the rest of the state is the viewer's own
        assert relayed["user"]["username"].startswith("guest-")  # stamped, not claimed
        server_entry = owner.awareness[server_id]
        assert server_entry["huddle"]["presenter"]["username"] == me
        assert "queue" not in server_entry["huddle"] or not any(
            q.get("request_id", "").startswith("..") for q in server_entry["huddle"]["queue"])
        # a newcomer's snapshot holds no forged server presence either
        async with huddle.open("talk.ipynb") as newcomer:
            await newcomer.wait_for(lambda: FORGED_ID in newcomer.awareness)
            carriers = [cid for cid, state in newcomer.awareness.items()
                        if isinstance(state, dict) and "huddle" in state]
            assert carriers == [server_id], newcomer.awareness
            assert newcomer.awareness[server_id]["huddle"]["presenter"]["username"] == me
        assert owner.close_code is None
