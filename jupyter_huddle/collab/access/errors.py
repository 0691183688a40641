"""Why access is refused (``server/errors.py`` maps each to an HTTP status)."""

from __future__ import annotations

from ..errors import CollabError


class AccessError(CollabError):
    """Access is refused: a share link does not open, or not any more."""


class InvalidLinkRequest(AccessError):
    """A share link asked for with a role, expiry or number of uses it cannot have."""


class BadToken(AccessError):
    """A share token that is unknown, wrong, expired, revoked or used up."""


class TooManyAttempts(AccessError):
    """One client tried too many bad share tokens; ``retry_after_s`` says when it may again."""


    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many bad share links; try again in {int(retry_after_s) + 1} s")
        self.retry_after_s = retry_after_s
