"""The review API's core: every comment action on a notebook, by an authenticated user.

It opens the notebook's room (the same one its editors are in), applies the change to
the comments root as the server, and reports the action for the audit log. Who may do
what beyond authorship (read, comment) is decided by the caller; authorship is here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .comments import AnchorRequest, CommentError, Comments, mentions
from .connection import UserInfo
from .documents.notebook import NotebookDocument
from .ids import DocumentRoomId
from .manager import RoomManager
from .users import KnownUsers

T = TypeVar("T")
Audit = Callable[[dict[str, Any]], None]


class ReviewService:
    def __init__(self, rooms: RoomManager, users: KnownUsers, audit: Audit) -> None:
        self.rooms = rooms
        self.users = users
        self.audit = audit

    async def _on(self, room_id: DocumentRoomId, user: UserInfo,
                  change: Callable[[Comments], T]) -> T:
        """Run ``change`` on the notebook's threads with its room loaded.

        Raises:
            DocumentNotFound: no such notebook.
            CommentError: the change is refused (nothing was written).
        """
        self.users.saw(user)
        room = await self.rooms.lease(room_id)
        try:
            document = room.document
            if not isinstance(document, NotebookDocument):
                raise CommentError(f"{room_id} is not a notebook")
            return change(Comments(document))
        finally:
            self.rooms.release(room_id)

    async def _report(self, room_id: DocumentRoomId, action: str, user: UserInfo,
                      thread: dict[str, Any] | None, thread_id: str,
                      message_id: str | None = None, mentioned: list[str] | None = None
                      ) -> None:
        cell_id = (thread or {}).get("anchor", {}).get("cell_id")
        event: dict[str, Any] = {
            "action": action, "username": user.username, "document_id": str(room_id),
            "thread_id": thread_id, "message_id": message_id, "cell_id": cell_id,
            "mentions": mentioned or [],
        }
        path = await self.rooms.backend.path_for(room_id.file_id)
        if path:
            event["path"] = path
        self.audit(event)

    async def threads(self, room_id: DocumentRoomId, user: UserInfo) -> dict[str, Any]:
        def listing(comments: Comments) -> dict[str, Any]:
            threads = comments.threads()
            return {"threads": threads,
                    "unread_mentions": comments.unread_mentions(user.username, threads)}

        return await self._on(room_id, user, listing)

    async def create(self, room_id: DocumentRoomId, user: UserInfo, anchor: AnchorRequest,
                     body: Any, suggestion: str | None) -> dict[str, Any]:
        handles = self.users.handles()
        thread = await self._on(room_id, user, lambda c: c.create(
            user, anchor, body, handles, suggestion))
        await self._report(room_id, "created", user, thread, thread["id"],
                           thread["messages"][0]["id"], thread.get("mentions"))
        return thread

    async def reply(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                    body: Any) -> dict[str, Any]:
        handles = self.users.handles()

        def reply(comments: Comments) -> tuple[dict[str, Any], dict[str, Any]]:
            message = comments.reply(thread_id, user, body, handles)
            return message, comments.thread(thread_id)

        message, thread = await self._on(room_id, user, reply)
        await self._report(room_id, "replied", user, thread, thread_id, message["id"],
                           mentions(message["body"], handles))
        return message

    async def edit(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                   message_id: str, body: Any) -> dict[str, Any]:
        thread = await self._on(room_id, user,
                                lambda c: c.edit(thread_id, message_id, user, body))
        await self._report(room_id, "edited", user, thread, thread_id, message_id)
        return thread

    async def delete(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                     message_id: str) -> bool:
        def delete(comments: Comments) -> tuple[dict[str, Any], bool]:
            thread = comments.thread(thread_id)
            return thread, comments.delete(thread_id, message_id, user)

        thread, thread_gone = await self._on(room_id, user, delete)
        await self._report(room_id, "deleted", user, thread, thread_id, message_id)
        return thread_gone

    async def set_status(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                         status: str) -> dict[str, Any]:
        thread = await self._on(room_id, user, lambda c: c.set_status(thread_id, user, status))
        await self._report(room_id, "resolved" if status == "resolved" else "reopened", user,
                           thread, thread_id)
        return thread

    async def decide(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                     accept: bool) -> dict[str, Any]:
        thread = await self._on(room_id, user, lambda c: c.decide(thread_id, user, accept))
        await self._report(room_id, "suggestion_accepted" if accept else "suggestion_rejected",
                           user, thread, thread_id)
        return thread

    async def mark_read(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str) -> None:
        await self._on(room_id, user, lambda c: c.mark_read(thread_id, user))
