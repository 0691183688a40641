"""Point 1: a guest never becomes a member.

Guests reach an explicit allowlist of routes and methods; every other route of the running
server (Jupyter's, Huddle's, any extension's) answers 403, and no response to a guest sets
a Jupyter login cookie. ``PATCH /api/me`` used to make jupyter_server mint one, turning a
share-link guest into a member (with the default empty ``owners``: owner of everything)
who kept it after the link was revoked.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from jupyter_server.base.handlers import JupyterHandler
from tornado.simple_httpclient import HTTPStreamClosedError

from jupyter_huddle.server.guest_routes import GUEST_ROUTES
from tests.security.routes import Route, example_path, first_match, routes
from tests.support.guests import Browser, guest_in

LOGIN_COOKIE_PREFIX = "username-"


def login_cookies(response) -> list[str]:
    return [h for h in response.headers.get_list("Set-Cookie")
            if h.startswith(LOGIN_COOKIE_PREFIX)]


def allowlisted(route: Route, method: str) -> bool:
    return method in GUEST_ROUTES.get(route.handler, frozenset())


async def test_a_guest_reaches_only_the_allowlist_on_every_registered_route(
        huddle, write_notebook):
    write_notebook("shared.ipynb", ["print('shared')"])
    write_notebook("private.ipynb", ["secret = 42"])
    guest, _room, _session = await guest_in(huddle, "shared.ipynb", "editor", "Mallory")
    all_routes = routes(huddle.app.web_app)
    assert len(all_routes) > 50, "the walk found too few routes to be the server's table"
    tried, wrong, minted, unservable, public = 0, [], [], [], []
    for route in all_routes:
        path = example_path(route.pattern)
        if not path.startswith("/"):
            path = "/" + path  # a catch-all such as "(.*)$"
        assert first_match(all_routes, path) is route, f"{path} does not reach {route.name}"
        for method in route.methods():
            if allowlisted(route, method):
                continue
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            try:
                response = await guest.request(method, path, raw=body)
            except HTTPStreamClosedError:
                # The server cannot build this handler at all (jupyter_server registers
                # its public favicon route without the handler's path): nobody is served.
                unservable.append(f"{method} {path}")
                continue
            tried += 1
            minted += login_cookies(response)
            if response.code == 403:
                continue
            if not issubclass(route.handler, JupyterHandler):
                # A plain Tornado handler (a trailing-slash redirect) never asks who is
                # there: a guest must get exactly what a stranger with no cookie gets.
                stranger = Browser(huddle)
                stranger.cookies["_xsrf"] = guest.cookies["_xsrf"]  # forms work for anyone
                stranger_said = await stranger.request(method, path, raw=body)
                if (stranger_said.code, stranger_said.headers.get("Location")) == (
                        response.code, response.headers.get("Location")):
                    public.append(f"{method} {path}")
                    continue
            wrong.append(f"{method} {path} -> {response.code} ({route.name})")
    assert tried > 80, tried
    assert len(unservable) <= 4, unservable
    assert len(public) <= 6, public
    assert not wrong, "guests reached routes outside the allowlist:\n" + "\n".join(wrong)
    assert not minted, minted


async def test_patch_me_does_not_make_a_guest_a_member(huddle, write_notebook):
    write_notebook("shared.ipynb", ["print('shared')"])
    write_notebook("private.ipynb", ["secret = 42"])
    guest, room, _ = await guest_in(huddle, "shared.ipynb", "viewer", "Mallory")

    patched = await guest.request("PATCH", "api/me", {"name": "Mallory", "color": "#ff0000"})
    assert patched.code == 403, patched.body
    assert not login_cookies(patched)
    assert not [c for c in guest.cookies if c.startswith(LOGIN_COOKIE_PREFIX)]

    me = await guest.json("GET", "api/me")
    assert me["identity"]["username"].startswith("guest-")
    for method, path in [("GET", "api/contents/private.ipynb"), ("GET", "api/contents"),
                         ("POST", "api/kernels"), ("GET", "api/sessions"),
                         ("GET", f"files/{quote('private.ipynb')}")]:
        response = await guest.request(method, path)
        assert response.code == 403, (method, path, response.code)
        assert not login_cookies(response)

    # The link is revoked: the guest cookie opens nothing, and there is nothing else.
    link_id = (await huddle.request("GET", f"api/huddle/links/{room}"))
    (link,) = json.loads(link_id.body)["links"]
    assert (await huddle.request("DELETE", f"api/huddle/links/{room}/{link['id']}")).code == 200
    after = await guest.request("GET", "api/contents")
    assert after.code in (401, 403), after.code
    assert (await guest.request("GET", "api/me")).code in (401, 403)
