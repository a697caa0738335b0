"""The steps a run takes, callable from the CLI, Hydra jobs, tests and notebooks alike."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from hfsweep.core import records
from hfsweep.evaluators.scoring import score_run
from hfsweep.reports import build_report
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.judge import judge_run, merge_scores
from hfsweep.sweeps.runner import RunResult, run_sweep


def new_run_dir(config: Config) -> Path:
    """A fresh directory under ``out_dir`` named by time, sweep and model."""
    stem = f"{datetime.now():%Y%m%d-%H%M%S}-{config.sweep.name}-{config.model.id}".replace("/", "_")
    base = Path(config.out_dir)
    run_dir, n = base / stem, 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{stem}-{n}"
    return run_dir


def score(run_dir: Path, names: list[str] | None = None) -> dict:
    """Score a run's completions into scores.parquet and group_scores.parquet."""


    path = records.check_run_dir(run_dir) / records.COMPLETIONS
    records.check_version(pq.read_table(path, columns=["schema_version"]).column(0).to_pylist(), run_dir)
    counts = score_run(run_dir, names)
    merge_scores(run_dir)
    return counts


def report(paths: list[Path], out: Path | None = None, options: dict | None = None) -> Path:
    """Build the HTML report (plus CSV tables and SVG plots) for one or more runs."""
    return build_report(paths, out, options)


def run_score_report(config: Config, mapping: dict, run_dir: Path) -> tuple[RunResult, Path | None]:
    """Run the sweep, score it, and write the report (unless ``report.enabled`` is false)."""
    result = run_sweep(config, run_dir, mapping)
    if result.interrupted or result.failed:
        return result, None
    if config.judge.model is not None:
        judge_run(config, run_dir)
    score(run_dir, list(config.evaluators) if config.evaluators else None)
    if not config.report.enabled:
        return result, None
    options = {key: value for key, value in dataclasses.asdict(config.report).items() if key != "enabled"}
    return result, report([run_dir], options=options)
