"""Roles and what each may do on a notebook."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A person's role on a notebook, lowest first; each may do what ``CAPABILITIES`` says."""

    VIEWER = "viewer"
    COMMENTER = "commenter"
    RUNNER = "runner"
    EDITOR = "editor"
    OWNER = "owner"


class Capability(StrEnum):
    """Something a role may do to a notebook (see ``CAPABILITIES``)."""

    READ = "read"
    COMMENT = "comment"
    EXECUTE = "execute"
    INTERRUPT = "interrupt"
    EDIT = "edit"
    RESTART = "restart"
    SHARE = "share"


RANK = list(Role)  # lowest first
CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.VIEWER: frozenset({Capability.READ}),
    Role.COMMENTER: frozenset({Capability.READ, Capability.COMMENT}),
    Role.RUNNER: frozenset({Capability.READ, Capability.COMMENT, Capability.EXECUTE,
                            Capability.INTERRUPT}),
    Role.EDITOR: frozenset({Capability.READ, Capability.COMMENT, Capability.EXECUTE,
                            Capability.INTERRUPT, Capability.EDIT, Capability.RESTART}),
    Role.OWNER: frozenset(Capability),
}


def can(role: Role | None, capability: Capability) -> bool:
    """Whether ``role`` (None: no access) allows ``capability``."""
    return role is not None and capability in CAPABILITIES[role]


def higher(a: Role | None, b: Role | None) -> Role | None:
    """The higher of two roles, either of which may be None."""
    if a is None or b is None:
        return a or b
    return a if RANK.index(a) >= RANK.index(b) else b
