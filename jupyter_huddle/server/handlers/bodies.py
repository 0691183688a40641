"""Request bodies of Huddle's REST routes: a JSON object, or a clear 400."""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web


def json_object(handler: APIHandler) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        web.HTTPError: 400 when it is not JSON, or not an object.
    """
    try:
        body = handler.get_json_body()
    except web.HTTPError:
        raise web.HTTPError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPError(400, "the body must be a JSON object")
    return body
