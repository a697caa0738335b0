"""Import what the later steps of a run need while its requests are in flight.

Scoring and the report import numpy, pandas, pyarrow, ``scipy.special`` and the report
modules: about 0.8 s of CPU that would otherwise start after the last request. :func:`start` prepares a
background thread that imports them once :func:`sending` says the requests are out (before
that, the thread would only slow the steps that send the first request); :func:`wait` is
called by the runner once the requests are done, before its own thread imports any of them,
so the two threads never hold import locks against each other. An import that fails here is
left for the step that needs it, which raises with its own message.

>>> start(["json", "no_such_module_hfsweep"]); sending(); wait()
>>> import sys; "json" in sys.modules
True
>>> start(["tabnanny"]); cancel()  # stopped before importing anything
>>> "tabnanny" in sys.modules
False
"""

from __future__ import annotations

import importlib
import threading

_threads: list[threading.Thread] = []
_go = threading.Event()
_stop = threading.Event()


def _load(names: list[str]) -> None:
    _go.wait()
    for name in names:
        if _stop.is_set():
            return
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the step that needs the module raises with its own message
            pass


def start(names: list[str]) -> None:
    """Import ``names`` in order, in a daemon thread, once :func:`sending` is called."""
    _go.clear()
    _stop.clear()
    thread = threading.Thread(target=_load, args=(list(names),), name="hfsweep-prefetch", daemon=True)
    thread.start()
    _threads.append(thread)


def sending() -> None:
    """The requests are in flight: the imports may start."""
    _go.set()


def wait() -> None:
    """Block until every started prefetch has finished (starting it if nothing was sent)."""
    _go.set()
    while _threads:
        _threads.pop().join()


def cancel() -> None:
    """Stop after the module being imported (a run that failed or was interrupted needs none)."""
    _stop.set()
    wait()
