"""The steps a run takes, callable from the CLI, Hydra jobs, tests and notebooks alike."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sweeps.config import Config
from sweeps.errors import ConfigError
from sweeps.runner import RunResult, run_sweep


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
    from evaluators import MissingExtraError, UnknownEvaluatorError
    from evaluators.scoring import score_run

    try:
        return score_run(run_dir, names)
    except (UnknownEvaluatorError, MissingExtraError) as error:
        raise ConfigError(f"evaluators: {error}") from None


def report(paths: list[Path], out: Path | None = None, options: dict | None = None) -> Path:
    """Build the HTML report (plus CSV tables and PNG plots) for one or more runs."""
    from reports import build_report
    from reports.options import ReportError

    try:
        return build_report(paths, out, options)
    except ReportError as error:
        raise ConfigError(f"report: {error}") from None


def run_score_report(config: Config, mapping: dict, run_dir: Path) -> tuple[RunResult, Path | None]:
    """Run the sweep, score it, and write the report (unless ``report.enabled`` is false)."""
    result = run_sweep(config, run_dir, mapping)
    if result.interrupted:
        return result, None
    score(run_dir, list(config.evaluators) if config.evaluators else None)
    if not config.report.get("enabled", True):
        return result, None
    options = {key: value for key, value in config.report.items() if key != "enabled"}
    return result, report([run_dir], options=options)
