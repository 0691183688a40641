"""Who may do what to which notebook: roles, share links, guests and temporary grants.

Everyone who logs in to the Jupyter server itself (its token, password or JupyterHub) is a
*member*. Members listed in ``owners`` (or every member, when that list is empty, as on a
personal server) own every notebook; other members get their per-notebook role, or the
server's ``member_role``. A *guest* arrives through a share link: it names one notebook and
one role, and a guest reaches nothing else.

A link carries a random secret. The store keeps only its SHA-256, compared in constant
time; a link id that does not exist is compared against a dummy hash, so the time of a
refusal says nothing about which part of a token was wrong. Clients that keep sending bad
tokens are refused for a while (``RateLimiter``).

This module knows nothing of HTTP: ``server/access.py`` maps requests onto it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace

from ..store import AccessTable
from .errors import AccessError, BadToken, InvalidLinkRequest
from .limiter import RateLimiter
from .links import MAX_LABEL_CHARS, MAX_NAME_CHARS, Guest, ShareLink, hash_secret
from .roles import Role, higher

log = logging.getLogger(__name__)

LINKS = "share_links"
GUESTS = "guests"
ROLES = "roles"
_DUMMY_HASH = hashlib.sha256(b"no such link").hexdigest()


Listener = Callable[[str, set[str]], None]  # (file_id or "*", usernames) -> None


class AccessService:
    """Who may do what to which notebook: roles, share links, guests and grants (see module)."""

    def __init__(self, store: AccessTable, *, owners: set[str] | None = None,
                 member_role: Role | None = Role.VIEWER, limiter: RateLimiter | None = None,
                 clock: Callable[[], float] = time.time,
                 open_store: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self._open_store = open_store
        self._loaded: asyncio.Task[None] | None = None
        self.owners = owners or set()
        self.member_role = member_role
        self.limiter = limiter or RateLimiter()
        self.clock = clock
        self._links: dict[str, ShareLink] = {}
        self._guests: dict[str, Guest] = {}
        self._roles: dict[tuple[str, str], Role] = {}  # (file_id, username) -> role
        self._grants: dict[tuple[str, str], tuple[Role, float]] = {}  # ... -> (role, until)
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        # link id -> the timer that ends its guests' sessions when it expires
        self._expiry_timers: dict[str, asyncio.TimerHandle] = {}
        # Told when people lose or change rights: their connections must be cut or renewed.
        self.listeners: list[Listener] = []

    async def ready(self) -> None:
        """Load links, guests and roles from the store once (the store opens lazily)."""
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(self._load())
        await asyncio.shield(self._loaded)

    async def _load(self) -> None:
        if self._open_store is not None:
            await self._open_store()
        for raw in (await self.store.values(LINKS)).values():
            try:
                data = json.loads(raw)
                link = ShareLink(**{**data, "role": Role(data["role"])})
            except (ValueError, TypeError, KeyError) as err:
                log.error("ignoring an unreadable share link in the store: %s", err)
                continue
            self._links[link.id] = link
            self._watch_expiry(link)
        for raw in (await self.store.values(GUESTS)).values():
            try:
                guest = Guest(**json.loads(raw))
            except (ValueError, TypeError) as err:
                log.error("ignoring an unreadable guest in the store: %s", err)
                continue
            self._guests[guest.id] = guest
        for key, raw in (await self.store.values(ROLES)).items():
            file_id, _, username = key.partition(" ")
            try:
                self._roles[(file_id, username)] = Role(raw)
            except ValueError:
                log.error("ignoring an unknown role %r in the store", raw)

    def _notify(self, file_id: str, usernames: set[str]) -> None:
        for listener in list(self.listeners):
            listener(file_id, usernames)

    # --- who is who -------------------------------------------------------------------

    def is_owner(self, username: str) -> bool:
        """A member who owns every notebook."""
        return not self.owners or username in self.owners

    def guest(self, guest_id: str) -> tuple[Guest, ShareLink] | None:
        """A guest whose link still works (None once it is revoked or expired)."""
        guest = self._guests.get(guest_id)
        link = self._links.get(guest.link_id) if guest is not None else None
        if guest is None or link is None or link.problem(self.clock()) is not None:
            return None
        return guest, link

    def role_of(self, username: str, file_id: str, *, guest_id: str | None = None
                ) -> Role | None:
        """The role of a member (``guest_id`` None) or a guest on a notebook; None: no
        access at all."""
        granted = self._grant(file_id, username)
        if guest_id is not None:
            found = self.guest(guest_id)
            if found is None:
                return None
            guest, link = found
            if guest.username != username:
                return None
            # their link's notebook, or one they were given (their personal copy)
            base = link.role if link.file_id == file_id else self._roles.get(
                (file_id, username))
            return higher(base, granted)
        if self.is_owner(username):
            return Role.OWNER
        return higher(self._roles.get((file_id, username), self.member_role), granted)

    def may_read(self, username: str, file_id: str) -> bool:
        """Whether someone known by username alone (a member, or a guest ``guest-<id>``)
        has any access to the notebook: whom its comments may @mention."""
        guest_id = username[len("guest-"):] if username.startswith("guest-") else None
        return self.role_of(username, file_id, guest_id=guest_id) is not None

    def _grant(self, file_id: str, username: str) -> Role | None:
        grant = self._grants.get((file_id, username))
        if grant is None:
            return None
        role, until = grant
        if self.clock() >= until:
            del self._grants[(file_id, username)]
            return None
        return role

    # --- share links -------------------------------------------------------------------

    async def create_link(self, file_id: str, role: Role, created_by: str, *,
                          expires_in_s: float | None = None, max_uses: int | None = None,
                          label: str = "") -> tuple[ShareLink, str]:
        """A new link and its token (shown once; only its hash is kept)."""
        if role == Role.OWNER:
            raise InvalidLinkRequest("a share link cannot make someone an owner")
        if expires_in_s is not None and expires_in_s <= 0:
            raise InvalidLinkRequest("expires_in_s must be positive")
        if max_uses is not None and max_uses < 1:
            raise InvalidLinkRequest("max_uses must be at least 1")
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        link = ShareLink(
            id=secrets.token_hex(8), file_id=file_id, role=role, created_by=created_by,
            created=now, secret_hash=hash_secret(secret),
            expires_at=None if expires_in_s is None else now + expires_in_s,
            max_uses=max_uses, label=label[:MAX_LABEL_CHARS])
        await self._save_link(link)
        return link, f"{link.id}.{secret}"

    async def _save_link(self, link: ShareLink) -> None:
        # In memory first, before any await: a concurrent claim must see this use counted.
        self._links[link.id] = link
        self._watch_expiry(link)
        await self.store.put_value(LINKS, link.id, json.dumps(asdict(link)))

    def _watch_expiry(self, link: ShareLink) -> None:
        """At the moment a link expires, its guests lose access as if it were revoked:
        their open sockets are cut (listeners), not only their next requests refused."""
        timer = self._expiry_timers.pop(link.id, None)
        if timer is not None:
            timer.cancel()
        if link.expires_at is None or link.revoked_at is not None:
            return
        delay = max(link.expires_at - self.clock(), 0.0)
        self._expiry_timers[link.id] = asyncio.get_running_loop().call_later(
            delay, self._expired, link.id)

    def _expired(self, link_id: str) -> None:
        self._expiry_timers.pop(link_id, None)
        link = self._links.get(link_id)
        if link is None:
            return
        if link.problem(self.clock()) is None:  # the clocks disagree by a hair: again
            self._watch_expiry(link)
            return
        self._notify(link.file_id, self._guests_of(link.id))

    def _guests_of(self, link_id: str) -> set[str]:
        return {g.username for g in self._guests.values() if g.link_id == link_id}

    def close(self) -> None:
        """Stop every timer (server shutdown)."""
        for timer in [*self._expiry_timers.values(), *self._timers.values()]:
            timer.cancel()
        self._expiry_timers.clear()
        self._timers.clear()

    def links(self, file_id: str | None = None) -> list[ShareLink]:
        """The share links, of one notebook or of all, oldest first (revoked ones included)."""
        return sorted((link for link in self._links.values()
                       if file_id is None or link.file_id == file_id),
                      key=lambda link: link.created)

    def link(self, link_id: str) -> ShareLink | None:
        """The share link with this id, or None."""
        return self._links.get(link_id)

    async def revoke(self, link_id: str) -> ShareLink:
        """Revoke a share link (its guests are cut off at once); return it.

        Raises:
            AccessError: there is no such link.
        """
        link = self._links.get(link_id)
        if link is None:
            raise AccessError(f"no share link {link_id}")
        if link.revoked_at is None:
            link = replace(link, revoked_at=self.clock())
            await self._save_link(link)
        self._notify(link.file_id, self._guests_of(link.id))
        return link

    def check_token(self, token: str, client: str) -> ShareLink:
        """The link a token opens.

        A valid token always opens its link, even from a client that sent bad tokens: a
        class behind one address (a NAT) must not be locked out by one student's typos.
        That gives a guesser nothing: secrets are 256 random bits, and every bad token
        still counts against its client, which is refused (429) once over its budget.

        Raises:
            TooManyAttempts: this client sent too many bad tokens lately.
            BadToken: the token is wrong, or its link revoked or expired.
        """
        link_id, _, secret = token.partition(".")
        link = self._links.get(link_id)
        expected = link.secret_hash if link is not None else _DUMMY_HASH
        problem = "this share link is not valid"
        if hmac.compare_digest(hash_secret(secret), expected) and link is not None:
            problem = link.problem(self.clock()) or ""
            if not problem:
                return link
        self.limiter.check(client)
        self.limiter.failed(client)
        raise BadToken(problem)

    async def claim(self, link: ShareLink, name: str) -> Guest:
        """A new guest on ``link`` with a display name (one use of the link).

        Raises:
            BadToken: the link was used up (or revoked) meanwhile.
            AccessError: the name is empty or too long.
        """
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME_CHARS:
            raise AccessError(f"pick a name of 1 to {MAX_NAME_CHARS} characters")
        current = self._links.get(link.id)
        if current is None or current.problem(self.clock()) is not None:
            raise BadToken("this share link is no longer valid")
        if current.max_uses is not None and current.uses >= current.max_uses:
            raise BadToken("this share link has been used up")
        await self._save_link(replace(current, uses=current.uses + 1))
        guest = Guest(secrets.token_hex(8), name, link.id, self.clock())
        await self.store.put_value(GUESTS, guest.id, json.dumps(asdict(guest)))
        self._guests[guest.id] = guest
        return guest

    # --- roles and grants --------------------------------------------------------------

    def roles(self, file_id: str) -> dict[str, Role]:
        """The roles assigned on one notebook, by username (grants not included)."""
        return {user: role for (fid, user), role in self._roles.items() if fid == file_id}

    async def assign(self, file_id: str, username: str, role: Role | None) -> None:
        """Give a member a role on one notebook (None: back to ``member_role``)."""
        key = f"{file_id} {username}"
        await self.store.put_value(ROLES, key, None if role is None else role.value)
        if role is None:
            self._roles.pop((file_id, username), None)
        else:
            self._roles[(file_id, username)] = role
        self._notify(file_id, {username})

    def grant(self, file_id: str, username: str, role: Role | None, seconds: float) -> None:
        """Raise someone's role on one notebook for a while ("hand over the keyboard");
        ``role`` None ends a grant early."""
        key = (file_id, username)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if role is None or seconds <= 0:
            self._grants.pop(key, None)
        else:
            self._grants[key] = (role, self.clock() + seconds)
            # When it runs out, connections opened under it must be renewed.
            self._timers[key] = asyncio.get_running_loop().call_later(
                seconds, self._grant_ended, key)
        self._notify(file_id, {username})

    def _grant_ended(self, key: tuple[str, str]) -> None:
        self._timers.pop(key, None)
        self._grants.pop(key, None)
        self._notify(key[0], {key[1]})

    def grants(self, file_id: str) -> dict[str, tuple[Role, float]]:
        """The grants running on one notebook: username -> (role, when it ends)."""
        return {user: grant for (fid, user), grant in list(self._grants.items())
                if fid == file_id and self._grant(fid, user) is not None}
