"""Text files in JupyterLab's YFile schema: ``state`` plus ``source`` as one Y.Text.

Line endings: CodeMirror counts "\\r\\n" as one character while Y.Text counts two, so a
document holding CRLF would shift every remote cursor. The document therefore holds LF,
and a file that used CRLF throughout is written back with CRLF, so saving never silently
changes a file's line endings.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Text

from .base import SharedDocument


class TextDocument(SharedDocument):
    kind = "file"
    version = "1.0.0"

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        super().__init__(doc)
        self.source: Text = self.doc.get("source", type=Text)
        self.newline = "\n"

    def load(self, content: Any, origin: object) -> None:
        text = str(content)
        if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
            self.newline = "\r\n"
        with self.doc.transaction(origin=origin):
            self.source += text.replace("\r\n", "\n")

    def export(self) -> str:
        text = str(self.source)
        return text.replace("\n", "\r\n") if self.newline == "\r\n" else text
