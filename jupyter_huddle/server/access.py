"""Requests mapped onto roles: the one place where Huddle decides who may do what.

An extension cannot choose the server's identity provider or authorizer classes (it may be
loaded into ``jupyter lab`` next to others), so ``install`` wraps the two the server has:

- the identity provider also recognises guests, by a signed cookie set when someone opens
  a share link; a guest request to anything but the allowlisted routes and methods
  (``guest_routes.GUEST_ROUTES``) is refused here, with 403, before any handler runs;
- a guest's identity lives only in that cookie: the provider never sets a Jupyter login
  cookie (which would make its holder a member) on a response to a guest, whatever the
  route;
- the authorizer refuses guests everything (they never reach Jupyter's own handlers
  anyway) and gives members who are not owners read access only.

Huddle's handlers ask ``allowed(handler, capability, file_id)``: owners go through the
server's own authorizer (so a deployment's authorizer still applies to them); everyone else
through their role on that notebook (``collab.access``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_server.auth import User
from tornado import web

from ..collab.access.roles import Capability, Role, can
from ..collab.access.service import AccessService
from ..collab.sync.connection import UserInfo

log = logging.getLogger(__name__)

GUEST_COOKIE = "huddle-guest"
GUEST_COOKIE_DAYS = 30

# What each capability means in Jupyter's own (action, resource) terms, for owners.
JUPYTER_EQUIVALENT: dict[Capability, tuple[str, str]] = {
    Capability.READ: ("read", "contents"),
    Capability.COMMENT: ("write", "contents"),
    Capability.EDIT: ("write", "contents"),
    Capability.EXECUTE: ("execute", "kernels"),
    Capability.INTERRUPT: ("write", "kernels"),
    Capability.RESTART: ("write", "kernels"),
    Capability.SHARE: ("write", "contents"),
}
GUEST_COLORS = ["#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#bcbd22", "#1f77b4", "#ff7f0e", "#7f7f7f"]


@dataclass
class GuestUser(User):
    """Someone who came through a share link (Jupyter's ``User``, plus which guest)."""

    guest_id: str = ""


def user_info(user: Any) -> UserInfo:
    """The core's view of an authenticated Jupyter user."""
    return UserInfo(str(user.username),
                    str(getattr(user, "display_name", "") or user.username),
                    getattr(user, "color", None) or None,
                    guest_id=getattr(user, "guest_id", None) or None,
                    initials=str(getattr(user, "initials", "") or ""))


class ServerAccess:
    """Huddle's access decisions for Jupyter requests: guests recognised and fenced in,
    members' and guests' roles checked, owners sent through the server's authorizer."""

    def __init__(self, access: AccessService, *, guest_copies: bool = False) -> None:
        self.access = access
        # Whether guests may make personal copies (whose kernels they would run as the
        # server's own user): HuddleApp.guest_copies.
        self.guest_copies = guest_copies
        # Handler class -> the methods a guest may use on it (exact classes only).
        self.guest_routes: Mapping[type, frozenset[str]] = {}
        self._is_authorized: Callable[..., bool] | None = None

    # --- installing ---------------------------------------------------------------------

    def install(self, identity_provider: Any, authorizer: Any,
                guest_routes: Mapping[type, frozenset[str]]) -> None:
        """Wrap the server's identity provider and authorizer (see the module docstring);
        ``guest_routes``: the handler classes and methods a guest may reach."""
        self.guest_routes = guest_routes
        members = identity_provider.get_user
        self._is_authorized = authorizer.is_authorized

        async def get_user(handler: web.RequestHandler) -> User | None:
            await self.access.ready()
            member = members(handler)
            if inspect.isawaitable(member):
                member = await member
            if member is not None:
                return member  # type: ignore[no-any-return]
            guest = self.guest_user(handler)
            if guest is not None and not self.guest_may_reach(handler):
                # The error page asks who is logged in: nobody, for this handler.
                handler.current_user = None
                handler._jupyter_current_user = None  # type: ignore[attr-defined]
                raise web.HTTPError(403, "a share link opens only its notebook")
            return guest

        identity_provider.get_user = get_user
        self._keep_guests_out_of_logins(identity_provider)

        def is_authorized(handler: Any, user: Any, action: str, resource: str) -> bool:
            if isinstance(user, GuestUser):
                return False
            if user is not None and not self.access.is_owner(str(user.username)):
                return action == "read" and resource not in ("terminals", "kernels")
            return self._owner_may(handler, user, action, resource)

        authorizer.is_authorized = is_authorized

    def guest_may_reach(self, handler: web.RequestHandler) -> bool:
        """Whether this handler and method are on the guests' allowlist."""
        return handler.request.method in self.guest_routes.get(type(handler), frozenset())

    @staticmethod
    def _keep_guests_out_of_logins(identity_provider: Any) -> None:
        """A Jupyter login cookie is membership: never set one on a guest's response
        (jupyter_server's ``PATCH /api/me`` sets one for whoever it updates), and never
        update a guest's identity through Jupyter's provider."""
        set_login_cookie = identity_provider.set_login_cookie
        update_user = identity_provider.update_user

        def guarded_set_login_cookie(handler: Any, user: Any) -> None:
            # (Someone with a guest cookie who also brings the server's token is a member
            # for that request: only a guest identity is never written into a login.)
            if isinstance(user, GuestUser):
                log.warning("refused to set a Jupyter login cookie for share-link guest %s",
                            getattr(user, "username", "?"))
                return
            set_login_cookie(handler, user)

        def guarded_update_user(handler: Any, user_data: Any) -> Any:
            if isinstance(getattr(handler, "_jupyter_current_user", None), GuestUser):
                raise web.HTTPError(403, "a share link opens only its notebook")
            return update_user(handler, user_data)

        identity_provider.set_login_cookie = guarded_set_login_cookie
        identity_provider.update_user = guarded_update_user

    def _owner_may(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        assert self._is_authorized is not None
        return bool(self._is_authorized(handler, user, action, resource))

    # --- guests -------------------------------------------------------------------------

    def guest_user(self, handler: web.RequestHandler) -> GuestUser | None:
        """The guest the request's signed cookie names, while their link still works."""
        raw = handler.get_signed_cookie(GUEST_COOKIE, max_age_days=GUEST_COOKIE_DAYS)
        if raw is None:
            return None
        found = self.access.guest(raw.decode(errors="replace"))
        if found is None:
            return None  # revoked or expired link: the cookie opens nothing any more
        guest, _link = found
        initials = "".join(part[0] for part in guest.name.split()[:2]).upper() or "?"
        color = GUEST_COLORS[int(guest.id, 16) % len(GUEST_COLORS)]
        return GuestUser(username=guest.username, name=guest.name, display_name=guest.name,
                         initials=initials, color=color, guest_id=guest.id)

    def set_guest_cookie(self, handler: web.RequestHandler, guest_id: str) -> None:
        """Remember a guest in this browser (a signed, HTTP-only cookie)."""
        handler.set_signed_cookie(
            GUEST_COOKIE, guest_id, expires_days=GUEST_COOKIE_DAYS, httponly=True,
            samesite="Lax", path=handler.settings.get("base_url", "/"))

    # --- decisions ------------------------------------------------------------------------

    def is_owner(self, user: Any) -> bool:
        """A member who owns every notebook (never a guest)."""
        return (user is not None and not isinstance(user, GuestUser)
                and self.access.is_owner(str(user.username)))

    def role(self, user: Any, file_id: str) -> Role | None:
        """The user's role on a notebook; None: no access."""
        guest_id = getattr(user, "guest_id", None) or None
        return self.access.role_of(str(user.username), file_id, guest_id=guest_id)

    def allowed(self, handler: Any, capability: Capability, file_id: str | None) -> bool:
        """May the handler's user do this to that notebook? ``file_id`` None: to a document
        that is not a notebook of theirs (owners only)."""
        user = handler.current_user
        if user is None:
            return False
        if self.is_owner(user):
            return self._owner_may(handler, user, *JUPYTER_EQUIVALENT[capability])
        return file_id is not None and can(self.role(user, file_id), capability)

    def may_copy(self, user: Any) -> bool:
        """May this person make personal copies ("make my copy")? Members may; guests only
        where the server allows it."""
        return user is not None and (self.guest_copies or not isinstance(user, GuestUser))

    def capabilities(self, handler: Any, file_id: str) -> list[str]:
        """What the handler's user may do to that notebook (capability names)."""
        return [c.value for c in Capability if self.allowed(handler, c, file_id)]

    def require(self, handler: Any, capability: Capability, file_id: str | None) -> None:
        """Refuse the request unless ``allowed``.

        Raises:
            web.HTTPError: 403, saying what the user may not do.
        """
        if not self.allowed(handler, capability, file_id):
            raise web.HTTPError(403, REFUSALS[capability])


REFUSALS: dict[Capability, str] = {
    Capability.READ: "you may not read this notebook",
    Capability.COMMENT: "you may not comment on this notebook",
    Capability.EDIT: "you may not edit this notebook",
    Capability.EXECUTE: "you may not run cells in this notebook",
    Capability.INTERRUPT: "you may not interrupt this notebook's kernel",
    Capability.RESTART: "you may not restart this notebook's kernel",
    Capability.SHARE: "only an owner may share this notebook",
}
