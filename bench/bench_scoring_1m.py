"""Benchmark: score 1,000,000 completions (50,000 groups of 20, ~100 tokens) in bounded memory.

Run: ``python bench/bench_scoring_1m.py [--corpus PATH]``. Writes a synthetic
``completions.parquet`` in grid order, as the runner does (one row group; 1,000,000
completions plus 10,000 error rows appended at the end, which must be left out), and a
``prompts.jsonl`` with checks, then runs ``evaluators.scoring.score_run`` with the default
evaluators on it in a fresh child process and prints its wall time, CPU time (user + system,
its scoring workers included) and peak resident memory: a bound on the process tree, the
child's ``VmHWM`` (interpreter, pandas, the reader's buffers, the chunks in flight) plus one
per core times the largest worker's peak (``RUSAGE_CHILDREN``: the workers are spawned, so
they carry no inherited peak; this parent's own ``ru_maxrss`` would include building the
corpus, hence the child). On a shared machine, wall time grows with other people's load
(the load average is printed).
``--corpus PATH`` keeps the corpus at PATH and reuses it. Targets: < 3 min and < 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench_scoring import ROOT, completions, prompt_checks  # noqa: E402
from hfsweep.core import records  # noqa: E402  (bench_scoring puts the repository on sys.path)

N_GROUPS, K, N_CELLS = 50_000, 20, 500
TARGET_S, TARGET_GIB = 180.0, 2.0

CHILD = """
import json, re, sys, time
t0 = time.perf_counter()
from hfsweep.evaluators.scoring import score_run
counts = score_run(sys.argv[1])
counts["seconds"] = time.perf_counter() - t0
import os, resource
status = open("/proc/self/status").read()
own = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 2**20
worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # the largest scoring worker's peak
counts["peak_gib"] = own + (os.cpu_count() or 1) * worker  # bound on the tree: this process and every worker at its peak
counts["own_gib"], counts["worker_gib"] = own, worker
print(json.dumps(counts))
"""


def build(run_dir: Path) -> None:
    """Write the corpus into ``run_dir`` unless it is there already."""
    if (run_dir / records.COMPLETIONS).is_file() and (run_dir / records.PROMPTS).is_file():
        print(f"corpus: reusing {run_dir}")
        return
    t0 = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    table = completions(n_groups=N_GROUPS, k=K, n_cells=N_CELLS)
    n_prompts = int(table["prompt_id"].nunique())
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False),
                   run_dir / records.COMPLETIONS, row_group_size=2**21)
    rows = prompt_checks(n_prompts)
    (run_dir / records.PROMPTS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"corpus: {len(table)} rows in {run_dir}, {N_GROUPS} groups of {K}, {n_prompts} "
          f"prompts x {N_CELLS} cells; built in {time.perf_counter() - t0:.0f} s")


def score(run_dir: Path) -> dict:
    """Score in a child; its counts, wall and CPU times, and peak memory."""
    t0, cpu0 = time.perf_counter(), os.times()
    out = subprocess.run([sys.executable, "-c", CHILD, str(run_dir)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    cpu1 = os.times()
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    counts["wall"] = time.perf_counter() - t0
    counts["cpu"] = (cpu1.children_user - cpu0.children_user
                     + cpu1.children_system - cpu0.children_system)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="directory to keep (and reuse) the corpus in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.corpus or Path(tmp)
        build(run_dir)
        load = os.getloadavg()[0]
        c = score(run_dir)
        groups = pq.read_metadata(run_dir / records.GROUP_SCORES).num_rows
    print(f"scored: {c['scored']} completions ({c['errors']} error rows left out), "
          f"{c['groups']} groups")
    print(f"score_run: wall {c['wall']:.0f} s, CPU {c['cpu']:.0f} s  target < {TARGET_S:.0f} s "
          f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on "
          f"{os.cpu_count()} cores)")
    print(f"peak memory: {c['peak_gib']:.2f} GiB  target < {TARGET_GIB:.0f} GiB (bound: the scoring process's VmHWM "
          f"{c['own_gib']:.2f} GiB + {os.cpu_count()} workers x the largest worker's peak {c['worker_gib']:.2f} GiB)")
    ok = (c["wall"] < TARGET_S and c["peak_gib"] < TARGET_GIB
          and c["scored"] == N_GROUPS * K and c["groups"] == groups == N_GROUPS
          and c["errors"] == N_GROUPS * K // 100)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
