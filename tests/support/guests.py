"""Someone with a share link and no account, as a browser acts: cookies, the XSRF token
Jupyter asks for, the landing page's form; and the owner's side of sharing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from tests.conftest import Huddle
from tests.support.yclient import YClient


class Browser:
    """Someone with no account: a cookie jar, the XSRF token Jupyter asks for, no token."""

    def __init__(self, huddle: Huddle) -> None:
        self.huddle = huddle
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def request(self, method: str, path: str, body: Any = None, *,
                      form: dict[str, str] | None = None,
                      headers: dict[str, str] | None = None,
                      raw: bytes | None = None) -> HTTPResponse:
        all_headers = {"Cookie": self.cookie_header(), **(headers or {})}
        if "_xsrf" in self.cookies:
            all_headers["X-XSRFToken"] = self.cookies["_xsrf"]
        data: bytes | None = raw
        if form is not None:
            data = urlencode({**form, "_xsrf": self.cookies.get("_xsrf", "")}).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
        elif method in ("POST", "PUT", "PATCH") and data is None:
            data = b""
        # "api/..." is relative to the server's base URL; "/..." is a path from the root
        url = (f"http://127.0.0.1:{self.huddle.port}{path}" if path.startswith("/")
               else self.huddle.http_url + path)
        response = await AsyncHTTPClient().fetch(
            url, method=method, body=data, headers=all_headers,
            raise_error=False, follow_redirects=False, request_timeout=30)
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    async def json(self, method: str, path: str, body: Any = None,
                   expect: int = 200) -> Any:
        response = await self.request(method, path, body)
        assert response.code == expect, (method, path, response.code, response.body[:300])
        return json.loads(response.body) if response.body else None

    async def join(self, url: str, name: str) -> HTTPResponse:
        """Open a share link and pick a name, as the landing page's form does."""
        path = url.split(self.huddle.base_url, 1)[1]
        page = await self.request("GET", path)
        assert page.code == 200, page.body[:300]
        return await self.request("POST", path, form={"name": name})

    def client(self, room: str, session_id: str) -> YClient:
        url = (f"{self.huddle.ws_url}api/collaboration/room/{room}?"
               f"sessionId={quote(session_id)}")
        return YClient(url, headers={"Cookie": self.cookie_header()})


async def share(huddle: Huddle, path: str, role: str, **options: Any) -> tuple[str, dict]:
    room, _ = await huddle.room_id(path)
    response = await huddle.request("POST", f"api/huddle/links/{room}",
                                    {"role": role, **options})
    assert response.code == 201, response.body
    created = json.loads(response.body)
    return created["url"], created["link"]


async def guest_in(huddle: Huddle, path: str, role: str, name: str = "Student",
                   **options: Any) -> tuple[Browser, str, str]:
    url, _link = await share(huddle, path, role, **options)
    guest = Browser(huddle)
    joined = await guest.join(url, name)
    assert joined.code == 302, joined.body[:300]
    assert joined.headers["Location"].endswith(f"huddle/notebooks/{quote(path)}")
    session = await guest.json("PUT", f"api/collaboration/session/{quote(path)}",
                               {"format": "json", "type": "notebook"})
    return guest, f"json:notebook:{session['fileId']}", session["sessionId"]


async def start_kernel(huddle: Huddle, path: str) -> str:
    response = await huddle.request("POST", "api/sessions", {
        "path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}})
    assert response.code == 201, response.body
    return str(json.loads(response.body)["kernel"]["id"])


async def stop_kernels(huddle: Huddle) -> None:
    for session in json.loads((await huddle.request("GET", "api/sessions")).body):
        await huddle.request("DELETE", f"api/sessions/{session['id']}")
