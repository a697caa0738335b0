"""Runner throughput, latency-bound: `hfsweep run` against the fault server (subprocess) answering
every request after a fixed latency, no faults.

At concurrency 16 and 200 ms the ideal is 16 / 0.2 s = 80 requests/s (640 requests: 8.0 s).
Targets (issue 13): the requests (first request sent to last record, from completions.jsonl)
at least 90% of the ideal rate, and the whole command (Python start, config, requests,
records, scoring, the report) at least 75%.

    python bench/bench_runner_throughput.py [--requests 640] [--concurrency 16] [--latency 0.2] [--rounds 2]
"""

from __future__ import annotations

import argparse
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


def one_run(url: str, args, prompts: int, samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        command = [sys.executable, "-m", "hfsweep", "run", "--run-dir", str(run_dir), "model=endpoint",
                   f"model.endpoint={url}", "model.id=bench", "model.server=openai", "sweep=single",
                   f"prompts.limit={prompts}", f"samples={samples}", "sampling.max_tokens=16",
                   f"runner.concurrency={args.concurrency}", "runner.progress=false"]  # fmt: skip
        env = {**os.environ, "HFSWEEP_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
        whole = time.perf_counter() - start
        rows = [json.loads(line) for line in (run_dir / "completions.jsonl").open()]
        assert (run_dir / "report" / "index.html").is_file()
    errors = sum(1 for r in rows if r["error"])
    seconds = [datetime.fromisoformat(r[k]).timestamp() for r in rows for k in ("started_at", "finished_at")]
    return {"n": len(rows), "errors": errors, "whole": whole, "requests": max(seconds) - min(seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    prompts = 20
    samples = -(-args.requests // prompts)
    proc, url = spawn(["--latency", str(args.latency)])
    results = []
    try:
        for _ in range(args.rounds):
            results.append(one_run(url, args, prompts, samples))
    finally:
        proc.terminate()
        proc.wait(10)
    ideal = args.concurrency / args.latency
    n = results[0]["n"]
    print(f"{n} requests, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms: ideal {ideal:.1f} req/s "
          f"({n / ideal:.2f} s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    for k, r in enumerate(results, 1):
        print(f"round {k}: requests {r['requests']:.2f} s = {n / r['requests']:.1f} req/s ({n / r['requests'] / ideal:.1%} of ideal); "
              f"whole command {r['whole']:.2f} s ({n / r['whole'] / ideal:.1%} of ideal); errors {r['errors']}")  # fmt: skip
    best_req = min(r["requests"] for r in results)
    best_whole = min(r["whole"] for r in results)
    ok_req, ok_whole = n / best_req / ideal >= 0.90, n / best_whole / ideal >= 0.75
    print(f"best: requests {n / best_req / ideal:.1%} (target >= 90%: {'met' if ok_req else 'MISSED'}), "
          f"whole command {n / best_whole / ideal:.1%} (target >= 75%: {'met' if ok_whole else 'MISSED'})")
    return 0 if ok_req and ok_whole and not any(r["errors"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
