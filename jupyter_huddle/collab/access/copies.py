"""Personal copies ("make my copy"): how one is made.

A copy is the live notebook as everyone sees it now (unsaved edits and outputs included,
review threads not; its metadata says which notebook it copies, ``huddle.copy_of``),
written into the person's own folder under ``copies_dir`` under the original's name
(``name (2).ipynb`` when taken). A person keeps at most ``max_per_person`` notebooks there.
Someone who is not an owner becomes the copy's editor; owners need no role, they own every
notebook. Who may make copies at all is the server's decision (``ServerAccess.may_copy``),
made before this is asked.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Protocol

from ..documents.schema import split_comments, with_copy_of
from ..errors import CollabError, DocumentNotFound, SaveError
from ..files.backend import FileSnapshot
from ..ids import DocumentRoomId, DocumentType
from ..sync.connection import UserInfo
from .roles import Role

# The most "name (n).ipynb" tried in one folder before giving up.
MAX_SAME_NAME = 999


class CopyRefused(CollabError):
    """No copy is made: the person keeps as many as one may, or their folder holds too many
    copies of this notebook."""


class LiveNotebooks(Protocol):
    """Where the live notebook comes from (``RoomManager``)."""

    async def export(self, room_id: DocumentRoomId) -> Any:
        """The live notebook as its file would hold it now (unsaved edits included)."""


class CopyFiles(Protocol):
    """Files by id and path (``ContentsFileBackend``)."""

    async def path_for(self, file_id: str) -> str | None:
        """The file's current path, or None if the id is unknown."""

    async def exists(self, path: str) -> bool:
        """Whether a file is at ``path``."""

    async def save(self, path: str, kind: DocumentType, content: Any) -> FileSnapshot:
        """Write ``content`` to ``path``."""

    def file_id(self, path: str) -> tuple[str, bool]:
        """The file's id, and whether it was just created."""


class CopyFolders(Protocol):
    """People's folders (the server's contents manager)."""

    async def notebooks_in(self, folder: str) -> int:
        """How many notebooks the folder holds; 0 if there is no such folder."""

    async def make_folders(self, folder: str) -> None:
        """Create the folder and its parents where missing."""


class CopyRoles(Protocol):
    """Who owns what (``AccessService``)."""

    def is_owner(self, username: str) -> bool:
        """Whether ``username`` owns every notebook."""

    async def assign(self, file_id: str, username: str, role: Role | None) -> None:
        """Give ``username`` a role on one notebook (None: back to the default)."""


@dataclass(frozen=True, slots=True)
class PersonalCopy:
    """A copy that was made: where it is and its file id."""

    path: str
    file_id: str

    @property
    def document_id(self) -> str:
        """The copy's document id (``json:notebook:<file id>``)."""
        return str(DocumentRoomId("json", "notebook", self.file_id))


def folder_name(display_name: str, username: str) -> str:
    """A readable folder name that is still unique per user."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", display_name).strip("-")[:40] or "user"
    return f"{slug}-{re.sub(r'[^A-Za-z0-9]', '', username)[-8:] or 'x'}"


class PersonalCopies:
    """Makes personal copies of live notebooks into ``copies_dir``."""

    def __init__(self, notebooks: LiveNotebooks, files: CopyFiles, folders: CopyFolders,
                 roles: CopyRoles, copies_dir: str, max_per_person: int) -> None:
        self.notebooks = notebooks
        self.files = files
        self.folders = folders
        self.roles = roles
        self.copies_dir = copies_dir.strip("/")
        self.max_per_person = max_per_person

    def folder_of(self, user: UserInfo) -> str:
        """The person's own folder of copies."""
        return posixpath.join(self.copies_dir, folder_name(user.display_name or user.username,
                                                           user.username))

    async def make(self, room_id: DocumentRoomId, user: UserInfo) -> PersonalCopy:
        """Copy the live notebook into the person's folder; they may edit and run it.

        Raises:
            DocumentNotFound: the notebook does not exist, or cannot be opened.
            CopyRefused: the person keeps ``max_per_person`` notebooks already, or their
                folder holds ``MAX_SAME_NAME`` copies of this one.
            SaveError: the copy could not be written.
        """
        original = await self.files.path_for(room_id.file_id)
        if original is None:
            raise DocumentNotFound(f"no notebook {room_id}")
        content = await self._live_content(room_id)
        content["metadata"] = with_copy_of(content["metadata"], original, user.username)
        folder = self.folder_of(user)
        await self._check_quota(folder)
        path = await self._free_path(folder, posixpath.basename(original))
        await self.folders.make_folders(folder)
        try:
            await self.files.save(path, "notebook", content)
        except CollabError as err:
            raise SaveError(f"could not write the copy: {err}") from err
        file_id, _ = self.files.file_id(path)
        if user.guest_id is not None or not self.roles.is_owner(user.username):
            await self.roles.assign(file_id, user.username, Role.EDITOR)
        return PersonalCopy(path, file_id)

    async def _live_content(self, room_id: DocumentRoomId) -> dict[str, Any]:
        """The notebook as everyone sees it now, without its review threads."""
        try:
            content: dict[str, Any] = await self.notebooks.export(room_id)
        except CollabError as err:
            raise DocumentNotFound(f"cannot open {room_id}: {err}") from err
        content["metadata"] = split_comments(content.get("metadata") or {})[0]
        return content

    async def _check_quota(self, folder: str) -> None:
        held = await self.folders.notebooks_in(folder)
        if held >= self.max_per_person:
            raise CopyRefused(f"you already keep {held} personal copies, the most one "
                              "person may: delete one to make another")

    async def _free_path(self, folder: str, name: str) -> str:
        stem, ext = posixpath.splitext(name)
        for n in range(1, MAX_SAME_NAME + 1):
            candidate = posixpath.join(folder, name if n == 1 else f"{stem} ({n}){ext}")
            if not await self.files.exists(candidate):
                return candidate
        raise CopyRefused("too many copies of this notebook in your folder")
