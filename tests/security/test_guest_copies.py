"""Point 3: "Make my copy" is not code execution for guests.

A viewer used to copy the notebook, be editor of the copy, and run
``open('<server root>/secret.ipynb')`` in its kernel, as the server's own user. Guests'
copies are off unless ``HuddleApp.guest_copies`` turns them on (sandboxing copies' kernels
is a later issue).
"""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import FAST_SAVES
from tests.support.guests import guest_in


async def test_a_guest_cannot_copy_a_notebook_by_default(huddle, write_notebook, jp_root_dir):
    write_notebook("lesson.ipynb", ["print('lesson')"])
    write_notebook("secret.ipynb", ["password = 'hunter2'"])
    guest, room, _ = await guest_in(huddle, "lesson.ipynb", "viewer", "Vic")

    access = await guest.json("GET", f"api/huddle/access/{room}")
    assert access["copy"] is False
    refused = await guest.request("POST", f"api/huddle/copies/{room}")
    assert refused.code == 403, refused.body
    assert b"cannot make copies" in refused.body
    assert not (jp_root_dir / "huddle-copies").exists()
    # with no copy, there is no notebook of theirs to run code in
    assert (await guest.request("POST", f"api/huddle/kernel/{room}")).code == 403

    # a member (the owner here) still copies
    copied = await huddle.request("POST", f"api/huddle/copies/{room}")
    assert copied.code == 201, copied.body
    assert (jp_root_dir / json.loads(copied.body)["path"]).is_file()


@pytest.mark.parametrize("huddle_config", [{**FAST_SAVES, "guest_copies": True}])
async def test_guest_copies_when_the_server_allows_them(huddle, write_notebook, jp_root_dir):
    write_notebook("lesson.ipynb", ["print('lesson')"])
    guest, room, _ = await guest_in(huddle, "lesson.ipynb", "viewer", "Vic")
    assert (await guest.json("GET", f"api/huddle/access/{room}"))["copy"] is True
    copied = await guest.request("POST", f"api/huddle/copies/{room}")
    assert copied.code == 201, copied.body
    assert (jp_root_dir / json.loads(copied.body)["path"]).is_file()
