"""Runner throughput against the fault server (subprocess) with 200 ms latency and no faults.

At concurrency 16 the ideal is 16 / 0.2 s = 80 requests/s; the target is at least 90% of it.
Run: ``python bench/bench_runner_throughput.py [--requests 320] [--concurrency 16] [--latency 0.2]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sweeps.compose import compose_config  # noqa: E402
from sweeps.runner import run_sweep  # noqa: E402
from tests.servers.fault_server import spawn  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    prompts = 20
    samples = -(-args.requests // prompts)
    proc, url = spawn(["--latency", str(args.latency)])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["HFSWEEP_CACHE_DIR"] = str(Path(tmp) / "cache")
            config, mapping = compose_config([
                "model=endpoint", f"model.endpoint={url}", "model.id=bench", "sweep=single", f"prompts.limit={prompts}",
                f"samples={samples}", "sampling.max_tokens=16", f"runner.concurrency={args.concurrency}",
                "runner.progress=false", "runner.cache=false",
            ])  # fmt: skip
            start = time.perf_counter()
            result = run_sweep(config, Path(tmp) / "run", mapping)
            wall = time.perf_counter() - start
            rows = [json.loads(line) for line in (Path(tmp) / "run" / "completions.jsonl").open()]
    finally:
        proc.terminate()
        proc.wait(10)
    n = result.requests
    ideal = args.concurrency / args.latency
    # The sending window: first request out to last completion recorded.
    window = _seconds(max(r["finished_at"] for r in rows)) - _seconds(min(r["started_at"] for r in rows))
    ratio, ratio_window = n / wall / ideal, n / window / ideal
    print(f"requests: {n} (sent {result.stats.sent}, errors {result.stats.errors}), concurrency {args.concurrency}, "
          f"server latency {args.latency * 1000:.0f} ms, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"ideal: {ideal:.1f} req/s ({n / ideal:.2f} s)")
    print(f"end to end (run_sweep: plan, sending, parquet, summary): {wall:.2f} s = {n / wall:.1f} req/s, ratio {ratio:.3f}")
    print(f"sending window (first request to last record):           {window:.2f} s = {n / window:.1f} req/s, ratio {ratio_window:.3f}")
    print(f"target >= 0.90 end to end: {'met' if ratio >= 0.90 else 'MISSED'}")
    return 0 if ratio >= 0.90 and result.stats.errors == 0 else 1


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


if __name__ == "__main__":
    raise SystemExit(main())
