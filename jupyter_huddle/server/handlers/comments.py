"""REST routes of review threads (all logic is in ``collab.review``).

- ``GET  /api/huddle/comments/{document_id}``: threads in notebook order, with where each
  anchor is now, and the ids of threads that mention you unread.
- ``POST /api/huddle/comments/{document_id}``: ``{anchor: {cell_id, kind: text|cell|output,
  start?, end?, output_index?}, body, suggestion?}`` starts a thread (201).
- ``POST .../{thread_id}/messages``: ``{body}`` replies (201).
- ``PATCH`` / ``DELETE .../{thread_id}/messages/{message_id}``: edit / delete your message.
- ``POST .../{thread_id}/status``: ``{status: open|resolved}``.
- ``POST .../{thread_id}/suggestion``: ``{decision: accept|reject}``.
- ``POST .../{thread_id}/read``: mark the thread's mentions of you read.
- ``GET  /api/huddle/users``: who can be @mentioned.

Reading needs the ``read`` capability on the notebook, writing ``comment``, accepting a
suggestion ``edit`` (server/access.py decides: owners through the server's authorizer,
everyone else by role); editing or deleting a message only its author. Offsets are UTF-16
code units into the cell's source, as browsers count.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.roles import Capability
from ...collab.access.users import KnownUsers
from ...collab.ids import DocumentRoomId
from ...collab.review import AnchorRequest, ReviewService
from ..access import ServerAccess
from .base import CoreErrors, PersonRequest
from .ids import parse_document_id

_ID = r"[0-9a-f]{32}"


def routes(review: ReviewService, access: ServerAccess
           ) -> list[tuple[str, type[APIHandler], dict[str, Any]]]:
    """The review routes, each with its handler and ``initialize`` arguments."""
    base = r"/api/huddle/comments/([^/]+)"
    args = {"review": review, "access": access}
    return [
        (base, ThreadsHandler, args),
        (rf"{base}/({_ID})/messages", MessagesHandler, args),
        (rf"{base}/({_ID})/messages/({_ID})", MessageHandler, args),
        (rf"{base}/({_ID})/(status|suggestion|read)", ThreadActionHandler, args),
        (r"/api/huddle/users", UsersHandler, {"users": review.users, "access": access}),
    ]


class ReviewHandler(CoreErrors, PersonRequest, APIHandler):
    """The review routes' shared set-up: the notebook, who acts, and their rights."""

    auth_resource = "contents"

    def initialize(self, review: ReviewService, access: ServerAccess) -> None:
        self.review = review
        self.access = access

    def require(self, capability: Capability, room_id: DocumentRoomId) -> None:
        """Refuse the request unless the user has ``capability`` on the notebook.

        Raises:
            web.HTTPError: 403, saying what the user may not do.
        """
        self.access.require(self, capability, room_id.file_id)


    def document(self, document_id: str) -> DocumentRoomId:
        """The notebook's room id from the URL (400 if it is not a notebook's)."""
        return parse_document_id(document_id)


def parse_anchor(raw: Any) -> AnchorRequest:
    """A new thread's anchor from the request body.

    Raises:
        web.HTTPError: 400 without a cell id, with an unknown kind, or a bad offset.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("cell_id"), str):
        raise web.HTTPError(400, "anchor must be an object with a cell_id")
    kind = raw.get("kind", "text")
    if kind not in ("text", "cell", "output"):
        raise web.HTTPError(400, "anchor.kind must be text, cell or output")
    numbers = {}
    for key in ("start", "end", "output_index"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            raise web.HTTPError(400, f"anchor.{key} must be a non-negative integer")
        numbers[key] = value
    return AnchorRequest(raw["cell_id"], kind, **numbers)


class ThreadsHandler(ReviewHandler):
    """``GET|POST /api/huddle/comments/{document_id}``: list the threads, or open one."""

    @web.authenticated
    async def get(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.require(Capability.READ, room_id)
        listing = await self.review.threads(room_id, self.user_info)
        self.finish(listing)

    @web.authenticated
    async def post(self, document_id: str) -> None:
        room_id = self.document(document_id)
        self.require(Capability.COMMENT, room_id)
        body = self.body()
        anchor = parse_anchor(body.get("anchor"))
        suggestion = body.get("suggestion")
        if suggestion is not None and not isinstance(suggestion, str):
            raise web.HTTPError(400, "suggestion must be the replacement text")
        thread = await self.review.create(room_id, self.user_info, anchor,
                                          body.get("body"), suggestion)
        self.set_status(201)
        self.finish(thread)


class MessagesHandler(ReviewHandler):
    """``POST /api/huddle/comments/{document_id}/{thread_id}/messages``: reply to a thread."""

    @web.authenticated
    async def post(self, document_id: str, thread_id: str) -> None:
        room_id = self.document(document_id)
        self.require(Capability.COMMENT, room_id)
        message = await self.review.reply(room_id, self.user_info, thread_id,
                                          self.body().get("body"))
        self.set_status(201)
        self.finish(message)


class MessageHandler(ReviewHandler):
    """``PATCH|DELETE .../{thread_id}/messages/{message_id}``: edit or delete your message."""

    @web.authenticated
    async def patch(self, document_id: str, thread_id: str, message_id: str) -> None:
        room_id = self.document(document_id)
        self.require(Capability.COMMENT, room_id)
        thread = await self.review.edit(room_id, self.user_info, thread_id, message_id,
                                        self.body().get("body"))
        self.finish(thread)

    @web.authenticated
    async def delete(self, document_id: str, thread_id: str, message_id: str) -> None:
        room_id = self.document(document_id)
        self.require(Capability.COMMENT, room_id)
        await self.review.delete(room_id, self.user_info, thread_id, message_id)
        self.set_status(204)
        self.finish()


class ThreadActionHandler(ReviewHandler):
    """``POST .../{thread_id}/status|suggestion|read``: resolve, decide, or mark read."""

    @web.authenticated
    async def post(self, document_id: str, thread_id: str, action: str) -> None:
        room_id = self.document(document_id)
        user = self.user_info
        if action == "read":
            self.require(Capability.READ, room_id)
            await self.review.mark_read(room_id, user, thread_id)
            self.set_status(204)
            self.finish()
            return
        # accepting a suggestion edits the notebook's text
        self.require(Capability.EDIT if action == "suggestion" else Capability.COMMENT,
                     room_id)
        body = self.body()
        if action == "status":
            status = body.get("status")
            if status not in ("open", "resolved"):
                raise web.HTTPError(400, "status must be open or resolved")
            thread = await self.review.set_status(room_id, user, thread_id, status)
        else:
            decision = body.get("decision")
            if decision not in ("accept", "reject"):
                raise web.HTTPError(400, "decision must be accept or reject")
            thread = await self.review.decide(room_id, user, thread_id,
                                              decision == "accept")
        self.finish(thread)


class UsersHandler(APIHandler):
    """``GET /api/huddle/users[?document_id=…]``: who can be @mentioned (owners only);
    with a notebook, only those who have access to it (a guest of another notebook's
    link, or a member the notebook's roles shut out, would never see the mention)."""

    auth_resource = "contents"

    def initialize(self, users: KnownUsers, access: ServerAccess) -> None:
        self.users = users
        self.access = access

    @web.authenticated
    def get(self) -> None:
        # Owners only: a guest learns the names of the people in their notebook's room
        # from presence, not the server's whole list.
        self.access.require(self, Capability.READ, None)
        users = self.users.all()
        document_id = self.get_query_argument("document_id", None)
        if document_id is not None:
            file_id = parse_document_id(document_id).file_id
            users = [u for u in users if self.access.access.may_read(u.username, file_id)]
        self.finish({"users": [
            {"username": u.username, "display_name": u.display_name, "color": u.color,
             "handle": u.handle} for u in users]})
