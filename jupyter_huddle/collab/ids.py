"""Room ids, parsed once at the boundary into a frozen value.

A room id is the last path segment of the room websocket URL. With two or more colons it
names a document, ``{format}:{type}:{file_id}`` (split at the first two colons, like
JupyterLab); with fewer it names an awareness-only room such as
``JupyterLab:globalAwareness``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidRoomId

DocumentType = Literal["notebook", "file"]

# What a file id may look like: jupyter_server_fileid issues uuid4 strings; keep room for
# other managers but refuse anything that could act as a path or carry control characters.
_FILE_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
_AWARENESS_NAME = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")
_FORMATS = {"json", "text"}
# The document kinds a room can hold, keyed by (format, type). JupyterLab opens notebooks as
# json:notebook and text editors as text:file.
_KINDS: dict[tuple[str, str], DocumentType] = {
    ("json", "notebook"): "notebook",
    ("text", "file"): "file",
}
MAX_ROOM_ID_CHARS = 300


@dataclass(frozen=True, slots=True)
class DocumentRoomId:
    """A room that holds one file's document."""

    format: str
    type: DocumentType
    file_id: str

    def __str__(self) -> str:
        return f"{self.format}:{self.type}:{self.file_id}"

    @property
    def persisted(self) -> bool:
        """Always True: a document's history goes to the store."""
        return True


@dataclass(frozen=True, slots=True)
class AwarenessRoomId:
    """A room that relays presence only and is never persisted."""

    name: str

    def __str__(self) -> str:
        return self.name

    @property
    def persisted(self) -> bool:
        """Always False: presence is never stored."""
        return False


RoomId = DocumentRoomId | AwarenessRoomId


def parse_room_id(raw: str) -> RoomId:
    """Parse a room id from the URL.

    Raises:
        InvalidRoomId: the id is too long, has a kind we do not serve, or a file id that
            is not a plain token.
    """
    if not raw or len(raw) > MAX_ROOM_ID_CHARS:
        raise InvalidRoomId("room id is empty or too long")
    if raw.count(":") < 2:
        if not _AWARENESS_NAME.match(raw):
            raise InvalidRoomId("awareness room name has characters outside [A-Za-z0-9_.:-]")
        return AwarenessRoomId(raw)
    fmt, doc_type, file_id = raw.split(":", 2)
    kind = _KINDS.get((fmt, doc_type))
    if kind is None:
        raise InvalidRoomId(f"unsupported document kind {fmt}:{doc_type}")
    if not _FILE_ID.match(file_id):
        raise InvalidRoomId("file id has characters outside [A-Za-z0-9_.-]")
    return DocumentRoomId(fmt, kind, file_id)


def document_kind(fmt: str, doc_type: str) -> DocumentType | None:
    """The document kind for a session request's ``{format, type}``, or None if unserved."""
    return _KINDS.get((fmt, doc_type))
