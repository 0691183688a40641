"""Review threads of a notebook, kept in its ``comments`` root.

Only the server writes that root (``collab/sync/guard.py`` undoes a peer's attempt), so every
message carries the author and time the server stamped. Where each thread points is in
``anchors.py``; how threads are saved in the notebook file, in ``saved.py``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pycrdt import Array, Map, Text

from ..documents.notebook import NotebookDocument
from ..documents.values import plain
from ..origins import ServerOrigin
from ..sync.connection import UserInfo
from .anchors import AnchorRequest, cells_by_id, find_cell, make_anchor, resolve_anchor
from .errors import CommentError, NotAuthor, TooLarge, UnknownThread
from .positions import PositionCache, byte_offset, index_to_utf16, utf16_to_index

COMMENTS = ServerOrigin.COMMENTS
MAX_BODY_CHARS = 20_000  # one message; a 1 MB body is refused, not truncated
_POSITIONS = "review.positions"  # the position cache's key in ``NotebookDocument.caches``
MENTION = re.compile(r"(?<![\w@])@(\w[\w.\-]{0,63})")


def position_cache(document: NotebookDocument) -> PositionCache:
    """Where anchors are in each cell's text, kept on the document (for as long as it lives
    and the text does not change) for every listing, save and change to come."""
    cache = document.caches.get(_POSITIONS)
    if not isinstance(cache, PositionCache):
        cache = document.caches[_POSITIONS] = PositionCache(document.cells)
    return cache


def _author(user: UserInfo) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name or user.username,
            "color": user.color}


def _check_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise CommentError("the message body must be non-empty text")
    if len(body) > MAX_BODY_CHARS:
        raise TooLarge(f"a message may have at most {MAX_BODY_CHARS} characters")
    return body


class Comments:
    """Threads of one notebook. Every change is one transaction with the COMMENTS origin."""

    def __init__(self, document: NotebookDocument) -> None:
        self.document = document
        self.root: Map[Any] = document.doc.get("comments", type=Map)
        self.positions = position_cache(document)

    def _thread(self, thread_id: str) -> Map[Any]:
        thread = self.root.get(thread_id)
        if not isinstance(thread, Map):
            raise UnknownThread(f"no thread {thread_id}")
        return thread

    def threads(self) -> list[dict[str, Any]]:
        """Every thread as plain JSON with where its anchor is now, in notebook order
        (orphaned threads last, each group by creation time)."""
        result = []
        cache = self.positions
        cells = cells_by_id(self.document)
        order = {str(c.get("id")): i for i, c in enumerate(self.document.cells)
                 if isinstance(c, Map)}
        for thread_id in list(self.root.keys()):
            thread = self.root.get(thread_id)
            if isinstance(thread, Map):
                value = plain(thread)
                value["position"] = resolve_anchor(self.document, value.get("anchor", {}),
                                                   cache, cells)
                result.append(value)

        def place(thread: dict[str, Any]) -> tuple[int, int, float]:
            cell = order.get(str(thread.get("anchor", {}).get("cell_id")), len(order))
            return cell, int(thread["position"].get("start", 0)), float(thread["created"])

        return sorted(result, key=place)

    def thread(self, thread_id: str) -> dict[str, Any]:
        """One thread as plain JSON, with where its anchor is now.

        Raises:
            UnknownThread: there is none with that id.
        """
        value: dict[str, Any] = plain(self._thread(thread_id))
        value["position"] = resolve_anchor(self.document, value.get("anchor", {}),
                                           self.positions)
        return value

    def create(self, user: UserInfo, anchor: AnchorRequest, body: Any,
               known_users: Mapping[str, str], suggestion: str | None = None) -> dict[str, Any]:
        """Open a thread (first message, mentions, optional suggestion); return it as JSON.

        Raises:
            CommentError: a bad anchor or body, or a suggestion not on a text range or too long.
        """
        text = _check_body(body)
        stored_anchor = make_anchor(self.document, anchor, self.positions)
        if suggestion is not None and (anchor.kind != "text" or len(suggestion) > MAX_BODY_CHARS):
            raise CommentError("a suggestion replaces a text range and fits one message")
        now, thread_id = time.time(), uuid.uuid4().hex
        message = self._message(user, text, now)
        thread: dict[str, Any] = {
            "id": thread_id, "anchor": stored_anchor, "status": "open", "created": now,
            "author": _author(user), "resolved_by": None, "resolved_at": None,
            "mentions": mentions(text, known_users), "read_by": [user.username],
            "suggestion": None if suggestion is None else {
                "text": suggestion, "state": "open", "decided_by": None, "decided_at": None},
        }
        with self.document.doc.transaction(origin=COMMENTS):
            self.root[thread_id] = Map({**thread, "messages": Array([message])})
        return self.thread(thread_id)

    @staticmethod
    def _message(user: UserInfo, body: str, now: float) -> dict[str, Any]:
        return {"id": uuid.uuid4().hex, "author": _author(user), "body": body,
                "created": now, "edited": None}

    def reply(self, thread_id: str, user: UserInfo, body: Any,
              known_users: Mapping[str, str]) -> dict[str, Any]:
        """Append a message to a thread (mentions reset its readers); return the message.

        Raises:
            UnknownThread: no such thread.
            CommentError: the body is empty or too long.
        """
        text = _check_body(body)
        thread = self._thread(thread_id)
        message = self._message(user, text, time.time())
        with self.document.doc.transaction(origin=COMMENTS):
            thread["messages"].append(message)
            found = mentions(text, known_users)
            if found:
                thread["mentions"] = sorted(set(thread.get("mentions") or []) | set(found))
                thread["read_by"] = [user.username]
        return message

    def _message_at(self, thread: Map[Any], message_id: str, user: UserInfo) -> int:
        for index, message in enumerate(thread["messages"]):
            if message.get("id") == message_id:
                if message.get("author", {}).get("username") != user.username:
                    raise NotAuthor("only its author may change a message")
                return index
        raise UnknownThread(f"no message {message_id}")

    def edit(self, thread_id: str, message_id: str, user: UserInfo,
             body: Any) -> dict[str, Any]:
        """Replace the text of the user's own message; return the thread.

        Raises:
            UnknownThread: no such thread or message.
            NotAuthor: the message is someone else's.
            CommentError: the body is empty or too long.
        """
        text = _check_body(body)
        thread = self._thread(thread_id)
        index = self._message_at(thread, message_id, user)
        with self.document.doc.transaction(origin=COMMENTS):
            message = dict(thread["messages"][index])
            message.update(body=text, edited=time.time())
            del thread["messages"][index]
            thread["messages"].insert(index, message)
        return self.thread(thread_id)

    def delete(self, thread_id: str, message_id: str, user: UserInfo) -> bool:
        """Delete your message; the thread goes with its last message. True if it did."""
        thread = self._thread(thread_id)
        index = self._message_at(thread, message_id, user)
        with self.document.doc.transaction(origin=COMMENTS):
            del thread["messages"][index]
            if len(thread["messages"]) == 0:
                del self.root[thread_id]
                return True
        return False

    def set_status(self, thread_id: str, user: UserInfo, status: str) -> dict[str, Any]:
        """Resolve (recording who and when) or reopen a thread; return it.

        Raises:
            UnknownThread: no such thread.
            CommentError: ``status`` is neither ``open`` nor ``resolved``.
        """
        if status not in ("open", "resolved"):
            raise CommentError("status must be open or resolved")
        thread = self._thread(thread_id)
        resolved = status == "resolved"
        with self.document.doc.transaction(origin=COMMENTS):
            thread["status"] = status
            thread["resolved_by"] = _author(user) if resolved else None
            thread["resolved_at"] = time.time() if resolved else None
        return self.thread(thread_id)

    def decide(self, thread_id: str, user: UserInfo, accept: bool) -> dict[str, Any]:
        """Accept (apply the replacement as one edit) or reject a thread's suggestion.

        Raises:
            CommentError: no open suggestion, or its text is gone.
        """
        thread = self._thread(thread_id)
        suggestion = thread.get("suggestion")
        if not isinstance(suggestion, dict) or suggestion.get("state") != "open":
            raise CommentError("this thread has no open suggestion")
        decided = {**suggestion, "state": "accepted" if accept else "rejected",
                   "decided_by": _author(user), "decided_at": time.time()}
        with self.document.doc.transaction(origin=COMMENTS):
            if accept:
                anchor = plain(thread).get("anchor", {})
                start = self._replace_range(anchor, str(suggestion["text"]))
                # The thread now points at the text it put there, which keeps its quote.
                replacement = str(suggestion["text"])
                thread["anchor"] = make_anchor(self.document, AnchorRequest(
                    str(anchor["cell_id"]), "text", start,
                    start + index_to_utf16(replacement, len(replacement))))
            thread["suggestion"] = decided
            if accept:
                thread["status"] = "resolved"
                thread["resolved_by"] = _author(user)
                thread["resolved_at"] = decided["decided_at"]
        return self.thread(thread_id)

    def _replace_range(self, anchor: dict[str, Any], replacement: str) -> int:
        """Put ``replacement`` where the anchor's range is; return its UTF-16 start."""
        position = resolve_anchor(self.document, anchor, self.positions)
        if position["state"] != "attached" or anchor.get("kind") != "text":
            raise CommentError("the suggested text range is gone; it cannot be applied")
        ycell = find_cell(self.document, str(anchor["cell_id"]))
        source = ycell.get("source") if ycell is not None else None
        if not isinstance(source, Text):
            raise CommentError("the suggested text range is gone; it cannot be applied")
        text = str(source)
        first = utf16_to_index(text, position["start"])
        last = utf16_to_index(text, position["end"])
        start_byte = byte_offset(text, first)
        length = byte_offset(text, last) - start_byte
        if length:
            del source[start_byte:start_byte + length]
        source.insert(start_byte, replacement)
        return int(position["start"])

    def set_anchors(self, anchors: Mapping[str, dict[str, Any]]) -> None:
        """Point these threads (by id) at new anchors, in one transaction.

        Raises:
            UnknownThread: one of them is gone.
        """
        if anchors:
            with self.document.doc.transaction(origin=COMMENTS):
                for thread_id, anchor in anchors.items():
                    self._thread(thread_id)["anchor"] = anchor

    def count_threads_by(self, username: str) -> int:
        """How many threads ``username`` started on this notebook."""
        return sum(1 for thread in self.root.values() if isinstance(thread, Map) and (
            (thread.get("author") or {}).get("username") == username))

    def mark_read(self, thread_id: str, user: UserInfo) -> None:
        """Record that a mentioned person opened the thread (for anyone else it means
        nothing, and is not written: the list grows only with the thread's mentions)."""
        thread = self._thread(thread_id)
        readers = list(thread.get("read_by") or [])
        if user.username in (thread.get("mentions") or []) and user.username not in readers:
            with self.document.doc.transaction(origin=COMMENTS):
                thread["read_by"] = [*readers, user.username]

    def unread_mentions(self, username: str,
                        threads: list[dict[str, Any]] | None = None) -> list[str]:
        """Ids of threads that mention ``username`` and they have not opened since
        (``threads``: a listing already made)."""
        return [t["id"] for t in (self.threads() if threads is None else threads)
                if username in (t.get("mentions") or []) and username not in (
                    t.get("read_by") or [])]


def mentions(body: str, known_users: Mapping[str, str]) -> list[str]:
    """Usernames @mentioned in ``body``; ``known_users`` maps handles (lower case) to
    usernames."""
    handles = {name.rstrip(".-").lower() for name in MENTION.findall(body)}
    return sorted({known_users[h] for h in handles if h in known_users})
