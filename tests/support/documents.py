"""Live notebook documents for unit tests, loaded the way a file is."""

from __future__ import annotations

import nbformat

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.origins import ServerOrigin


def code_notebook(*sources: str) -> NotebookDocument:
    """A notebook document of code cells with these sources, ids ``c0``, ``c1``, ..."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    doc = NotebookDocument()
    doc.load(nb, ServerOrigin.LOAD)
    return doc
