"""Where a benchmark's results go: ``bench/results/NAME.json`` (the latest run), a copy under
``history/`` stamped with the start time, and ``NAME.md`` with its Markdown summary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, doc: dict[str, Any], started: float, markdown: str | None = None) -> Path:
    """Write the results; the path of ``NAME.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, default=str)
    latest = RESULTS / f"{name}.json"
    latest.write_text(text)
    (RESULTS / "history").mkdir(exist_ok=True)
    stamp = dt.datetime.fromtimestamp(started).strftime("%Y%m%d-%H%M%S")
    (RESULTS / "history" / f"{name}-{stamp}.json").write_text(text)
    if markdown is not None:
        (RESULTS / f"{name}.md").write_text(markdown + "\n")
    return latest
