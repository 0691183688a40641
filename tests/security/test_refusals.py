"""Point 10: refusals to guests name no internal ids.

A 409 for running cells on the wrong kernel used to name the notebook's own kernel id. A
refusal may repeat what the guest sent; it tells nothing else: no kernel id, file id, path
or server directory the request did not carry.
"""

from __future__ import annotations

import json
import uuid

from tests.support.guests import guest_in, start_kernel, stop_kernels


async def test_no_refusal_names_what_the_guest_did_not_send(huddle, write_notebook):
    write_notebook("shared.ipynb", ["print('shared')"])
    write_notebook("private.ipynb", ["secret = 1"])
    try:
        shared_kernel = await start_kernel(huddle, "shared.ipynb")
        private_kernel = await start_kernel(huddle, "private.ipynb")
        guest, room, _ = await guest_in(huddle, "shared.ipynb", "runner", "Rex")
        private_room, _ = await huddle.room_id("private.ipynb")
        async with huddle.open("shared.ipynb") as owner:
            cell = str(owner.cells[0]["id"])
        run = {"document_id": room, "cells": [{"cell_id": cell}]}
        attempts = [
            ("POST", f"api/kernels/{private_kernel}/execute", run, 409),
            ("POST", f"api/kernels/{uuid.uuid4()}/execute", run, 404),
            ("POST", f"api/kernels/{shared_kernel}/execute",
             {"document_id": private_room, "cells": [{"cell_id": cell}]}, 403),
            ("POST", f"api/huddle/kernels/{private_kernel}/restart", None, 403),
            ("DELETE", f"api/huddle/requests/{'ab' * 16}", None, 403),
            ("GET", f"api/huddle/queue/{private_room}", None, 403),
            ("GET", f"api/huddle/comments/{private_room}", None, 403),
            ("POST", f"api/huddle/kernel/{private_room}", None, 403),
            ("POST", f"api/huddle/copies/{room}", None, 403),
            ("PUT", "api/collaboration/session/private.ipynb",
             {"format": "json", "type": "notebook"}, 403),
        ]
        secrets = {shared_kernel, private_kernel, private_room.rsplit(":", 1)[1],
                   "private.ipynb", str(huddle.root)}
        for method, path, body, expected in attempts:
            response = await guest.request(method, path, body)
            assert response.code == expected, (method, path, response.code, response.body)
            sent = path + json.dumps(body)
            told = response.body.decode()
            leaked = [s for s in secrets if s not in sent and s in told]
            assert not leaked, (method, path, told)
    finally:
        await stop_kernels(huddle)
