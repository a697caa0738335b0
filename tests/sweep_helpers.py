"""Helpers for tests that run whole sweeps against the local test servers (no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.runner import RunResult, run_sweep

QUIET = ["sweep=single", "sampling.max_tokens=8", "runner.progress=false", "++report.enabled=false",
         "runner.backoff_base_s=0.01", "runner.timeout_s=1"]  # fmt: skip
# `hfsweep run` ends by scoring: these tests are about the runner, so score with two cheap evaluators.
SCORE_LIGHT = ["evaluators=[chars,words]"]


def endpoint(url: str, *, server: str = "openai", mode: str = "chat", model_id: str = "fault-server-model") -> list[str]:
    """Overrides that point a run at a local server."""
    return ["model=endpoint", f"model.endpoint={url}", f"model.id={model_id}", f"model.server={server}", f"model.mode={mode}"]


def sweep(run_dir: Path, overrides: list[str]) -> tuple[RunResult, pd.DataFrame, dict]:
    """Run a sweep in-process: the result, completions.parquet and summary.json."""
    config, mapping = compose_config([*QUIET, *overrides])
    result = run_sweep(config, run_dir, mapping)
    frame = pd.read_parquet(run_dir / "completions.parquet")
    summary = json.loads((run_dir / "summary.json").read_text())
    return result, frame, summary


def grid_keys(frame: pd.DataFrame) -> list[tuple]:
    return sorted(zip(frame["cell_id"], frame["prompt_id"], frame["sample_index"]))
