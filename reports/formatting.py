"""How the report writes a number for people (the page's tables, the Server section's values)."""

from __future__ import annotations

import math


def fnum(v, digits: int = 3) -> str:
    """Compact number: NaN/None as an en dash, integers plain, else ``digits`` significant.

    >>> fnum(3.0), fnum(0.123456), fnum(0.123456, 6), fnum(float("nan")), fnum(None), fnum("a")
    ('3', '0.123', '0.123456', '–', '', 'a')
    """
    if v is None or isinstance(v, str):
        return "" if v is None else v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "\u2013"
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.{digits}g}"
