"""A fully cached re-run: a 1,000-request sweep against the fault server (subprocess, some
latency), then the same sweep again. Target: zero requests reach the server on the re-run, and it
takes under 5% of the first run's wall time.

Run: ``python bench/bench_cache_rerun.py [--requests 1000] [--latency 0.05] [--concurrency 16]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hfsweep.sweeps.compose import compose_config  # noqa: E402
from hfsweep.sweeps.runner import run_sweep  # noqa: E402
from tests.servers.fault_server import spawn  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    prompts = 25
    samples = -(-args.requests // prompts)
    proc, url = spawn(["--latency", str(args.latency)])

    def server_requests() -> int:
        with urllib.request.urlopen(f"{url}/stats") as response:
            return json.load(response)["generation_requests"]

    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["HFSWEEP_CACHE_DIR"] = str(Path(tmp) / "cache")
            config, mapping = compose_config([
                "model=endpoint", f"model.endpoint={url}", "model.id=bench", "sweep=single", f"prompts.limit={prompts}",
                f"samples={samples}", "sampling.max_tokens=16", f"runner.concurrency={args.concurrency}", "runner.progress=false",
            ])  # fmt: skip
            timings, counts, results = [], [], []
            for name in ("first", "rerun"):
                before = server_requests()
                start = time.perf_counter()
                results.append(run_sweep(config, Path(tmp) / name, mapping))
                timings.append(time.perf_counter() - start)
                counts.append(server_requests() - before)
    finally:
        proc.terminate()
        proc.wait(10)
    (first_s, rerun_s), (first_n, rerun_n) = timings, counts
    ratio = rerun_s / first_s
    print(f"requests: {results[0].requests}; server latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"first run:  {first_s:6.2f} s, {first_n} requests reached the server ({results[0].stats.sent} sent)")
    print(f"re-run:     {rerun_s:6.2f} s, {rerun_n} requests reached the server "
          f"({results[1].stats.sent} sent, {results[1].stats.cache_hits} from cache)")  # fmt: skip
    print(f"ratio: {ratio * 100:.1f}% of the first run's wall time (target < 5%)")
    assert rerun_n == 0 and results[1].stats.sent == 0, "the re-run sent requests"
    assert results[1].stats.cache_hits == results[0].requests
    return 0 if ratio < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
