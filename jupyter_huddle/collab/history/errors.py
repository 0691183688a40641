"""Why a history action is refused. Each refusal changes nothing."""

from __future__ import annotations

from ..errors import CollabError


class HistoryError(CollabError):
    """A history request that cannot be served as asked (a bad name, cell or range)."""


class UnknownVersion(HistoryError):
    """No version (or restore, or cell) with that id in this notebook's history."""


class NotRestorer(HistoryError):
    """Only the person who made a restore may undo it."""


class TooManyVersions(HistoryError):
    """The notebook holds as many named versions as allowed."""


class HistoryUnavailable(HistoryError):
    """The history cannot be read or written now (the store is failing)."""


class TooManyHistoryActions(HistoryError):
    """One person names, restores or undoes faster than allowed."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many history actions; try again in {int(retry_after_s) + 1} s")
        self.retry_after_s = retry_after_s
