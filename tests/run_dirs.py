"""The one builder of synthetic run directories, written through the project's record definitions.

A test that needs a run directory without running a sweep makes its rows with :func:`completion`
(a :class:`~hfsweep.core.records.CompletionRecord` as a dict: defaults for every field the test
does not name) and writes them with :func:`write_run`: ``completions.parquet`` through the
runner's own writer (``hfsweep.sweeps.store.write_parquet``, typed by the record's annotations),
and, when given, scores, group scores, ``config.yaml`` and ``summary.json``, under the file names
of ``hfsweep.core.records``. :func:`write_failed_job` writes a multirun job that failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from hfsweep.core import records
from hfsweep.core.records import FIELDS, CompletionRecord
from hfsweep.sweeps.store import write_parquet

# A finished completion of one sample; every field but the cache key (made from the row's keys).
DEFAULTS = dict(
    run_id="synthetic", cell_id="cell", setting_id="setting", setting_name="", target_kind="endpoint",
    model="synthetic-model", endpoint=None, provider=None, mode="text", temperature=1.0, top_k=0, top_p=1.0,
    frequency_penalty=0.0, presence_penalty=0.0, max_tokens=64, seed=0, prompt_id="p0", prompt="prompt",
    sample_index=0, text="synthetic text", finish_reason="stop", prompt_tokens=None, completion_tokens=None,
    logprob_sum=None, logprob_tokens=None, latency_s=0.1, total_s=0.1, retries=0, error=None, error_message=None,
    # No request was sent: the report says "not recorded", as for a run written before request_params.
    request_params=None, cached=False, started_at="2025-01-01T00:00:00Z", finished_at="2025-01-01T00:00:01Z",
)  # fmt: skip


def completion(**fields) -> dict:
    """One completion row with every field of the record: ``fields`` over :data:`DEFAULTS`
    (a name the record does not have is a TypeError); ``schema_version`` is this schema's and
    ``cache_key`` is ``cell|prompt|sample`` unless given."""
    values = {**DEFAULTS, **fields}
    values.setdefault("cache_key", f"{values['cell_id']}|{values['prompt_id']}|{values['sample_index']}")
    record = CompletionRecord(**values)
    return {name: getattr(record, name) for name in FIELDS}


def _rows(table: list[dict] | pd.DataFrame) -> list[dict]:
    """Rows as dicts, a frame's missing values as None (pandas holds a missing int as NaN)."""
    if isinstance(table, pd.DataFrame):
        return table.astype(object).where(table.notna(), None).to_dict("records")
    return list(table)


def write_run(run_dir: Path, completions: list[dict] | pd.DataFrame, *, scores: list[dict] | pd.DataFrame | None = None,
              group_scores: list[dict] | pd.DataFrame | None = None, config: dict | None = None,
              summary: dict | None = None) -> Path:  # fmt: skip
    """Write a run directory and return it. ``completions``: rows of every record field (from
    :func:`completion`, or a frame of them), written in their own order; ``scores`` and
    ``group_scores`` as the scorer's tables; ``config`` as ``config.yaml``; ``summary`` as
    ``summary.json``. What is not given is not written."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = [completion(**row) for row in _rows(completions)]
    write_parquet(rows, {}, run_dir / records.COMPLETIONS)  # no grid order given: every row sorts alike, order kept
    for table, name in ((scores, records.SCORES), (group_scores, records.GROUP_SCORES)):
        if table is not None:
            pd.DataFrame(table).to_parquet(run_dir / name, index=False)
    if config is not None:
        (run_dir / records.CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    if summary is not None:
        (run_dir / records.SUMMARY).write_text(json.dumps(summary, indent=2))
    return run_dir


def write_failed_job(job_dir: Path, error: str, overrides: list[str]) -> Path:
    """A multirun job that failed with a user error: ``failed.json`` instead of its records."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / records.FAILED).write_text(json.dumps({"status": "failed", "error": error, "overrides": overrides}, indent=2))
    return job_dir
