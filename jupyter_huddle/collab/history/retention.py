"""Which versions retention thins out: every version of the last day, then the newest of
each hour for a week, then the newest of each day for 90 days (``HistorySettings``); named
versions and the newest version are always kept."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..store import VersionRow
from .settings import HistorySettings


def expired(rows: Iterable[VersionRow], now: float, settings: HistorySettings) -> list[str]:
    """Ids of the versions retention drops at ``now``."""
    ordered = sorted(rows, key=lambda row: row.id)
    if not ordered:
        return []
    newest = ordered[-1].id
    kept_buckets: set[tuple[str, int]] = set()
    doomed: list[str] = []
    for row in reversed(ordered):  # newest first: the first seen in a bucket is kept
        bucket = _bucket(now - row.created_at, row.created_at, settings)
        if row.name is not None or row.id == newest or bucket is None:
            continue
        if bucket[0] == "gone" or bucket in kept_buckets:
            doomed.append(row.id)
        else:
            kept_buckets.add(bucket)
    return doomed


def _bucket(age_s: float, created_at: float, settings: HistorySettings
            ) -> tuple[str, int] | None:
    """None: kept as it is (young); else the bucket it competes in, or ("gone", 0)."""
    if age_s < settings.keep_all_s:
        return None
    if age_s < settings.keep_hourly_s:
        return "hour", math.floor(created_at / 3600)
    if age_s < settings.keep_daily_s:
        return "day", math.floor(created_at / 86400)
    return "gone", 0
