"""JSON values out of a CRDT, with their original number types.

Yjs has one number type, so every int in a notebook comes back from the document as a float.
Where the last loaded or saved file had the same value, we restore its exact type (so an
unedited ``1.0`` stays ``1.0`` and an unedited ``1`` stays ``1``); elsewhere an integral float
becomes an int, which is what nbformat fields such as ``execution_count`` need.
"""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Array, Map, Text

_MISSING: Any = object()


def plain(value: Any) -> Any:
    """A shared type as plain JSON values, fast: yrs serialises it natively, which is several
    times quicker than pycrdt's ``to_py`` walking it item by item. Integral numbers come
    back as ints (``restore_numbers`` puts float types back where the file had them)."""
    if isinstance(value, Text):
        return str(value)
    if isinstance(value, Map | Array):
        return json.loads(str(value))
    return value


def restore_numbers(value: Any, baseline: Any = _MISSING) -> Any:
    """Return ``value`` with number types taken from ``baseline`` where the values agree."""
    if isinstance(value, float):
        return _restore_float(value, baseline)
    if isinstance(value, int) and not isinstance(value, bool):
        if isinstance(baseline, float) and baseline == value:
            return baseline
        return value
    if isinstance(value, dict):
        base = baseline if isinstance(baseline, dict) else {}
        return {k: restore_numbers(v, base.get(k, _MISSING)) for k, v in value.items()}
    if isinstance(value, list):
        base_list = baseline if isinstance(baseline, list) else []
        return [
            restore_numbers(v, base_list[i] if i < len(base_list) else _MISSING)
            for i, v in enumerate(value)
        ]
    return value


def _restore_float(value: float, baseline: Any) -> Any:
    if isinstance(baseline, bool):
        return _int_if_integral(value)
    if isinstance(baseline, int | float) and baseline == value:
        return baseline
    return _int_if_integral(value)


def _int_if_integral(value: float) -> int | float:
    return int(value) if value.is_integer() else value


MISSING = _MISSING
