"""Review threads on notebooks: anchored to text, cells or outputs, with suggestions and
@mentions.

- ``positions``: UTF-16 offsets and relative positions in a shared text;
- ``anchors``: where a thread points, and where that is now;
- ``threads``: the threads kept in a notebook's ``comments`` root, and every change to them;
- ``saved``: threads as the notebook file holds them;
- ``service``: the review API's core (rooms, limits, the audit log);
- ``errors``: why an action is refused.
"""

from __future__ import annotations

from .anchors import AnchorRequest, make_anchor, reanchor, resolve_anchor
from .errors import (
    CommentError,
    NotAuthor,
    TooLarge,
    TooManyActions,
    TooManyThreads,
    UnknownThread,
)
from .positions import PositionCache, TextPositions, index_to_utf16, utf16_to_index
from .saved import follow_outside_edit, load_saved_threads, saved_threads
from .service import ReviewLimits, ReviewService
from .threads import Comments, mentions

__all__ = [
    "AnchorRequest",
    "CommentError",
    "Comments",
    "NotAuthor",
    "PositionCache",
    "ReviewLimits",
    "ReviewService",
    "TextPositions",
    "TooLarge",
    "TooManyActions",
    "TooManyThreads",
    "UnknownThread",
    "follow_outside_edit",
    "index_to_utf16",
    "load_saved_threads",
    "make_anchor",
    "mentions",
    "reanchor",
    "resolve_anchor",
    "saved_threads",
    "utf16_to_index",
]
