"""Terminal control characters in stream output, applied as JupyterLab renders them.

A carriage return not followed by a newline erases the current line (progress bars redraw
it); a backspace erases the character before it. Only the last line of what is already
shown can be affected by new text, so a chunk is applied to that line alone: cost stays
proportional to the chunk, not to everything the cell printed.
"""

from __future__ import annotations

import re

_LONE_CR = re.compile(r"^.*\r(?!\n)", re.MULTILINE)
_BACKSPACE = re.compile(r"[^\n\x08]\x08")


def render(text: str) -> str:
    """Text with terminal controls applied (no \\r, \\b left except a trailing \\r)."""
    text = text.replace("\r\n", "\n")
    # A \r at the very end erases the line only once something is written after it.
    trailing_cr = text.endswith("\r")
    if trailing_cr:
        text = text[:-1]
    text = _LONE_CR.sub("", text)
    while True:
        reduced = _BACKSPACE.sub("", text)
        if reduced == text:
            break
        text = reduced
    text = text.replace("\x08", "")
    return text + ("\r" if trailing_cr else "")


def append(shown: str, chunk: str) -> tuple[int, str]:
    """Where the shown text changes when ``chunk`` arrives: (start, replacement).

    ``shown[:start] + replacement`` is the new text. ``start`` is a character index.
    """
    line_start = shown.rfind("\n") + 1
    if "\r" not in chunk and "\x08" not in chunk and not shown.endswith("\r"):
        return len(shown), chunk
    new_tail = render(shown[line_start:] + chunk)
    return line_start, new_tail
