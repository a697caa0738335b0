"""Benchmark: report build time and page size on synthetic runs.

    python bench/bench_report.py [--keep DIR]

1. 200 cells (temperature x top_p, 20 x 10) x 10 prompts x 5 samples = 10,000 completions:
   scored with evaluators.scoring.score_run (timed apart), then build_report timed
   (target < 30 s) and the page size printed.
2. 200 cells x 50 prompts x 5 samples = 50,000 completions: page size (target < 15 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VOCAB = np.array(("the a of and to in river bread city light old village people will make water time slowly "
                  "bright quiet market night small warm stone road morning dough salt flour future green "
                  "machine dream house window story garden winter summer <b> & \" ' < >").split())


def synth_run(out: Path, prompts: int, samples: int = 5, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    temps = np.round(np.linspace(0.0, 1.9, 20), 2)
    top_ps = np.round(np.linspace(0.55, 1.0, 10), 2)
    rows = []
    for t in temps:
        for p in top_ps:
            setting = hashlib.sha256(f"{t}|{p}".encode()).hexdigest()[:16]
            cell = hashlib.sha256(f"m|{setting}".encode()).hexdigest()[:16]
            spread = max(3, int(len(VOCAB) * min(1.0, 0.15 + t * p / 1.5)))
            for j in range(prompts):
                greedy = None
                for i in range(samples):
                    n = int(rng.integers(40, 150))
                    if t == 0:
                        greedy = greedy or " ".join(VOCAB[[j % 7, 8, 9, 10]].tolist() * 40)[: n * 6]
                        text, fin = greedy, "length"
                    else:
                        text = " ".join(VOCAB[rng.integers(0, spread, n)].tolist())
                        fin = "length" if n > 128 else "stop"
                    err = "http_503" if rng.random() < 0.002 else None
                    rows.append(dict(
                        schema_version=1, run_id="bench", cell_id=cell, setting_id=setting, setting_name="",
                        target_kind="embedded", model="synthetic", endpoint=None, provider=None, mode="text",
                        temperature=float(t), top_k=0, top_p=float(p), frequency_penalty=0.0, presence_penalty=0.0,
                        max_tokens=128, seed=i, prompt_id=f"p{j}", prompt=f"Prompt number {j}: tell a story",
                        sample_index=i, text=None if err else text, finish_reason=None if err else fin,
                        prompt_tokens=12, completion_tokens=None if err else min(n, 128),
                        latency_s=float(rng.uniform(0.1, 2.0)), retries=0, error=err,
                        error_message="Service Unavailable" if err else None, cache_key=f"{cell}{j}{i}",
                        cached=False, started_at="2025-01-01T00:00:00Z", finished_at="2025-01-01T00:00:01Z"))
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(out / "completions.parquet", index=False)
    return len(rows)


def bench(root: Path, prompts: int, label: str) -> None:
    from evaluators.scoring import score_run

    import reports

    run = root / label
    t0 = time.perf_counter()
    n = synth_run(run, prompts)
    t1 = time.perf_counter()
    score_run(run)
    t2 = time.perf_counter()
    page = reports.build_report([run])
    t3 = time.perf_counter()
    size = page.stat().st_size
    print(f"{label}: {n} completions, 200 cells x {prompts} prompts x 5 samples")
    print(f"  synth {t1 - t0:.1f} s, score_run {t2 - t1:.1f} s, build_report {t3 - t2:.1f} s")
    print(f"  page {size / 1e6:.2f} MB ({page}), plots {len(list((page.parent / 'plots').glob('*.svg')))}")
    print(f"  targets: build < 30 s {'OK' if t3 - t2 < 30 else 'MISSED'}, page < 15 MB {'OK' if size < 15e6 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="write runs here instead of a temporary directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        bench(root, 10, "run_10k")
        bench(root, 50, "run_50k")


if __name__ == "__main__":
    main()
