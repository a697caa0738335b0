"""Harness overhead: the same 60 requests through `hfsweep run` and through a plain serial
InferenceClient loop, against the same embedded llama-server, in one run.

Target (issue 2): hfsweep's wall time <= 1.05x the plain loop's. `hfsweep run` is timed as a
whole command (Python start, config, requests, records, scoring); the report step is timed
separately and printed beside it.

    python bench/bench_harness_overhead.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from huggingface_hub import InferenceClient

from sweeps.compose import compose_config
from sweeps.config import ModelTarget
from sweeps.embedded import LlamaServer
from sweeps.plan import make_plan
from sweeps.backends import ChatBackend

OVERRIDES = ["sweep=quick", "prompts.limit=5", "samples=2", "sampling.max_tokens=64"]  # 6 cells x 5 x 2 = 60


def plain_loop(url: str, overrides: list[str]) -> float:
    config, _ = compose_config(overrides)
    plan = make_plan(config)
    body = ChatBackend(config.model, plan.capability, url, "x", 600).body
    client = InferenceClient(base_url=url, token="hfsweep-local", timeout=600)
    start = time.perf_counter()
    for job in plan.jobs:
        client.chat_completion(job.request.messages(), model=config.model.id, **body(job.request))
    return time.perf_counter() - start


def hfsweep_run(url: str, overrides: list[str], extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "sweeps.cli", "run", "--run-dir", f"{tmp}/run", *overrides, "runner.progress=false", *extra]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "HFSWEEP_CACHE_DIR": tmp})
        return time.perf_counter() - start


def main() -> None:
    target = ModelTarget(kind="embedded", id="smollm2", gguf="smollm2", server="llama.cpp", slots=4)
    with LlamaServer(target) as server:
        endpoint = ["model=endpoint", f"model.endpoint={server.url}", "model.id=smollm2", "model.server=llama.cpp"]
        overrides = [*endpoint, *OVERRIDES]
        plain_loop(server.url, [*endpoint, "sweep=single", "prompts.limit=2", "samples=1", "sampling.max_tokens=8"])  # warm-up
        plain = plain_loop(server.url, overrides)
        ours = hfsweep_run(server.url, overrides, ["report.enabled=false"])
        with_report = hfsweep_run(server.url, overrides, [])
    print(f"60 requests, SmolLM2-135M on embedded llama-server ({target.slots} slots), 64 max tokens")
    print(f"plain serial InferenceClient loop : {plain:7.2f} s")
    print(f"hfsweep run (run + records + score): {ours:7.2f} s  ratio {ours / plain:.3f}  (target <= 1.05)")
    print(f"hfsweep run with the HTML report  : {with_report:7.2f} s  ratio {with_report / plain:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
