"""The one way tests run the CLI in a subprocess: ``python -m hfsweep ARGS``, output captured as text.

:func:`start_cli` starts it in the background (for tests that signal or kill it, or run two at
once); :func:`run_cli` runs it to completion. Both run from the repository root unless told
another ``cwd``, with ``env`` laid over this process's environment (which carries the test's
isolated cache, see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.sweep_helpers import QUIET, SCORE_LIGHT

ROOT = Path(__file__).resolve().parent.parent


def start_cli(args: list[str], env: dict | None = None, cwd: Path = ROOT, terminal: int | None = None) -> subprocess.Popen:
    """Start ``python -m hfsweep ARGS`` in the background; stdout and stderr are pipes of text.
    ``terminal``: a pseudo-terminal's file descriptor (``pty.openpty()``), made its stdin and
    stderr, as a user at a terminal would have them."""
    streams = {"stdin": terminal, "stderr": terminal} if terminal is not None else {"stderr": subprocess.PIPE}
    return subprocess.Popen([sys.executable, "-m", "hfsweep", *args], cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, text=True, **streams)  # fmt: skip


def run_cli(args: list[str], env: dict | None = None, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m hfsweep ARGS`` to its end: exit code, stdout and stderr. A run still going
    after ``timeout`` seconds is killed and :class:`subprocess.TimeoutExpired` raised."""
    proc = start_cli(args, env, cwd)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def every_command(out: Path) -> dict[str, list[str]]:
    """The commands that send requests to a target, each writing under ``out``: their first
    arguments, before the target's overrides (tests of what reaches a server, or the disk)."""
    quiet = [*QUIET, *SCORE_LIGHT, f"out_dir={out}"]
    return {"validate": ["validate"], "probe": ["probe", "--prompts", "2"], "run": ["run", *quiet],
            "run -m": ["run", "-m", *quiet, f"hydra.sweep.dir={out}/sweep"]}  # fmt: skip
