"""Ids in Huddle's REST routes, parsed once at the edge into the core's types.

Every handler module that takes a document id from a URL or a body parses it here, so a
bad one gets the same 400 everywhere and nothing past the handler sees a raw string.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ...collab.errors import InvalidRoomId
from ...collab.ids import DocumentRoomId, parse_room_id


def parse_document_id(raw: Any) -> DocumentRoomId:
    """A notebook's document id (``json:notebook:<file id>``).

    Raises:
        web.HTTPError: 400 when it is not a string, not a room id, or not a notebook's.
    """
    if not isinstance(raw, str):
        raise web.HTTPError(400, "document_id must be a string like json:notebook:<file id>")
    try:
        room_id = parse_room_id(raw)
    except InvalidRoomId as err:
        raise web.HTTPError(400, f"bad document_id: {err}") from err
    if not isinstance(room_id, DocumentRoomId) or room_id.type != "notebook":
        raise web.HTTPError(400, "document_id must name a notebook (json:notebook:<file id>)")
    return room_id
