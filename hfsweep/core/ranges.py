"""The range checker: a dataclass field carries what it accepts (:func:`spec`), and
:func:`check_section` checks a whole (nested) section, one :class:`ConfigError` line naming the
key, the value and what is accepted.

Every integer of the schema is bounded: one with no ``high`` of its own accepts at most
:data:`INTEGER_MAX`, what every server reads and a record stores (a field with no range at all
is checked against that ceiling too), so a value no server or int64 column can hold stops at
``validate`` instead of crashing the run's writer.

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

# The largest integer a config value may take: servers read top_k, max_tokens and seed as 32-bit
# integers (llama.cpp), and a record stores them as int64, so 2**31 - 1 fits both.
INTEGER_MAX = 2**31 - 1
_CEILING = f"at most {INTEGER_MAX} (2**31 - 1, the largest integer every server reads)"


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
    if integer and high is None:
        high, accepted = INTEGER_MAX, f"{accepted}, {_CEILING}"
    below = low is not None and (value <= low if meta.get("open_low") else value < low)
    if below or (high is not None and value > high):
        raise error(f"{key} = {value!r} is out of range: accepted {accepted}")
    return value if integer else float(value)


def is_integer_field(f: dataclasses.Field) -> bool:
    """A field typed ``int`` or ``Optional[int]`` (the schema's annotations are strings)."""
    return str(f.type).replace("Optional[", "").rstrip("]") == "int"


def check_section(prefix: str, obj: Any, error: type[Exception] = ConfigError) -> Any:
    """Check every field with a range in a dataclass instance, and in the dataclasses it holds,
    and every integer field against :data:`INTEGER_MAX`; return it with normal forms (floats as float).

    >>> @dataclasses.dataclass
    ... class Counts:
    ...     n: int = 0
    >>> check_section("demo.", Counts(n=2**70))
    Traceback (most recent call last):
    hfsweep.core.errors.ConfigError: demo.n = 1180591620717411303424 is out of range: accepted an integer, at most 2147483647 (2**31 - 1, the largest integer every server reads)
    """
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = check_section(f"{prefix}{f.name}.", value, error)
        elif value is not None and (f.metadata or is_integer_field(f)):
            meta = dict(f.metadata) or {"accepted": "an integer"}
            changes[f.name] = check_value(f"{prefix}{f.name}", value, meta, integer=is_integer_field(f), error=error)
    return dataclasses.replace(obj, **changes)
