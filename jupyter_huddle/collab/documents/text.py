"""Text files in JupyterLab's YFile schema: ``state`` plus ``source`` as one Y.Text.

Line endings: CodeMirror counts "\\r\\n" as one character while Y.Text counts two, so a
document holding CRLF would shift every remote cursor. The document therefore holds LF,
and a file that used CRLF throughout is written back with CRLF, so saving never silently
changes a file's line endings.

The roots, loading and reading back are jupyter_ydoc's (``TextDocument.schema``, a
``YUnicode`` over the same document); the disk merge is Huddle's own (``merge_disk``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from pycrdt import Doc, Text

from .base import DiskMerge, SharedDocument
from .merge import set_text
from .upstream import YUnicode, source_root, text_schema


class TextDocument(SharedDocument):
    kind = "file"
    schema: YUnicode

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        self.schema = text_schema(doc)
        super().__init__(self.schema)
        self.source: Text = source_root(self.schema)
        self.newline = "\n"

    def holds_content(self, doc: Doc[Any]) -> bool:
        return len(source_root(text_schema(doc))) > 0

    def load(self, content: Any, origin: object) -> None:
        text = str(content)
        self.newline = _newline_of(text)
        with self.doc.transaction(origin=origin):
            # Into an empty document jupyter_ydoc's set appends the text, in our transaction.
            self.schema.set(text.replace("\r\n", "\n"))

    def digest(self, content: Any) -> str:
        return hashlib.sha1(str(content).encode(), usedforsecurity=False).hexdigest()

    def normalize(self, content: Any) -> str:
        return str(content)

    def merge_disk(self, base_digest: str | None, ours: Any, theirs: Any,
                   origin: object) -> DiskMerge:
        """Merge the file now on disk: the disk wins, by text edits (``merge.set_text``).

        Not jupyter_ydoc's ``YUnicode.set``, which diffs the whole text byte by byte
        (quadratic in the worst case; ``set_text`` diffs only the changed middle, and
        replaces a middle above 20 000 characters whole) and, when the texts differ by more
        than 40 %, replaces all of it, moving every collaborator's cursor and comment.
        """
        text = str(theirs)
        merge = DiskMerge()
        if ours != text and base_digest is not None and self.digest(ours) != base_digest:
            merge = DiskMerge(["source"], ours)
        self.newline = _newline_of(text)
        with self.doc.transaction(origin=origin):
            set_text(self.source, text.replace("\r\n", "\n"))
        return merge

    def export(self) -> str:
        text: str = self.schema.get()
        return text.replace("\n", "\r\n") if self.newline == "\r\n" else text


def _newline_of(text: str) -> str:
    """CRLF if the text uses it throughout, else LF."""
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        return "\r\n"
    return "\n"
