"""Review threads anchored to cells and text ranges, kept in the notebook's ``comments`` root.

Only the server writes that root (``collab/guard.py`` undoes a peer's attempt), so every
message carries the author and time the server stamped. A text anchor is a pair of CRDT
relative positions (pycrdt ``StickyIndex``, the same JSON as Yjs ``RelativePosition``), so
the range moves with everyone's edits; the quoted text is kept too, so a thread whose text
was deleted is still shown (detached), and one whose cell was deleted is kept (orphaned).

Offsets that cross this API are in UTF-16 code units, what browsers count and what sticky
indexes count; pycrdt's ``Text`` operations count UTF-8 bytes, so an edit converts.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Assoc, Map, Text

from .connection import UserInfo
from .documents.notebook import NotebookDocument
from .documents.values import plain
from .errors import CollabError
from .origins import ServerOrigin
from .text_positions import TextPositions

COMMENTS = ServerOrigin.COMMENTS
MAX_BODY_CHARS = 20_000  # one message; a 1 MB body is refused, not truncated
MAX_QUOTE_CHARS = 2_000
MENTION = re.compile(r"(?<![\w@])@(\w[\w.\-]{0,63})")


class CommentError(CollabError):
    status = 400


class UnknownThread(CommentError):
    status = 404


class NotAuthor(CommentError):
    status = 403


class TooLarge(CommentError):
    status = 413


class TooManyThreads(CommentError):
    """A notebook, or one person on it, holds as many threads as allowed."""

    status = 409


# --- offsets ----------------------------------------------------------------------------


def utf16_to_index(text: str, offset: int) -> int:
    """Python index of a UTF-16 offset into ``text``.

    Raises:
        CommentError: the offset is outside the text or inside a surrogate pair.
    """
    if text.isascii():  # one unit per character
        if not 0 <= offset <= len(text):
            raise CommentError(f"offset {offset} is outside the text ({len(text)} UTF-16 units)")
        return offset
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
        if units > offset:
            raise CommentError(f"offset {offset} splits a character")
    if units == offset:
        return len(text)
    raise CommentError(f"offset {offset} is outside the text ({units} UTF-16 units)")


def index_to_utf16(text: str, index: int) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text[:index])


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# --- anchors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorRequest:
    cell_id: str
    kind: str = "text"  # text | cell | output
    start: int | None = None  # UTF-16 offsets into the cell's source, for "text"
    end: int | None = None
    output_index: int | None = None


Cells = Mapping[str, Map[Any]]  # cells by id, for looking many anchors up (cells_by_id)


def cells_by_id(document: NotebookDocument) -> dict[str, Map[Any]]:
    """Every cell by id (the first one where ids repeat, as ``_cell`` finds it)."""
    cells: dict[str, Map[Any]] = {}
    for ycell in document.cells:
        if isinstance(ycell, Map):
            cell_id = ycell.get("id")
            if isinstance(cell_id, str):
                cells.setdefault(cell_id, ycell)
    return cells


def _cell(document: NotebookDocument, cell_id: str, cells: Cells | None = None
          ) -> Map[Any] | None:
    if cells is not None:
        return cells.get(cell_id)
    for ycell in document.cells:
        if isinstance(ycell, Map) and ycell.get("id") == cell_id:
            return ycell
    return None


def _output_quote(output: Any) -> str:
    """The first line of an output's text (what a reader recognises it by), or ""."""
    if not isinstance(output, dict):
        return ""
    if output.get("output_type") == "stream":
        text = output.get("text")
    elif output.get("output_type") == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
    else:
        text = (output.get("data") or {}).get("text/plain")
    if isinstance(text, list):
        text = "".join(str(t) for t in text)
    if not isinstance(text, str):
        return ""
    lines = text.strip().splitlines()
    return lines[0][:MAX_QUOTE_CHARS] if lines else ""


def make_anchor(document: NotebookDocument, request: AnchorRequest,
                cache: MutableMapping[str, TextPositions] | None = None,
                cells: Cells | None = None) -> dict[str, Any]:
    """The stored anchor: positions that follow edits, plus the quoted text.

    ``cache`` and ``cells`` (``cells_by_id``) serve many anchors while no text changes.

    Raises:
        CommentError: unknown cell, kind, or a range outside the cell's text.
    """
    ycell = _cell(document, request.cell_id, cells)
    if ycell is None:
        raise CommentError(f"no cell {request.cell_id}")
    anchor: dict[str, Any] = {"cell_id": request.cell_id, "kind": request.kind, "quote": ""}
    if request.kind == "cell":
        return anchor
    if request.kind == "output":
        outputs = ycell.get("outputs")
        count = len(outputs) if isinstance(outputs, Array) else 0
        if request.output_index is None or not 0 <= request.output_index < count:
            raise CommentError(f"cell {request.cell_id} has no output {request.output_index}")
        assert isinstance(outputs, Array)
        return {**anchor, "output_index": request.output_index,
                "quote": _output_quote(plain(outputs[request.output_index]))}
    if request.kind != "text":
        raise CommentError("anchor kind must be text, cell or output")
    source = ycell.get("source")
    if not isinstance(source, Text) or request.start is None or request.end is None:
        raise CommentError("a text anchor needs start and end offsets in a cell's source")
    text = str(source)
    start, end = utf16_to_index(text, request.start), utf16_to_index(text, request.end)
    if start > end:
        raise CommentError("start must not be after end")
    # The range grows with text typed at its edges' insides and not outside them.
    positions = cache.get(request.cell_id) if cache is not None else None
    if positions is None:
        positions = TextPositions(source)
        if cache is not None:
            cache[request.cell_id] = positions
    first = positions.position(request.start, Assoc.AFTER)
    last = positions.position(request.end, Assoc.BEFORE)
    return {**anchor, "start": first, "end": last,
            "quote": text[start:end][:MAX_QUOTE_CHARS]}


def resolve_anchor(document: NotebookDocument, anchor: dict[str, Any],
                   cache: MutableMapping[str, TextPositions] | None = None,
                   cells: Cells | None = None) -> dict[str, Any]:
    """Where an anchor is now: state attached | detached | orphaned, and UTF-16 offsets.

    ``cache`` keeps each cell's position map across the anchors of one listing, ``cells``
    (``cells_by_id``) finds their cells.
    """
    cell_id = str(anchor.get("cell_id"))
    ycell = _cell(document, cell_id, cells)
    if ycell is None:
        return {"state": "orphaned"}
    if anchor.get("kind") != "text":
        return {"state": "attached"}
    source = ycell.get("source")
    if not isinstance(source, Text):
        return {"state": "detached"}
    cache = {} if cache is None else cache
    positions = cache.get(cell_id)
    if positions is None:
        positions = cache[cell_id] = TextPositions(source)
    try:
        start = positions.offset(anchor["start"])
        end = max(start, positions.offset(anchor["end"]))
    except Exception:  # a position from another history (the file was rebuilt)
        return {"state": "detached"}
    if end <= start and anchor.get("quote"):
        return {"state": "detached", "start": start, "end": start}
    return {"state": "attached", "start": start, "end": end,
            "text": positions.text[positions.char_index(start):positions.char_index(end)]}


def reanchor(document: NotebookDocument, saved: dict[str, Any],
             cache: MutableMapping[str, TextPositions] | None = None,
             cells: Cells | None = None) -> dict[str, Any]:
    """Rebuild an anchor saved in a file (offsets and quote) against the live text: at the
    saved offsets if the quote is still there, else where the quote now is, else on its
    cell (the text is gone). ``cache`` and ``cells`` as for ``make_anchor``."""
    kind = saved.get("kind", "cell")
    request = AnchorRequest(str(saved.get("cell_id")), "cell")
    ycell = _cell(document, request.cell_id, cells)
    if ycell is None or kind != "text":
        if kind == "output" and ycell is not None:
            try:
                return make_anchor(document, AnchorRequest(request.cell_id, "output",
                                                           output_index=saved.get("output_index")),
                                   cache, cells)
            except CommentError:
                pass
        return {"cell_id": request.cell_id, "kind": "cell", "quote": saved.get("quote", "")}
    text = str(ycell.get("source") or "")
    quote = str(saved.get("quote", ""))
    start = saved.get("start_offset")
    try:
        if isinstance(start, int) and text[utf16_to_index(text, start):].startswith(quote):
            end = start + index_to_utf16(quote, len(quote))
            return make_anchor(document, AnchorRequest(request.cell_id, "text", start, end),
                               cache, cells)
    except CommentError:
        pass
    found = text.find(quote) if quote else -1
    if found >= 0:
        begin = index_to_utf16(text, found)
        return make_anchor(document, AnchorRequest(
            request.cell_id, "text", begin, begin + index_to_utf16(quote, len(quote))),
            cache, cells)
    return {"cell_id": request.cell_id, "kind": "cell", "quote": quote}


# --- threads ----------------------------------------------------------------------------


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

    def _thread(self, thread_id: str) -> Map[Any]:
        thread = self.root.get(thread_id)
        if not isinstance(thread, Map):
            raise UnknownThread(f"no thread {thread_id}")
        return thread

    def threads(self) -> list[dict[str, Any]]:
        """Every thread as plain JSON with where its anchor is now, in notebook order
        (orphaned threads last, each group by creation time)."""
        result = []
        cache = self.document.positions
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
                                           self.document.positions)
        return value

    def create(self, user: UserInfo, anchor: AnchorRequest, body: Any,
               known_users: Mapping[str, str], suggestion: str | None = None) -> dict[str, Any]:
        text = _check_body(body)
        stored_anchor = make_anchor(self.document, anchor, self.document.positions)
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
        position = resolve_anchor(self.document, anchor, self.document.positions)
        if position["state"] != "attached" or anchor.get("kind") != "text":
            raise CommentError("the suggested text range is gone; it cannot be applied")
        ycell = _cell(self.document, str(anchor["cell_id"]))
        source = ycell.get("source") if ycell is not None else None
        if not isinstance(source, Text):
            raise CommentError("the suggested text range is gone; it cannot be applied")
        text = str(source)
        first = utf16_to_index(text, position["start"])
        last = utf16_to_index(text, position["end"])
        start_byte = _byte_offset(text, first)
        length = _byte_offset(text, last) - start_byte
        if length:
            del source[start_byte:start_byte + length]
        source.insert(start_byte, replacement)
        return int(position["start"])

    def after_outside_edit(self, changed_cells: set[str]) -> None:
        """Another program rewrote these cells: a text anchor in one whose quoted text is no
        longer under it is moved to where the quote now is, or else to its whole cell."""
        moved: dict[str, dict[str, Any]] = {}
        for thread in self.threads():
            anchor = thread.get("anchor", {})
            position = thread["position"]
            if anchor.get("kind") != "text" or anchor.get("cell_id") not in changed_cells:
                continue
            if position.get("state") == "attached" and position.get("text") == anchor.get(
                    "quote"):
                continue
            moved[thread["id"]] = reanchor(self.document, {
                **anchor, "start_offset": position.get("start")}, self.document.positions)
        if moved:
            with self.document.doc.transaction(origin=COMMENTS):
                for thread_id, anchor in moved.items():
                    self._thread(thread_id)["anchor"] = anchor

    def count_threads_by(self, username: str) -> int:
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

    # --- the file ----------------------------------------------------------------------

    def to_metadata(self) -> list[dict[str, Any]]:
        """Threads as saved in the notebook file: anchors as offsets and the text the range
        holds now (``quote``), which is what a server without this history finds again;
        the text quoted when the thread began is kept as ``original_quote``."""
        saved = []
        for thread in self.threads():
            anchor = dict(thread.pop("anchor", {}))
            position = thread.pop("position", {})
            anchor.pop("start", None)
            anchor.pop("end", None)
            if anchor.get("kind") == "text" and "start" in position:
                anchor["start_offset"] = position["start"]
                anchor["end_offset"] = position["end"]
                if position.get("state") == "attached":
                    anchor["original_quote"] = anchor.get("quote", "")
                    anchor["quote"] = str(position.get("text", ""))[:MAX_QUOTE_CHARS]
            saved.append({**thread, "anchor": anchor})
        return saved

    def load_metadata(self, saved: Any) -> None:
        """Recreate threads from a file's metadata (a fresh server opening it)."""
        if not isinstance(saved, list):
            return
        # No text changes while the threads are added: one lookup serves every anchor.
        cache = self.document.positions
        cells = cells_by_id(self.document)
        with self.document.doc.transaction(origin=ServerOrigin.LOAD):
            for thread in saved:
                if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
                    continue
                saved_anchor = dict(thread.get("anchor") or {})
                anchor = reanchor(self.document, saved_anchor, cache, cells)
                original = saved_anchor.get("original_quote")
                if isinstance(original, str):
                    anchor["quote"] = original[:MAX_QUOTE_CHARS]  # what the thread began on
                messages = [m for m in thread.get("messages") or [] if isinstance(m, dict)]
                value = {k: v for k, v in thread.items() if k not in ("anchor", "messages")}
                self.root[thread["id"]] = Map({**value, "anchor": anchor,
                                               "messages": Array(messages)})


def mentions(body: str, known_users: Mapping[str, str]) -> list[str]:
    """Usernames @mentioned in ``body``; ``known_users`` maps handles (lower case) to
    usernames."""
    handles = {name.rstrip(".-").lower() for name in MENTION.findall(body)}
    return sorted({known_users[h] for h in handles if h in known_users})
