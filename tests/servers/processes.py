"""Servers the tests start as processes: wait until one answers, or fail with its log."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Poll GET ``url`` until it answers 200. Raise with the tail of ``log`` if the process
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer (exit {proc.poll()}): {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
