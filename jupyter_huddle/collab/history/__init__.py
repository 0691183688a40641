"""Version history of notebooks: versions recorded as people work, browsed, diffed,
blamed and restored (see docs/HISTORY.md).

``HistoryRecorder`` watches one open notebook and records its versions in the store
(``VersionTable``); ``HistoryService`` answers the API; ``content`` splits a notebook into
shared blobs; ``blame`` keeps line authorship; ``diffing`` compares versions; ``restoring``
applies a version as an undoable edit; ``retention`` thins old versions.
"""

from __future__ import annotations

from .errors import (
    HistoryError,
    HistoryUnavailable,
    NotRestorer,
    TooManyHistoryActions,
    TooManyVersions,
    UnknownVersion,
)
from .recorder import HistoryRecorder, version_meta
from .service import HistoryService
from .settings import HistorySettings

__all__ = [
    "HistoryError",
    "HistoryRecorder",
    "HistoryService",
    "HistorySettings",
    "HistoryUnavailable",
    "NotRestorer",
    "TooManyHistoryActions",
    "TooManyVersions",
    "UnknownVersion",
    "version_meta",
]
