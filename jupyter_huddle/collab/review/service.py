"""The review API's core: every comment action on a notebook, by an authenticated user.

It opens the notebook's room (the same one its editors are in), applies the change to
the comments root as the server, and reports the action for the audit log. Who may do
what beyond authorship (read, comment) is decided by the caller; authorship is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..access.errors import TooManyAttempts
from ..access.limiter import RateLimiter
from ..access.users import KnownUsers
from ..documents.notebook import NotebookDocument
from ..files.backend import FileBackend
from ..ids import DocumentRoomId
from ..sync.connection import UserInfo
from ..sync.room import Room
from .anchors import AnchorRequest
from .errors import CommentError, TooManyActions, TooManyThreads
from .threads import Comments, mentions

T = TypeVar("T")
Audit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ReviewLimits:
    """What one person (a guest with a link included) can make a notebook hold."""

    max_threads_per_notebook: int = 5000
    max_threads_per_person: int = 500
    # Writes (threads, replies, edits, deletions, status and suggestion decisions) per
    # person per minute, server-wide.
    actions_per_minute: int = 60


class Rooms(Protocol):
    """What the service needs of the rooms (``RoomManager``): a notebook's room held loaded
    while it works, and where its file is."""

    @property
    def backend(self) -> FileBackend:
        """The file backend, to name a notebook's path in audit events."""

    async def lease(self, room_id: DocumentRoomId) -> Room:
        """Open the notebook's room (or reuse it) and keep it loaded until ``release``."""

    def release(self, room_id: DocumentRoomId) -> None:
        """Let go of a room taken with ``lease``."""


class ReviewService:
    """Review threads of notebooks: every write rate-limited per person, bounded and audited."""

    def __init__(self, rooms: Rooms, users: KnownUsers, audit: Audit,
                 limits: ReviewLimits | None = None) -> None:
        self.rooms = rooms
        self.users = users
        self.audit = audit
        self.limits = limits or ReviewLimits()
        self._rate = RateLimiter(max_failures=self.limits.actions_per_minute, window_s=60.0)

    def _count_action(self, user: UserInfo) -> None:
        """One more write by this person, or a refusal if they write too fast.

        Raises:
            TooManyActions: the person made ``actions_per_minute`` writes in the last minute.
        """
        try:
            self._rate.check(user.username)
        except TooManyAttempts as err:
            raise TooManyActions(err.retry_after_s) from err
        self._rate.failed(user.username)  # (the limiter counts any event; here: a write)

    def _check_room_for_thread(self, comments: Comments, user: UserInfo) -> None:
        """Raises TooManyThreads if the notebook, or this person on it, is at its bound."""
        held = len(comments.root)
        if held >= self.limits.max_threads_per_notebook:
            raise TooManyThreads(f"this notebook holds {held} review threads, the most it "
                                 "may: resolve and delete some first")
        cap = self.limits.max_threads_per_person
        # counting one person's threads reads every thread: only when it could matter
        if held >= cap and comments.count_threads_by(user.username) >= cap:
            raise TooManyThreads(f"you started {cap} threads on this notebook, the most "
                                 "one person may: delete some first")

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
        """Every thread of the notebook, and the ids of those mentioning ``user`` unread.

        Raises:
            DocumentNotFound: no such notebook.
            CommentError: the document is not a notebook.
        """
        def listing(comments: Comments) -> dict[str, Any]:
            threads = comments.threads()
            return {"threads": threads,
                    "unread_mentions": comments.unread_mentions(user.username, threads)}

        return await self._on(room_id, user, listing)

    async def create(self, room_id: DocumentRoomId, user: UserInfo, anchor: AnchorRequest,
                     body: Any, suggestion: str | None) -> dict[str, Any]:
        """Open a thread at ``anchor`` (with a suggested replacement, if given); return it.

        Raises:
            TooManyActions: the person writes too fast.
            TooManyThreads: the notebook, or this person on it, holds as many threads as allowed.
            DocumentNotFound: no such notebook.
            CommentError: a bad anchor, body or suggestion.
        """
        self._count_action(user)
        handles = self.users.handles()

        def create(comments: Comments) -> dict[str, Any]:
            self._check_room_for_thread(comments, user)
            return comments.create(user, anchor, body, handles, suggestion)

        thread = await self._on(room_id, user, create)
        await self._report(room_id, "created", user, thread, thread["id"],
                           thread["messages"][0]["id"], thread.get("mentions"))
        return thread

    async def reply(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                    body: Any) -> dict[str, Any]:
        """Add a message to a thread; return the message.

        Raises:
            TooManyActions: the person writes too fast.
            DocumentNotFound: no such notebook.
            CommentError: no such thread, or a bad body.
        """
        self._count_action(user)
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
        """Change the text of the user's own message; return the thread.

        Raises:
            TooManyActions: the person writes too fast.
            DocumentNotFound: no such notebook.
            CommentError: no such thread or message, not its author, or a bad body.
        """
        self._count_action(user)
        thread = await self._on(room_id, user,
                                lambda c: c.edit(thread_id, message_id, user, body))
        await self._report(room_id, "edited", user, thread, thread_id, message_id)
        return thread

    async def delete(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                     message_id: str) -> bool:
        self._count_action(user)

        def delete(comments: Comments) -> tuple[dict[str, Any], bool]:
            thread = comments.thread(thread_id)
            return thread, comments.delete(thread_id, message_id, user)

        thread, thread_gone = await self._on(room_id, user, delete)
        await self._report(room_id, "deleted", user, thread, thread_id, message_id)
        return thread_gone

    async def set_status(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                         status: str) -> dict[str, Any]:
        """Resolve or reopen a thread (``status``: ``open`` or ``resolved``); return it.

        Raises:
            TooManyActions: the person writes too fast.
            DocumentNotFound: no such notebook.
            CommentError: no such thread, or another status.
        """
        self._count_action(user)
        thread = await self._on(room_id, user, lambda c: c.set_status(thread_id, user, status))
        await self._report(room_id, "resolved" if status == "resolved" else "reopened", user,
                           thread, thread_id)
        return thread

    async def decide(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str,
                     accept: bool) -> dict[str, Any]:
        """Accept or reject a thread's suggestion; return the thread.

        Raises:
            TooManyActions: the person writes too fast.
            DocumentNotFound: no such notebook.
            CommentError: no such thread, no open suggestion, or its text is gone.
        """
        self._count_action(user)
        thread = await self._on(room_id, user, lambda c: c.decide(thread_id, user, accept))
        await self._report(room_id, "suggestion_accepted" if accept else "suggestion_rejected",
                           user, thread, thread_id)
        return thread

    async def mark_read(self, room_id: DocumentRoomId, user: UserInfo, thread_id: str) -> None:
        """Record that a person mentioned in the thread has opened it.

        Raises:
            DocumentNotFound: no such notebook.
            UnknownThread: no such thread.
        """
        await self._on(room_id, user, lambda c: c.mark_read(thread_id, user))
