"""Benchmark: score 100,000 completions (10,000 groups of 10, ~100 tokens) with the defaults.

Run: ``python bench/bench_scoring.py``. Writes a synthetic ``completions.parquet`` (100,000
completions plus 1,000 error rows, which must be left out), then runs ``evaluators.scoring.score_run`` on it in a
fresh child process and prints that process's wall time and peak resident memory
(``ru_maxrss``, which includes the interpreter, pandas and the table read from disk).
Targets: < 60 s and < 2 GiB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from corpus import synthetic_texts  # noqa: E402  (bench/ is on sys.path when a script runs)

N_GROUPS, K, TOKENS = 10_000, 10, 100
N_CELLS = 100
ERROR_SHARE = 0.01
TARGET_S, TARGET_GIB = 60.0, 2.0

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from evaluators.scoring import score_run
counts = score_run(sys.argv[1])
counts["seconds"] = time.perf_counter() - t0
print(json.dumps(counts))
"""


def completions(seed: int = 0) -> pd.DataFrame:
    """The synthetic completions table, in the runner's schema.

    ``N_GROUPS * K`` completions, plus ``ERROR_SHARE`` of that many failed requests (as
    extra sample indices) that scoring must leave out.
    """
    rng = np.random.default_rng(seed)
    n = N_GROUPS * K
    group = np.repeat(np.arange(N_GROUPS), K)
    cell = group % N_CELLS
    prompt = group // N_CELLS
    temps = np.round(np.linspace(0.0, 2.0, N_CELLS), 3)
    sample = np.tile(np.arange(K), N_GROUPS)
    ok = pd.DataFrame({
        "schema_version": 1, "run_id": "bench", "cell_id": [f"cell{c:03d}" for c in cell],
        "setting_id": [f"set{c:03d}" for c in cell],
        "setting_name": [f"temperature={temps[c]}" for c in cell],
        "target_kind": "embedded", "model": "smollm2", "endpoint": None, "provider": None,
        "mode": "chat", "temperature": temps[cell], "top_k": 0, "top_p": 1.0,
        "frequency_penalty": 0.0, "presence_penalty": 0.0, "max_tokens": 128,
        "seed": 1000 + sample, "prompt_id": [f"p{p:03d}" for p in prompt], "prompt": "Write.",
        "sample_index": sample, "text": synthetic_texts(n, TOKENS, seed=seed),
        "finish_reason": rng.choice(["stop", "length"], size=n, p=[0.7, 0.3]),
        "prompt_tokens": 12,
        "completion_tokens": pd.array(rng.integers(50, 129, size=n), dtype="Int64"),
        "latency_s": 0.5, "retries": 0, "error": None, "error_message": None,
        "cache_key": [f"k{i}" for i in range(n)], "cached": False,
        "started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:00:01Z",
    })
    failed = ok.sample(n=int(n * ERROR_SHARE), random_state=seed).assign(
        sample_index=K, seed=1000 + K, text=None, finish_reason=None, completion_tokens=None,
        error="HfHubHTTPError", error_message="503 Service Unavailable")
    return pd.concat([ok, failed], ignore_index=True)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = completions()
        table.to_parquet(Path(tmp) / "completions.parquet", index=False)
        n_err = int(table["error"].notna().sum())
        print(f"corpus: {len(table)} rows ({n_err} error rows), {N_GROUPS} groups of {K}, "
              f"~{TOKENS} tokens; built in {time.perf_counter() - t0:.1f} s")
        del table
        root = str(Path(__file__).resolve().parents[1])
        t1 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, tmp], check=True, cwd=root,
                             capture_output=True, text=True)
        wall = time.perf_counter() - t1
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        counts = json.loads(out.stdout.strip().splitlines()[-1])
        groups = pd.read_parquet(Path(tmp) / "group_scores.parquet")
        scores = pd.read_parquet(Path(tmp) / "scores.parquet")
    print(f"scored: {counts}")
    print(f"scores.parquet {scores.shape}, group_scores.parquet {groups.shape}")
    print(f"score_run wall time: {counts['seconds']:.1f} s inside the child "
          f"({wall:.1f} s including interpreter start)  target < {TARGET_S:.0f} s")
    print(f"peak memory (child ru_maxrss): {peak_gib:.2f} GiB  target < {TARGET_GIB:.0f} GiB")
    ok = (wall < TARGET_S and peak_gib < TARGET_GIB and counts["errors"] == n_err
          and counts["scored"] == N_GROUPS * K and counts["groups"] == N_GROUPS)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
