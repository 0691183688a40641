"""Text files in JupyterLab's YFile schema: ``state`` plus ``source`` as one Y.Text.

Line endings: CodeMirror counts "\\r\\n" as one character while Y.Text counts two, so a
document holding CRLF would shift every remote cursor. The document therefore holds LF,
and a file that used CRLF throughout is written back with CRLF, so saving never silently
changes a file's line endings.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pycrdt import Doc, Text

from .base import DiskMerge, SharedDocument
from .merge import set_text


class TextDocument(SharedDocument):
    kind = "file"
    version = "1.0.0"

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        super().__init__(doc)
        self.source: Text = self.doc.get("source", type=Text)
        self.newline = "\n"

    def holds_content(self, doc: Doc[Any]) -> bool:
        return len(doc.get("source", type=Text)) > 0

    def load(self, content: Any, origin: object) -> None:
        text = str(content)
        self.newline = _newline_of(text)
        with self.doc.transaction(origin=origin):
            self.source += text.replace("\r\n", "\n")

    def digest(self, content: Any) -> str:
        return hashlib.sha1(str(content).encode(), usedforsecurity=False).hexdigest()

    def normalize(self, content: Any) -> str:
        return str(content)

    def merge_disk(self, base_digest: str | None, ours: Any, theirs: Any,
                   origin: object) -> DiskMerge:
        text = str(theirs)
        merge = DiskMerge()
        if ours != text and base_digest is not None and self.digest(ours) != base_digest:
            merge = DiskMerge(["source"], ours)
        self.newline = _newline_of(text)
        with self.doc.transaction(origin=origin):
            set_text(self.source, text.replace("\r\n", "\n"))
        return merge

    def export(self) -> str:
        text = str(self.source)
        return text.replace("\n", "\r\n") if self.newline == "\r\n" else text


def _newline_of(text: str) -> str:
    """CRLF if the text uses it throughout, else LF."""
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        return "\r\n"
    return "\n"
