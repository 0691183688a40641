"""Who is disconnected when rights on a notebook change (collab/access/rights.py), with the real
access service and room manager."""

from __future__ import annotations

from jupyter_huddle.collab.access.rights import disconnect_on_rights_change
from jupyter_huddle.collab.access.roles import Role
from jupyter_huddle.collab.access.service import AccessService
from jupyter_huddle.collab.store import MemoryStore
from jupyter_huddle.collab.sync.close_codes import CloseCode
from tests.support.open_rooms import OpenRooms, Person


async def access_for(rooms: OpenRooms) -> AccessService:
    access = AccessService(MemoryStore(), owners={"owner"}, member_role=Role.VIEWER)
    await access.ready()
    access.listeners.append(disconnect_on_rights_change(rooms.manager, access))
    return access


async def test_a_changed_role_cuts_only_that_persons_sockets_on_that_notebook():
    async with OpenRooms({"f1": "one.ipynb", "f2": "two.ipynb"}) as rooms:
        access = await access_for(rooms)
        alice_here, alice_there, bob = Person("alice"), Person("alice"), Person("bob")
        await rooms.join("f1", alice_here)
        await rooms.join("f2", alice_there)
        await rooms.join("f1", bob)

        await access.assign("f1", "alice", Role.EDITOR)

        assert alice_here.closed_with == (CloseCode.RIGHTS_CHANGED,
                                          "your role is now editor; reconnecting")
        assert alice_there.closed_with is None
        assert bob.closed_with is None


async def test_someone_left_with_no_role_is_told_their_access_ended():
    async with OpenRooms({"f1": "one.ipynb"}) as rooms:
        access = await access_for(rooms)
        link, _token = await access.create_link("f1", Role.EDITOR, "owner")
        guest = await access.claim(link, "Ada")
        guest_socket, member = Person(guest.username, guest.id), Person("carol")
        await rooms.join("f1", guest_socket)
        await rooms.join("f1", member)

        await access.revoke(link.id)

        assert guest_socket.closed_with == (CloseCode.FORBIDDEN,
                                            "your access to this notebook ended")
        assert member.closed_with is None


async def test_a_notebook_with_no_open_room_cuts_nobody():
    async with OpenRooms({"f1": "one.ipynb"}) as rooms:
        access = await access_for(rooms)
        await access.assign("f1", "alice", Role.RUNNER)  # nothing open: nothing to cut
        assert rooms.manager.rooms_for_file("f1") == []
