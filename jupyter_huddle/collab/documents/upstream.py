"""What Huddle takes from jupyter_ydoc, the package that defines the schema JupyterLab's
models expect, and the one place that reaches into it.

Each shared document wraps a jupyter_ydoc document (``YNotebook``, ``YUnicode``) over the
same ``pycrdt.Doc``: the root names and types, which cell fields are shared types (cell
creation) and the schema version come from there, so a release that changes them reaches
Huddle. Two roots jupyter_ydoc keeps private (a notebook's ``meta``, a text's ``source``) are
read here; tests/unit/test_documents_upstream.py fails loudly if a release changes them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from jupyter_ydoc import YNotebook, YUnicode
from jupyter_ydoc.ybasedoc import YBaseDoc
from jupyter_ydoc.ynotebook import NBFORMAT_MAJOR_VERSION, NBFORMAT_MINOR_VERSION
from pycrdt import Doc, Map, Text

__all__ = [
    "NBFORMAT_MAJOR_VERSION",
    "NBFORMAT_MINOR_VERSION",
    "YBaseDoc",
    "YNotebook",
    "YUnicode",
    "meta_root",
    "notebook_schema",
    "source_root",
    "text_schema",
]

# Every jupyter_ydoc document owns an undo manager over its content, which records each
# transaction made without an origin. The server never undoes through it, and a long-lived
# room would keep every such change in its stack: it is told to track only this origin,
# which no transaction carries. Kept alive with the module, since origins are tracked by
# hash and a freed object's hash (its id) could be reused by a real origin.
_NEVER_AN_ORIGIN = object()

_D = TypeVar("_D", bound=YBaseDoc)
_R = TypeVar("_R", Map[Any], Text)


def notebook_schema(doc: Doc[Any] | None = None) -> YNotebook:
    """jupyter_ydoc's notebook over ``doc`` (a new document if None), its undo manager idle."""
    return _idle(YNotebook(doc))


def text_schema(doc: Doc[Any] | None = None) -> YUnicode:
    """jupyter_ydoc's text file over ``doc`` (a new document if None), its undo manager idle."""
    return _idle(YUnicode(doc))


def _idle(document: _D) -> _D:
    document.undo_manager.include_origin(_NEVER_AN_ORIGIN)
    return document


def meta_root(notebook: YNotebook) -> Map[Any]:
    """The notebook's ``meta`` root (``nbformat``, ``nbformat_minor``, ``metadata``).

    Raises:
        TypeError: jupyter_ydoc no longer keeps it where this reads it.
    """
    meta: Map[Any] = _private_root(notebook, "_ymeta", Map)
    return meta


def source_root(text: YUnicode) -> Text:
    """A text file's ``source`` root.

    Raises:
        TypeError: jupyter_ydoc no longer keeps it where this reads it.
    """
    source: Text = _private_root(text, "_ysource", Text)
    return source


def _private_root(document: YBaseDoc, attribute: str, kind: type[_R]) -> _R:
    root = getattr(document, attribute, None)
    if not isinstance(root, kind):
        raise TypeError(f"jupyter_ydoc's {type(document).__name__} no longer has its "
                        f"{kind.__name__} root in {attribute}")
    return root
