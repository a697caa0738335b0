"""Import what the later steps of a run need while its requests are in flight.

Scoring and the report import pandas, pyarrow, SciPy and the report modules: about 1.5 s
of CPU that would otherwise start after the last request. :func:`start` imports them in a
background thread while the event loop waits on the network; :func:`wait` is called by
the runner once the requests are done, before its own thread imports any of them, so the
two threads never hold import locks against each other. An import that fails here is left
for the step that needs it, which raises with its own message.

>>> start(["json", "no_such_module_hfsweep"]); wait()
>>> import sys; "json" in sys.modules
True
"""

from __future__ import annotations

import importlib
import threading

_threads: list[threading.Thread] = []


def _load(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the step that needs the module raises with its own message
            pass


def start(names: list[str]) -> None:
    """Import ``names`` in order, in a daemon thread."""
    thread = threading.Thread(target=_load, args=(list(names),), name="hfsweep-prefetch", daemon=True)
    thread.start()
    _threads.append(thread)


def wait() -> None:
    """Block until every started prefetch has finished."""
    while _threads:
        _threads.pop().join()
