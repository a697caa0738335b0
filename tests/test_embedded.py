"""The real embedded llama-server end to end: a tiny sweep, its records, and no orphan server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from tests.cli_helpers import run_cli, start_cli

TINY = ["sweep.grid.temperature=[0.0,1.0]", "~sweep.grid.top_p", "prompts.limit=2", "samples=2", "sampling.max_tokens=16"]
COLUMNS = [
    "cell_id", "model", "temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "seed",
    "prompt_id", "prompt", "sample_index", "text", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "error",
]  # fmt: skip


def servers_with(alias: str) -> list[str]:
    result = subprocess.run(["pgrep", "-f", f"llama-server.*--alias {alias}"], capture_output=True, text=True)
    return result.stdout.split()


@pytest.mark.slow
def test_tiny_sweep_on_the_embedded_server(tmp_path):
    alias = f"smol-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *TINY, f"model.id={alias}", "report.enabled=false"], timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"run directory: {run_dir}" in done.stdout
    assert not servers_with(alias), "llama-server outlived the run"

    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert list(frame.columns[: len(frame.columns)]) and set(COLUMNS) <= set(frame.columns)
    assert len(frame) == 2 * 2 * 2
    assert frame["cell_id"].nunique() == 2 and frame["prompt_id"].nunique() == 2
    assert sorted(frame["temperature"].unique()) == [0.0, 1.0]
    assert (frame["seed"] == frame["sample_index"]).all()  # seed = sampling.seed (0) + sample index
    assert frame["error"].isna().all() and (frame["text"].str.len() > 0).all()
    assert (frame["completion_tokens"] <= 16).all() and (frame["finish_reason"] == "length").any()
    assert (frame["model"] == alias).all() and (frame["latency_s"] > 0).all()
    sent = json.loads(frame["request_params"].iloc[0])
    assert sent["extra_body"]["min_p"] == 0.0 and sent["extra_body"]["top_k"] == 0
    config = (run_dir / "config.yaml").read_text()
    assert "max_tokens: 16" in config
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"] == 8 and summary["sent"] == 8 and summary["swept"] == ["temperature"]
    assert (run_dir / "scores.parquet").exists() and (run_dir / "group_scores.parquet").exists()
    # records were written as they finished, not only at the end
    assert len((run_dir / "completions.jsonl").read_text().splitlines()) == 8


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_no_orphan_server_after_interrupt_or_kill(tmp_path, sig):
    alias = f"smol-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "run"
    proc = start_cli(["run", "--run-dir", str(run_dir), "prompts.limit=4", "sampling.max_tokens=64", f"model.id={alias}"])
    deadline = time.monotonic() + 120
    while not (run_dir / "completions.jsonl").exists() or not (run_dir / "completions.jsonl").read_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "timeout"
        time.sleep(0.2)
    assert servers_with(alias)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "Run the same command again to finish the rest" in err
        assert (run_dir / "completions.parquet").exists()
    for _ in range(50):
        if not servers_with(alias):
            break
        time.sleep(0.2)
    assert not servers_with(alias), "llama-server outlived hfsweep"
    finished = Path(run_dir / "completions.jsonl").read_text().splitlines()
    assert finished and all(json.loads(line)["text"] for line in finished)
