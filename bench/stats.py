"""Small statistics helpers (no numpy needed)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of unsorted values; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and relative spread ((max-min)/median) of per-run values."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "spread_pct": math.nan,
                "n": 0}
    med = statistics.median(vals)
    spread = (max(vals) - min(vals)) / med * 100 if med else math.nan
    return {"median": med, "min": min(vals), "max": max(vals), "spread_pct": spread,
            "n": len(vals)}


def paired_ratio(huddle: Sequence[float], reference: Sequence[float]) -> dict[str, float]:
    """Median of per-run ratios huddle/reference (runs are paired: same run, alternated)."""
    ratios = [h / r for h, r in zip(huddle, reference, strict=False)
              if h is not None and r and not math.isnan(h) and not math.isnan(r)]
    return summary(ratios)


def fmt(v: float) -> str:
    """A figure for a Markdown table: about three significant digits."""
    if v != v:  # nan
        return "n/a"
    av = abs(v)
    if 0 < av < 0.1:
        return f"{v:.2g}"
    if av >= 10000:
        return f"{v:,.0f}"
    if av >= 100:
        return f"{v:.0f}"
    if av >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(values: Sequence[float]) -> str:
    """``median [min–max]`` of per-run values (just the value for one run)."""
    s = summary(values)
    if not s["n"]:
        return "n/a"
    if s["n"] == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}–{fmt(s['max'])}]"
