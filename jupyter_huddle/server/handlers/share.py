"""Share links, roles and guests over HTTP (all decisions are in ``collab.access``).

- ``GET /huddle/s/{token}``: a share link. A valid one asks the visitor for a display name
  (once; a signed cookie remembers the guest), then opens the notebook. No account needed.
- ``POST /huddle/s/{token}``: ``name`` (form field) claims the link: one use.
- ``GET /api/huddle/access/{document_id}``: your role and capabilities on a notebook.
- ``GET|POST /api/huddle/links/{document_id}``: list / create links (owners):
  ``{role, expires_in_s?, max_uses?, label?}`` -> ``{link, url}`` (the only time the token
  is shown).
- ``DELETE /api/huddle/links/{document_id}/{link_id}``: revoke; the link's guests are cut
  off at once.
- ``POST /api/huddle/grants/{document_id}``: ``{username, role|null, seconds}`` raises
  someone's role for a while (hand a student the keyboard); owners.
- ``PUT /api/huddle/roles/{document_id}``: ``{username, role|null}`` a member's role on
  the notebook (when the server has a list of owners); owners.
- ``POST /api/huddle/kernel/{document_id}``: the notebook's kernel, started if needed, for
  people who may run cells but not use Jupyter's sessions API (guests).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web

from ...collab.access.links import MAX_NAME_CHARS, ShareLink
from ...collab.access.roles import Capability, Role
from ...collab.ids import DocumentRoomId
from ..access import GuestUser, ServerAccess
from ..contents_backend import ContentsFileBackend
from ..kernel_access import ServerKernels
from .base import CoreErrors
from .bodies import json_object
from .ids import parse_document_id

MAX_GRANT_S = 4 * 3600

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Huddle</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 12vh auto;
       padding: 0 1rem; color: #1d1d1f; background: #fff; }}
@media (prefers-color-scheme: dark) {{ body {{ color: #eee; background: #1b1b1d; }}
  input {{ background: #2a2a2d; color: #eee; border-color: #555; }} }}
h1 {{ font-size: 1.4rem; }} label {{ display: block; margin: 1rem 0 .3rem; }}
input[type=text] {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box;
                    border: 1px solid #aaa; border-radius: 6px; }}
button {{ margin-top: 1rem; padding: .5rem 1.2rem; font-size: 1rem; border-radius: 6px;
          border: 0; background: #2563eb; color: #fff; cursor: pointer; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #93c5fd; }}
.muted {{ color: #777; }}
</style></head><body>{body}</body></html>"""


def page(title: str, body: str) -> str:
    """A small standalone HTML page (the share link's, and its errors)."""
    return PAGE.format(title=html.escape(title), body=body)


class ShareLinkHandler(CoreErrors, JupyterHandler):
    """The page a share link opens (no account needed)."""

    def initialize(self, access: ServerAccess, backend: ContentsFileBackend) -> None:
        self.access = access
        self.backend = backend

    def client_key(self) -> str:
        """Whom bad tokens are counted against: the client's address."""
        return str(self.request.remote_ip or "unknown")

    def check_link(self, token: str) -> ShareLink:
        """The link ``token`` opens.

        Raises:
            TooManyAttempts: this client sent too many bad tokens lately.
            BadToken: the token is wrong, or its link revoked or expired.
        """
        return self.access.access.check_token(token, self.client_key())

    async def notebook_url(self, link: ShareLink) -> str:
        """Where the link's notebook opens in Huddle's notebook view.

        Raises:
            web.HTTPError: 404 when the notebook no longer exists.
        """
        path = await self.backend.path_for(link.file_id)
        if path is None:
            raise web.HTTPError(404, "the shared notebook no longer exists")
        return f"{self.base_url}huddle/notebooks/{quote(path)}"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        status_code, kwargs = self.core_error_response(status_code, kwargs)
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.finish(page("Share link", f"<h1>This link cannot be opened</h1>"
                                       f"<p>{html.escape(reason)}</p>"))

    @allow_unauthenticated
    async def get(self, token: str) -> None:
        link = self.check_link(token)
        user = self.current_user
        already = (isinstance(user, GuestUser) and self.access.access.guest(user.guest_id)
                   is not None and self.access.role(user, link.file_id) is not None)
        if self.access.is_owner(user) or already:
            self.redirect(await self.notebook_url(link))
            return
        await self.notebook_url(link)  # a link to a deleted notebook says so now
        role = html.escape(link.role.value)
        self.finish(page("Join", f"""<h1>You are invited to a notebook</h1>
<p class="muted">As a <strong>{role}</strong>. Others in the notebook will see the name you
pick.</p>
<form method="post">{self.xsrf_form_html()}
<label for="name">Your name</label>
<input id="name" name="name" type="text" required maxlength="{MAX_NAME_CHARS}"
       autocomplete="name" autofocus>
<button type="submit">Open the notebook</button></form>"""))

    @allow_unauthenticated
    async def post(self, token: str) -> None:
        link = self.check_link(token)
        url = await self.notebook_url(link)
        guest = await self.access.access.claim(link, self.get_body_argument("name", ""))
        self.access.set_guest_cookie(self, guest.id)
        self.redirect(url)


class AccessApiHandler(CoreErrors, APIHandler):
    """The access routes' shared set-up and body parsing."""

    def initialize(self, access: ServerAccess, backend: ContentsFileBackend,
                   kernels: ServerKernels) -> None:
        self.access = access
        self.backend = backend
        self.kernels = kernels

    def document(self, document_id: str) -> DocumentRoomId:
        """The notebook's room id from the URL (400 if it is not a notebook's)."""
        return parse_document_id(document_id)

    def body(self) -> dict[str, Any]:
        """The request body as a JSON object (400 otherwise)."""
        return json_object(self)

    @staticmethod
    def parse_role(raw: Any, *, optional: bool = False) -> Role | None:
        """A role from a request body; None for a missing one when ``optional``.

        Raises:
            web.HTTPError: 400 for anything that is not a role's name.
        """
        if raw is None and optional:
            return None
        try:
            return Role(raw)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise web.HTTPError(400, f"role must be one of {roles}") from None

    def link_url(self, token: str) -> str:
        """The full URL a share link's ``token`` opens on this server."""
        return f"{self.request.protocol}://{self.request.host}{self.base_url}huddle/s/{token}"


class MyAccessHandler(AccessApiHandler):
    """``GET /api/huddle/access/{document_id}``: your role and capabilities."""

    @web.authenticated
    def get(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.READ, room_id.file_id)
        user = self.current_user
        role = self.access.role(user, room_id.file_id)
        self.finish({"role": role.value if role else None,
                     "capabilities": self.access.capabilities(self, room_id.file_id),
                     "guest": isinstance(user, GuestUser),
                     "copy": self.access.may_copy(user)})


class LinksHandler(AccessApiHandler):
    """``GET|POST /api/huddle/links/{document_id}``: list or create share links."""

    @web.authenticated
    def get(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        access = self.access.access
        self.finish({"links": [link.public() for link in access.links(room_id.file_id)],
                     "roles": {u: r.value for u, r in access.roles(room_id.file_id).items()},
                     "grants": {u: {"role": r.value, "until": until} for u, (r, until)
                                in access.grants(room_id.file_id).items()}})

    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        body = self.body()
        role = self.parse_role(body.get("role"))
        assert role is not None
        expires, uses, label = body.get("expires_in_s"), body.get("max_uses"), body.get(
            "label", "")
        if expires is not None and (isinstance(expires, bool)
                                    or not isinstance(expires, int | float)):
            raise web.HTTPError(400, "expires_in_s must be a number of seconds")
        if uses is not None and (isinstance(uses, bool) or not isinstance(uses, int)):
            raise web.HTTPError(400, "max_uses must be a whole number")
        if not isinstance(label, str):
            raise web.HTTPError(400, "label must be text")
        if await self.backend.path_for(room_id.file_id) is None:
            raise web.HTTPError(404, f"no notebook {document_id}")
        link, token = await self.access.access.create_link(
            room_id.file_id, role, str(self.current_user.username),
            expires_in_s=expires, max_uses=uses, label=label)
        self.set_status(201)
        self.finish({"link": link.public(), "url": self.link_url(token)})


class LinkHandler(AccessApiHandler):
    """``DELETE /api/huddle/links/{document_id}/{link_id}``: revoke a link."""

    @web.authenticated
    async def delete(self, document_id: str, link_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        link = self.access.access.link(link_id)
        if link is None or link.file_id != room_id.file_id:
            raise web.HTTPError(404, f"no share link {link_id} for this notebook")
        revoked = await self.access.access.revoke(link_id)
        self.finish({"link": revoked.public()})


class GrantsHandler(AccessApiHandler):
    """``POST /api/huddle/grants/{document_id}``: raise someone's role for a while."""

    @web.authenticated
    def post(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        body = self.body()
        username, seconds = body.get("username"), body.get("seconds", 300)
        role = self.parse_role(body.get("role"), optional=True)
        if not isinstance(username, str) or not username:
            raise web.HTTPError(400, "username must name someone")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
                0 < seconds <= MAX_GRANT_S):
            raise web.HTTPError(400, f"seconds must be between 1 and {MAX_GRANT_S}")
        if role == Role.OWNER:
            raise web.HTTPError(400, "ownership cannot be handed over")
        self.access.access.grant(room_id.file_id, username, role, float(seconds))
        self.finish({"username": username, "role": role.value if role else None,
                     "seconds": seconds})


class RolesHandler(AccessApiHandler):
    """``PUT /api/huddle/roles/{document_id}``: a member's role on the notebook."""

    @web.authenticated
    async def put(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.SHARE, room_id.file_id)
        body = self.body()
        username = body.get("username")
        role = self.parse_role(body.get("role"), optional=True)
        if not isinstance(username, str) or not username or username.startswith("guest-"):
            raise web.HTTPError(400, "username must name a member of this server")
        await self.access.access.assign(room_id.file_id, username, role)
        self.finish({"username": username, "role": role.value if role else None})


class KernelHandler(AccessApiHandler):
    """``POST /api/huddle/kernel/{document_id}``: the notebook's kernel, started if needed."""

    def initialize(self, access: ServerAccess, backend: ContentsFileBackend,
                   kernels: ServerKernels, copies_dir: str = "", max_copy_kernels: int = 0
                   ) -> None:
        super().initialize(access, backend, kernels)
        self.copies_dir = copies_dir.strip("/")
        self.max_copy_kernels = max_copy_kernels

    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.access.require(self, Capability.EXECUTE, room_id.file_id)
        path = await self.backend.path_for(room_id.file_id)
        if path is None:
            raise web.HTTPError(404, f"no notebook {document_id}")
        if self.copies_dir and path.startswith(self.copies_dir + "/"):
            await self._check_copy_kernels(path)
        kernel_name = self.body().get("kernel_name") if self.request.body else None
        if kernel_name is not None and not isinstance(kernel_name, str):
            raise web.HTTPError(400, "kernel_name must be a string")
        kernel_id = await self.kernels.start_for(path, kernel_name)
        self.finish({"kernel_id": kernel_id, "path": path})

    async def _check_copy_kernels(self, path: str) -> None:
        """Personal copies share a server-wide budget of kernels."""
        running = await self.kernels.session_paths()
        if path in running:
            return  # this copy's kernel is already counted
        copies = [p for p in running if p.startswith(self.copies_dir + "/")]
        if len(copies) >= self.max_copy_kernels:
            raise web.HTTPError(
                503, f"all {self.max_copy_kernels} kernels for personal copies are in use; "
                "ask the presenter, or try again when someone has finished")


def routes(access: ServerAccess, backend: ContentsFileBackend, kernels: ServerKernels,
           copies_dir: str, max_copy_kernels: int
           ) -> list[tuple[str, type[JupyterHandler], dict[str, Any]]]:
    """The sharing routes, relative to the server's base URL."""
    args: dict[str, Any] = {"access": access, "backend": backend, "kernels": kernels}
    doc = r"([^/]+)"
    return [
        (r"/huddle/s/([A-Za-z0-9_.\-]{1,200})", ShareLinkHandler,
         {"access": access, "backend": backend}),
        (rf"/api/huddle/access/{doc}", MyAccessHandler, args),
        (rf"/api/huddle/links/{doc}", LinksHandler, args),
        (rf"/api/huddle/links/{doc}/([0-9a-f]{{16}})", LinkHandler, args),
        (rf"/api/huddle/grants/{doc}", GrantsHandler, args),
        (rf"/api/huddle/roles/{doc}", RolesHandler, args),
        (rf"/api/huddle/kernel/{doc}", KernelHandler,
         {**args, "copies_dir": copies_dir, "max_copy_kernels": max_copy_kernels}),
    ]
