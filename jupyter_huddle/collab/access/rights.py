"""Who is disconnected when rights on a notebook change.

A peer's rights are decided once, when it joins (``Permissions``). When someone's role on a
notebook changes (a role assigned, a grant given or ended, a share link revoked or
expired), each of their sockets on that notebook is closed: with ``RIGHTS_CHANGED`` when
they keep a role, so the client reconnects with the new one, or ``FORBIDDEN`` when they
have none left. Nobody else's socket is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from ..sync.close_codes import CloseCode
from ..sync.room import Room
from .roles import Role


class Roles(Protocol):
    """Where roles are looked up (``AccessService``)."""

    def role_of(self, username: str, file_id: str, *, guest_id: str | None = None
                ) -> Role | None:
        """The role of a member (``guest_id`` None) or a guest on a notebook; None: no access."""


class OpenRooms(Protocol):
    """Where a notebook's open rooms are found (``RoomManager``)."""

    def rooms_for_file(self, file_id: str) -> list[Room]:
        """The open rooms of one file."""


def cut_changed_peers(rooms: Iterable[Room], file_id: str, usernames: Collection[str],
                      roles: Roles) -> None:
    """Close the sockets of ``usernames`` in ``rooms`` (the rooms of ``file_id``), telling
    each their new role, or that their access ended."""
    for room in rooms:
        for peer in list(room.peers.values()):
            if peer.user.username not in usernames:
                continue
            role = roles.role_of(peer.user.username, file_id, guest_id=peer.user.guest_id)
            if role is None:
                peer.close(CloseCode.FORBIDDEN, "your access to this notebook ended")
            else:
                peer.close(CloseCode.RIGHTS_CHANGED,
                           f"your role is now {role.value}; reconnecting")


def disconnect_on_rights_change(rooms: OpenRooms, roles: Roles
                                ) -> Callable[[str, set[str]], None]:
    """A listener for ``AccessService.listeners``: ``(file_id, usernames)`` whose rights on
    that notebook changed have their sockets in its open rooms cut."""

    def rights_changed(file_id: str, usernames: set[str]) -> None:
        cut_changed_peers(rooms.rooms_for_file(file_id), file_id, usernames, roles)

    return rights_changed
