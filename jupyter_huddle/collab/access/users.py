"""Who the server knows: everyone who joined a room or used the review API since it started,
so that ``@name`` in a comment can name them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sync.connection import UserInfo

MAX_KNOWN_USERS = 10_000  # the oldest are forgotten first


def handle_of(text: str) -> str:
    """What is typed after ``@`` to name someone: their name without spaces, lower case."""
    return re.sub(r"[^\w.\-]", "", text).lower()


@dataclass(frozen=True, slots=True)
class KnownUser:
    """Someone the server has seen, as ``@`` mentions name them."""

    username: str
    display_name: str
    color: str | None

    @property
    def handle(self) -> str:
        """What is typed after ``@`` to name them (from the display name, else the username)."""
        return handle_of(self.display_name) or handle_of(self.username)


class KnownUsers:
    """Everyone seen since the server started, most recent last, at most ``MAX_KNOWN_USERS``."""

    def __init__(self) -> None:
        self._users: dict[str, KnownUser] = {}

    def saw(self, user: UserInfo) -> None:
        """Record (or refresh) someone who joined a room or used the review API."""
        known = KnownUser(user.username, user.display_name or user.username, user.color)
        self._users.pop(user.username, None)  # most recently seen last
        self._users[user.username] = known
        while len(self._users) > MAX_KNOWN_USERS:
            del self._users[next(iter(self._users))]

    def all(self) -> list[KnownUser]:
        """Everyone known, least recently seen first."""
        return list(self._users.values())

    def handles(self) -> dict[str, str]:
        """handle -> username, for both a user's name and their username. A handle two
        people share names nobody (a mention must not reach the wrong person)."""
        result: dict[str, str] = {}
        clashes: set[str] = set()
        for user in self._users.values():
            for handle in {user.handle, handle_of(user.username)}:
                if not handle:
                    continue
                if result.get(handle, user.username) != user.username:
                    clashes.add(handle)
                result[handle] = user.username
        return {h: u for h, u in result.items() if h not in clashes}
