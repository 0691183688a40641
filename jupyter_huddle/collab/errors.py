"""The core's error hierarchy.

The core never raises HTTP errors; ``server/errors.py`` maps these to HTTP statuses and
websocket close codes in one place.
"""

from __future__ import annotations


class CollabError(Exception):
    """Base class of every error the collaboration core raises on purpose."""


class ProtocolError(CollabError):
    """A peer sent a frame that does not follow the sync protocol.

    The connection that sent it is closed; the room goes on.
    """


class FrameTooLarge(ProtocolError):
    """A part of a frame is larger than its bound (an awareness state, say): the
    connection is closed as for any protocol error, with "too big" as its reason."""


class PermissionDenied(CollabError):
    """The user may not do what they asked."""


class DocumentNotFound(CollabError):
    """The file behind a document does not exist (any more)."""


class DocumentLoadError(CollabError):
    """A file exists but cannot be turned into a document (not UTF-8, not a notebook...)."""


class InvalidRoomId(CollabError):
    """A room id that cannot name a room."""


class SaveError(CollabError):
    """Writing a document to its file failed; the document stays loaded and dirty."""


class StoreError(CollabError):
    """The durable update store failed."""


class CapacityError(CollabError):
    """A server-wide bound (rooms, queue sizes) was reached."""
