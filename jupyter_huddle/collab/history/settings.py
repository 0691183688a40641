"""Version history's settings: one frozen object, built by the extension app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """When versions are recorded and how long they are kept; units in the names."""

    # Record versions at all (off: no versions, no blame; the API answers 404).
    enabled: bool = True
    # A save with changes records a version at most this often while people edit (the
    # last changes are recorded this long after the previous version at the latest).
    version_interval_s: float = 300.0
    # Retention: every version younger than this...
    keep_all_s: float = 86400.0
    # ...then the newest of each hour younger than this...
    keep_hourly_s: float = 7 * 86400.0
    # ...then the newest of each day younger than this; older ones go. Named versions stay.
    keep_daily_s: float = 90 * 86400.0
    # Named versions one notebook may hold.
    max_named_versions: int = 200
    # Restores one room keeps undoable at once (each watches the document), and for how long.
    max_undoable_restores: int = 8
    undo_window_s: float = 3600.0
    # "Changes since you last looked": a look records a version at most this often per
    # notebook (between two, the look's time separates what was seen).
    seen_checkpoint_interval_s: float = 10.0
    # Names, restores and undos one person may make per minute, server-wide.
    actions_per_minute: int = 30
    # Write since when versions exist into the notebook file (metadata huddle.history), so
    # a server whose store lost them reports them missing instead of starting silently.
    stamp_files: bool = True
    # Longest version name, in characters.
    max_name_chars: int = 200
