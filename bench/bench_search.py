"""Adaptive search vs the full grid, side by side in one run, against a local server with a
planted best feasible cell.

48 cells (4 temperatures x 4 top_p x 3 top_k) over 24 prompts x 3 samples (3,456 requests for
the grid). Planted: every cell passes a prompt's check with probability 0.55, the best
feasible cell (temperature 0.7, top_p 0.9, top_k 40) with 0.85, and temperature 0.3 passes
with 0.95 but loops (infeasible under loop_rate <= 0.1). For 10 seeds (prompt order and
sampling seeds), each strategy's choice and requests. Target (issue 12): halving and sequential
find the planted cell in >= 9 of 10 seeds with <= 40% of the grid's requests.

    python bench/bench_search.py [--seeds 10] [--first-seed 0] [--strategies grid,halving,sequential]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

import hfsweep  # noqa: E402
from hfsweep.sweeps.compose import compose_config  # noqa: E402
from hfsweep.sweeps.runner import run_sweep  # noqa: E402
from bench.bench_strategies import sampling_seed  # noqa: E402
from tests.servers.planted import Planted, PlantedServer  # noqa: E402

BEST = (0.7, 0.9, 40)


def pass_prob(p: dict) -> float:
    if p["temperature"] == 0.3:
        return 0.95
    return 0.85 if (p["temperature"], p["top_p"], p["top_k"]) == BEST else 0.55


def choice(run_dir: Path, strategy: str) -> tuple[tuple | None, int]:
    """The report's recommended cell as (temperature, top_p, top_k), None without one, and the
    requests the run made. Every strategy is judged by the same rule: the report's."""
    run = hfsweep.load(run_dir)
    run.report(plots=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    requests = summary["search"]["requests"] if strategy != "grid" else len(run.completions)
    rec = run.recommendation
    if rec.empty or not bool(rec["constraints_met"].iloc[0]):
        return None, requests
    row = rec.iloc[0]
    return (float(row["temperature"]), float(row["top_p"]), int(row["top_k"])), requests


def why_missed(run_dir: Path) -> str:
    """Where the planted cell went: dropped (in which round, on what evidence) or outranked at the end."""
    frame = pd.read_parquet(run_dir / "completions.parquet")
    match = frame[(frame["temperature"] == BEST[0]) & (frame["top_p"] == BEST[1]) & (frame["top_k"] == BEST[2])]
    cell = match["cell_id"].iloc[0]
    for line in (run_dir / "search.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if cell in entry["dropped"]:
            return f"dropped in round {entry['round']}: {entry['dropped'][cell]}"
    last = json.loads((run_dir / "search.jsonl").read_text().splitlines()[-1])
    return f"alive to the end, outranked: {last['estimates'].get(cell)} vs leader {last['estimates'].get(last['leader'])}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (more seeds on top of an earlier run)")
    parser.add_argument("--strategies", default="grid,halving,sequential")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    prompts = work / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i:02d}", "prompt": f"Question {i}?",
                                           "checks": [{"type": "contains", "value": "ANSWER"}]}) + "\n" for i in range(24)))  # fmt: skip
    results: dict[str, list[tuple[bool, int, float]]] = {name: [] for name in args.strategies.split(",")}
    planted = Planted(pass_prob=pass_prob, loops=lambda p: p["temperature"] == 0.3)
    with PlantedServer(planted) as server:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in results:
                os.environ["HFSWEEP_CACHE_DIR"] = str(work / f"cache-{seed}-{strategy}")
                overrides = ["model=endpoint", f"model.endpoint={server.url}", "model.id=planted", "model.server=llama.cpp",
                             f"prompts.file={prompts}", "samples=3", "sampling.max_tokens=32", f"sampling.seed={sampling_seed(seed)}",
                             "sweep.grid.temperature=[0.3,0.7,1.0,1.3]", "sweep.grid.top_p=[0.5,0.7,0.9,1.0]",
                             "+sweep.grid.top_k=[0,40,100]", 'objective.constraints=["loop_rate <= 0.1"]',
                             "evaluators=[loop,loop_rate,check_pass,pass_rate]", "runner.progress=false", f"search={strategy}"]  # fmt: skip
                config, mapping = compose_config(overrides)
                run_dir = work / f"{strategy}-{seed}"
                start = time.perf_counter()
                run_sweep(config, run_dir, mapping)
                cell, requests = choice(run_dir, strategy)
                results[strategy].append((cell == BEST, requests, time.perf_counter() - start))
                print(f"seed {seed} {strategy:<10} chose {cell} {'(planted best)' if cell == BEST else '(MISS)'} "
                      f"with {requests} requests in {results[strategy][-1][2]:.1f} s", flush=True)
                if cell is not None and cell != BEST and strategy != "grid":
                    print("  why:", why_missed(run_dir), flush=True)
    full = 48 * 24 * 3
    print(f"\n{'strategy':<11} {'hits':>6} {'mean requests':>14} {'share of grid':>14}   target: >= 9/10 hits, <= 40%")
    for strategy, rows in results.items():
        hits = sum(hit for hit, _, _ in rows)
        mean = sum(r for _, r, _ in rows) / len(rows)
        print(f"{strategy:<11} {hits:>3}/{len(rows):<2} {mean:>14.0f} {mean / full:>13.1%}")


if __name__ == "__main__":
    main()
