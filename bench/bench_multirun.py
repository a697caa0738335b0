"""Multirun launchers: the same two-job sweep with Hydra's basic launcher (jobs in turn) and with
hydra/launcher=joblib (two processes at once), timed as whole `hfsweep run -m` commands.

1. Remote-like: two targets, each its own fault-injecting server (subprocess, 200 ms latency, no
   faults); 80 requests per job at runner.concurrency=2. Jobs wait on their target, so two
   processes should take about half the time: the ratio should be close to 2x.
2. Embedded: smollm2 and gemma3, each job starting its own llama-server. Here the machine's
   cores are the limit (two llama-servers side by side share them), so expect no speed-up; with
   each server's default 2 threads two servers oversubscribe a 2-core machine, so joblib is
   also measured with model.threads=1.

"Command" is the whole `hfsweep run -m` (Python start, Hydra, joblib's worker processes
importing hfsweep, jobs, scoring); "jobs' span" runs from the first job's start to the last
job's finish (summary.json), i.e. without the launcher's fixed start-up cost.

Every command gets a fresh completion cache and builds no report (the report step is the same
in both modes). Needs the launchers extra: pip install -e '.[launchers]'.

    python bench/bench_multirun.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.fault_server import spawn  # noqa: E402

COMMON = ["sweep=single", "runner.progress=false", "report.enabled=false"]
REMOTE = ["prompts.limit=20", "samples=4", "sampling.max_tokens=16", "runner.concurrency=2"]  # 80 requests per job
EMBEDDED = ["model=smollm2,gemma3", "prompts.limit=8", "samples=2", "sampling.max_tokens=32"]  # 16 requests per job
BASIC = {"basic (jobs in turn)": []}
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def multirun(overrides: list[str]) -> tuple[float, float, list[dict]]:
    """Wall time of one `hfsweep run -m`, the jobs' span (first start to last finish) and their summaries."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "hfsweep", "run", "-m", *COMMON, *overrides, f"hydra.sweep.dir={tmp}/sweep"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HFSWEEP_CACHE_DIR": tmp})
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"hfsweep run -m failed ({done.returncode}):\n{done.stderr[-3000:]}")
        paths = sorted(Path(tmp, "sweep").glob("*/summary.json"), key=lambda p: int(p.parent.name))
        jobs = [json.loads(p.read_text()) for p in paths]
        span = (max(datetime.fromisoformat(j["finished_at"]) for j in jobs) - min(datetime.fromisoformat(j["started_at"]) for j in jobs))
        return wall, span.total_seconds(), jobs


def compare(title: str, overrides: list[str], launchers: dict[str, list[str]]) -> None:
    print(title)
    results = {}
    for name, launcher in launchers.items():
        wall, span, jobs = results[name] = multirun([*launcher, *overrides])
        each = ", ".join(f"{j['requests']} req in {j['wall_s']:.1f} s" for j in jobs)
        print(f"  {name:<30} command {wall:6.1f} s   jobs' span {span:6.1f} s   ({each})")
    (basic_wall, basic_span, _), *others = results.values()
    for name, (wall, span, _) in list(results.items())[1:]:
        print(f"  {name} vs basic: {basic_wall / wall:.2f}x on the whole command, {basic_span / span:.2f}x on the jobs' span")


def main() -> None:
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start")
    servers = [spawn(["--latency", "0.2", "--fault-rate", "0"]) for _ in range(2)]
    try:
        urls = ",".join(url for _, url in servers)
        remote = ["model=endpoint", f"model.endpoint={urls}", "model.id=bench", "model.server=openai", *REMOTE]
        compare("Two remote-like targets (fault server, 200 ms latency, no faults), 2 jobs x 80 requests, concurrency 2:",
                remote, {**BASIC, "joblib, 2 processes": JOBLIB})
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait()
    compare("Two embedded models (smollm2, gemma3; a llama-server per job), 2 jobs x 16 requests, 32 max tokens:", EMBEDDED,
            {**BASIC, "joblib, 2 processes": JOBLIB, "joblib, model.threads=1": [*JOBLIB, "model.threads=1"]})
    print(f"Embedded generation is CPU-bound: two llama-servers share the machine's {os.cpu_count()} cores, so joblib can at\n"
          "best overlap start-up and Python work; with the default model.threads=2 per server, two servers\n"
          "oversubscribe 2 cores. Keep hydra.launcher.n_jobs x model.threads at or under the core count.")


if __name__ == "__main__":
    main()
