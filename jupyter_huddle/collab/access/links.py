"""Share links and the guests who came through them, as stored."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from .roles import Role

MAX_NAME_CHARS = 64  # a guest's display name
MAX_LABEL_CHARS = 200  # a link's label


def hash_secret(secret: str) -> str:
    """What the store keeps of a link's secret: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ShareLink:
    """A share link as stored: one notebook, one role, and only the hash of its secret."""

    id: str
    file_id: str
    role: Role
    created_by: str
    created: float
    secret_hash: str
    expires_at: float | None = None
    max_uses: int | None = None
    uses: int = 0
    revoked_at: float | None = None
    label: str = ""


    def problem(self, now: float) -> str | None:
        """Why the link cannot be used now, or None."""
        if self.revoked_at is not None:
            return "this share link was revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "this share link has expired"
        return None


    def public(self) -> dict[str, Any]:
        """The link as JSON for its owners, without its secret's hash."""
        value = asdict(self)
        del value["secret_hash"]
        return value


@dataclass(frozen=True)
class Guest:
    """Someone who came through a share link, with the display name they picked."""

    id: str
    name: str
    link_id: str
    created: float


    @property
    def username(self) -> str:
        """The guest's username inside Huddle (``guest-<id>``)."""
        return f"guest-{self.id}"
