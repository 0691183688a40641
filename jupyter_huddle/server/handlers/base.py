"""What every Huddle handler shares: core errors answered with the one error map.

A handler method lets a core error (``CollabError``) through; Tornado then calls
``log_exception`` and ``write_error``, both public hooks, which this mixin gives the mapped
status, message and ``Retry-After`` (see ``server/errors.py``). Handlers never translate
core errors themselves.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from tornado import web

from ...collab.errors import CollabError
from ...collab.sync.connection import UserInfo
from ..access import user_info
from ..errors import http_error, retry_after
from .bodies import json_object

log = logging.getLogger(__name__)


class CoreErrors(web.RequestHandler):
    """Mix in before Jupyter's handler class: ``class H(CoreErrors, APIHandler)``."""

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        if isinstance(value, CollabError):  # a refusal, not a crash: no traceback
            log.warning("%d %s %s: %s", http_error(value).status_code,
                        self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        status_code, kwargs = self.core_error_response(status_code, kwargs)
        super().write_error(status_code, **kwargs)

    def core_error_response(self, status_code: int, kwargs: dict[str, Any]
                            ) -> tuple[int, dict[str, Any]]:
        """For a core error: set its status and ``Retry-After``, and hand on its HTTP form
        (for handlers that write their own error pages). Anything else as it came."""
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if not isinstance(error, CollabError):
            return status_code, kwargs
        mapped = http_error(error)
        self.set_status(mapped.status_code)
        header = retry_after(error)
        if header is not None:
            self.set_header("Retry-After", header)
        traceback = exc_info[2] if exc_info else None
        return mapped.status_code, {**kwargs, "exc_info": (type(mapped), mapped, traceback)}


class PersonRequest(web.RequestHandler):
    """Who is acting and what they sent, as the core takes them (mix in before Jupyter's
    handler class, beside ``CoreErrors``)."""

    @property
    def user_info(self) -> UserInfo:
        """Who is acting, as the core sees them (server-stamped, never client-claimed)."""
        return user_info(self.current_user)

    def body(self) -> dict[str, Any]:
        """The request body as a JSON object (400 otherwise)."""
        return json_object(self)  # type: ignore[arg-type]  # mixed into an APIHandler
