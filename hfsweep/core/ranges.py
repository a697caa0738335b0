"""The range checker: a dataclass field carries what it accepts (:func:`spec`), and
:func:`check_section` checks a whole (nested) section, one :class:`ConfigError` line naming the
key, the value and what is accepted.

>>> from dataclasses import dataclass
>>> @dataclass
... class Section:
...     rate: float = spec(0.5, accepted="a number in (0, 1)", low=0, high=1, open_low=True)
>>> check_section("demo.", Section(rate=1.5))
Traceback (most recent call last):
hfsweep.core.errors.ConfigError: demo.rate = 1.5 is out of range: accepted a number in (0, 1)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any

from hfsweep.core.errors import ConfigError


def spec(default: Any = dataclasses.MISSING, *, accepted: str, low: float | None = None, high: float | None = None,
         open_low: bool = False, choices: tuple[str, ...] = (), factory: Any = dataclasses.MISSING) -> Any:  # fmt: skip
    """A dataclass field with its accepted range (checked by :func:`check_section`)."""
    meta = {"accepted": accepted, "low": low, "high": high, "open_low": open_low, "choices": choices}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_value(key: str, value: Any, meta: dict, integer: bool = False, error: type[Exception] = ConfigError) -> Any:
    """Check one value against its field's range; return its normal form (``error`` on a miss)."""
    accepted = meta["accepted"]
    if meta.get("choices"):
        if value not in meta["choices"]:
            raise error(f"{key} = {value!r} is not accepted: choose one of {', '.join(meta['choices'])}")
        return value
    if integer:
        if not isinstance(value, int) or isinstance(value, bool):
            raise error(f"{key} = {value!r} is not an integer: accepted {accepted}")
    elif not is_number(value):
        raise error(f"{key} = {value!r} is not a number: accepted {accepted}")
    low, high = meta.get("low"), meta.get("high")
    below = low is not None and (value <= low if meta.get("open_low") else value < low)
    if below or (high is not None and value > high):
        raise error(f"{key} = {value!r} is out of range: accepted {accepted}")
    return value if integer else float(value)


def check_section(prefix: str, obj: Any, error: type[Exception] = ConfigError) -> Any:
    """Check every field with a range in a dataclass instance, and in the dataclasses it holds;
    return it with normal forms (floats as float)."""
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = check_section(f"{prefix}{f.name}.", value, error)
        elif f.metadata and value is not None:
            changes[f.name] = check_value(f"{prefix}{f.name}", value, dict(f.metadata), integer="int" in str(f.type), error=error)
    return dataclasses.replace(obj, **changes)
