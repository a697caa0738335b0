"""Completions joined with their per-sample scores, written as JSON lines or CSV.

``hfsweep export RUN_DIR --format jsonl|csv [--out PATH]`` calls :func:`export`. One row per
completion (every column of ``completions.parquet``, error rows included), then the metric
columns of ``scores.parquet`` matched on (cell_id, prompt_id, sample_index); an error row
has no scores (null / empty). A run that was never scored is scored first, as for a report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hfsweep.core.errors import ReportError
from hfsweep.reports.load import load_runs, metric_columns

FORMATS = ("jsonl", "csv")
JOIN_KEYS = ["cell_id", "prompt_id", "sample_index"]


def joined(paths) -> pd.DataFrame:
    """Every completion of the runs under ``paths`` with its per-sample metric values."""
    data = load_runs(paths)
    scores = data.scores
    metrics = [m for m in metric_columns(scores) if m not in JOIN_KEYS]
    per_sample = scores[JOIN_KEYS + metrics].drop_duplicates(JOIN_KEYS)
    return data.completions.merge(per_sample, on=JOIN_KEYS, how="left", suffixes=("", "_score"), validate="m:1")


def export(run_dir: str | Path, fmt: str = "jsonl", out: str | Path | None = None) -> tuple[Path, int]:
    """Write the joined table of a run (or sweep) directory; return (path, rows).

    Args:
        run_dir: a run directory written by ``hfsweep run`` (or a sweep directory of them).
        fmt: ``jsonl`` (one JSON object per line, UTF-8, null for missing) or ``csv``.
        out: file to write; default ``RUN_DIR/export.<fmt>``.

    Raises:
        ReportError: ``run_dir`` holds no run, or ``fmt`` is not a known format.
    """
    if fmt not in FORMATS:
        raise ReportError(f"Unknown export format {fmt!r}. Available: {', '.join(FORMATS)}.")
    run_dir = Path(run_dir)
    df = joined([run_dir])
    path = Path(out) if out is not None else run_dir / f"export.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False, date_format="iso", double_precision=15)
    else:
        df.to_csv(path, index=False, lineterminator="\n")
    return path, len(df)
