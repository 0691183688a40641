"""The one error map (server/errors.py): every core error the package defines has a
deliberate HTTP status, and a handler answers a core error with it."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application, RequestHandler

import jupyter_huddle
from jupyter_huddle.collab.access.errors import BadToken, InvalidLinkRequest, TooManyAttempts
from jupyter_huddle.collab.errors import CollabError, DocumentNotFound, SaveError
from jupyter_huddle.collab.review.errors import TooLarge, TooManyActions, UnknownThread
from jupyter_huddle.kernels.errors import NotebookQueueFull, PersonQueueFull, StaleSource
from jupyter_huddle.server.errors import HTTP_STATUSES, http_error, http_status, retry_after
from jupyter_huddle.server.handlers.base import CoreErrors


def all_core_errors() -> set[type[CollabError]]:
    for module in pkgutil.walk_packages(jupyter_huddle.__path__, "jupyter_huddle."):
        if ".static" not in module.name:
            importlib.import_module(module.name)
    found: set[type[CollabError]] = set()
    todo = [CollabError]
    while todo:
        kind = todo.pop()
        found.add(kind)
        todo.extend(kind.__subclasses__())
    return found


def test_every_core_error_has_a_deliberate_status_and_none_carries_one() -> None:
    for kind in all_core_errors():
        assert "status" not in vars(kind), f"{kind.__name__} carries an HTTP status"
        if kind is not CollabError:
            assert any(issubclass(kind, mapped) for mapped, _ in HTTP_STATUSES), (
                f"{kind.__module__}.{kind.__name__} is not in the map")


@pytest.mark.parametrize(("error", "status"), [
    (DocumentNotFound("gone"), 404), (UnknownThread("no"), 404), (TooLarge("big"), 413),
    (StaleSource("edited"), 409), (BadToken("bad"), 403), (InvalidLinkRequest("x"), 400),
    (TooManyAttempts(2.5), 429), (TooManyActions(0.2), 429),
    (PersonQueueFull("mine", 3.0), 429), (NotebookQueueFull("all", None), 503),
    (SaveError("disk"), 500),
])
def test_statuses(error: CollabError, status: int) -> None:
    assert http_status(error) == status
    assert http_error(error).log_message == str(error)


def test_retry_after_is_whole_seconds_and_only_when_known() -> None:
    assert retry_after(TooManyAttempts(2.5)) == "3"
    assert retry_after(TooManyActions(0.2)) == "1"
    assert retry_after(NotebookQueueFull("all", None)) is None
    assert retry_after(DocumentNotFound("gone")) is None


class Refusing(CoreErrors, RequestHandler):
    def get(self) -> None:
        raise PersonQueueFull("you have 5 cells queued (50% of the cap)", 1.5)


async def test_a_handler_answers_a_core_error_with_the_map() -> None:
    sock, port = bind_unused_port()
    server = HTTPServer(Application([(r"/", Refusing)]))
    server.add_sockets([sock])
    try:
        response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/", raise_error=False)
    finally:
        server.stop()
        await server.close_all_connections()
    assert response.code == 429
    assert response.headers["Retry-After"] == "2"
    assert b"Too Many Requests" in response.body
