"""Optional extras: the one place a module is imported lazily, and the error that names the extra.

>>> require("json", "none").dumps([1])
'[1]'
>>> require("no_such_module_hfsweep", "semantic")
Traceback (most recent call last):
hfsweep.core.errors.MissingExtraError: no_such_module_hfsweep is not installed: pip install 'hfsweep[semantic]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hfsweep.core.errors import MissingExtraError


def require(module: str, extra: str, hint: str = "") -> ModuleType:
    """``module``, imported now; :class:`MissingExtraError` naming ``extra`` (or saying ``hint``)
    when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and not module.startswith(error.name) and not error.name.startswith(module):
            raise  # the extra is there, but something it imports is broken: a bug, not a missing extra
        raise MissingExtraError(hint or f"{module} is not installed: pip install 'hfsweep[{extra}]'") from None
