"""Copies of a document that belong to another history, and the tabs that hold them.

A room's history can be rebuilt from its file (the update store was lost): every client
that still holds a copy of the old history would, merged in, duplicate every cell. Such a
copy is told apart in two ways: its session id names an older epoch, or (whatever session id
it presents: programs re-request sessions) its state vector shares no client with the
room's history (``foreign_history``) and its first update brings cells or text
(``holds_content``: a client that only set up metadata before its first sync merges). A
client that made offline edits on top of the current history shares the room's clients,
and merges.

A stale copy is never merged. Its content is kept as a recovery file next to the document
(nothing its holder typed vanishes), and its tab is told to reload (1003). Browsers
reconnect at once after a socket that opened is closed, and JupyterLab shows one dialog per
1003: so ``StaleTabs`` remembers refused tabs for a while and refuses their next attempts
before the websocket upgrade, which costs nothing and makes y-websocket back off.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import posixpath
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from ..documents.base import SharedDocument
from ..errors import CollabError
from .close_codes import CloseCode
from .codec import encode_raw
from .connection import Connection
from .update_inspect import StateVector

log = logging.getLogger(__name__)

# Who a refused tab is: (username, room id, the session id it presents).
TabKey = tuple[str, str, str]
# Writes a stale copy next to its document (at the path given, or a new one); returns
# the path written, or "" when the copy holds nothing the document does not.
SaveCopy = Callable[[bytes, str | None], Awaitable[str]]
# Empty: the transport says "reload" its usual way (JupyterLab: "Session expired. Reload
# the browser tab to continue.").
RELOAD_MESSAGE = ""


def holds_content(update: bytes, document: SharedDocument) -> bool:
    """Whether an update brings content of the document's own kind (cells, text), rather
    than only what a client sets up before its first sync (metadata, state)."""
    scratch: Doc[Any] = Doc()
    try:
        scratch.apply_update(update)
        return document.holds_content(scratch)
    except Exception:  # yrs and pycrdt raise plain errors on odd roots: not ours to merge
        return True


def foreign_history(client: StateVector, room: StateVector) -> bool:
    """A copy holding content, none of it from a client the room's history knows: it does
    not build on this history, and merging it would duplicate the document."""
    holds = [client_id for client_id, clock in client.items() if clock > 0]
    return bool(holds) and not any(room.get(client_id, 0) > 0 for client_id in holds)


@dataclass
class _Refusal:
    until: float
    # What the tab's copy held when last kept (to tell new typing from the same copy).
    digest: str = ""
    recovery_path: str = ""


class StaleTabs:
    """Tabs recently refused as stale, refused again without an upgrade until ``retry_s``
    has passed (then one attempt goes through, so that what was typed meanwhile is kept).

    At most ``max_tabs`` are remembered (the oldest forgotten first): a forgotten tab only
    costs one more upgrade.
    """

    def __init__(self, retry_s: float, max_tabs: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_s = retry_s
        self.max_tabs = max_tabs
        self._clock = clock
        self._tabs: OrderedDict[TabKey, _Refusal] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tabs)

    def refusing(self, key: TabKey) -> bool:
        """Whether an attempt by this tab is refused now, before any upgrade."""
        refusal = self._tabs.get(key)
        return refusal is not None and self._clock() < refusal.until

    def refused(self, key: TabKey) -> None:
        """The tab was just refused: hold its next attempts back for ``retry_s``."""
        refusal = self._tabs.pop(key, None) or _Refusal(0.0)
        refusal.until = self._clock() + self.retry_s
        self._tabs[key] = refusal
        while len(self._tabs) > self.max_tabs:
            self._tabs.popitem(last=False)

    def kept(self, key: TabKey, digest: str) -> tuple[str, bool]:
        """The recovery path used for this tab so far, and whether ``digest`` (its copy
        now) differs from what was kept last time (something new was typed)."""
        refusal = self._tabs.get(key)
        if refusal is None:
            return "", True
        return refusal.recovery_path, refusal.digest != digest

    def remember(self, key: TabKey, digest: str, path: str) -> None:
        """Record the copy's ``digest`` and the recovery ``path`` kept for this tab."""
        refusal = self._tabs.get(key)
        if refusal is None:
            refusal = self._tabs[key] = _Refusal(0.0)
        refusal.digest, refusal.recovery_path = digest, path

    async def keep(self, peer: Connection, room: str, copy: bytes | None,
                   save: SaveCopy, *, by_session: bool) -> None:
        """Keep what a held peer's copy holds (once per new content), close it, and hold
        its next attempts back.

        It is told to reload (1003) with where its edits are, or, when its copy holds
        nothing new since it was last kept, closed without a new prompt (4409).

        A tab that presents an old session (a browser tab open across the rebuild) is told
        at once, and its next attempts are refused before the upgrade: no new tab presents
        an old session. One whose session is current (a program that asked again, keeping
        its old document) cannot be told from a fresh tab of the same person before the
        upgrade: it is kept waiting on its open socket for ``retry_s`` instead, which backs
        it off as well.
        """
        key = (peer.user.username, room, peer.session_id or "")
        code, message = CloseCode.RELOAD, RELOAD_MESSAGE
        if copy is not None:
            digest = hashlib.sha256(copy).hexdigest()
            path, new = self.kept(key, digest)
            if not new:
                code = CloseCode.STALE_COPY
            else:
                try:
                    path = await save(copy, path or None)
                except CollabError as err:
                    log.error("could not keep a stale copy of %s from %r: %s", room, peer, err)
                    path = ""
                self.remember(key, digest, path)
            if path:
                # the close reason is short (JupyterLab shows it): the whole path goes first
                peer.send(encode_raw(json.dumps({"type": "stale_copy", "kept_in": path})))
                # (JupyterLab shows this in its dialog; a close reason holds 123 bytes)
                message = f"Edits kept in {posixpath.basename(path)}"
        if by_session:
            self.refused(key)
        else:
            await asyncio.sleep(self.retry_s)  # the socket stays open, the peer waits
        peer.close(code, message)
