"""The record schema: one place for the columns, parameter names and files of a run.

The engine writes records with it, the evaluators and the reports read runs with it. It
imports nothing of hfsweep but the core's errors. A run written by another schema version is refused on read with a clear message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfsweep.core.errors import RunSchemaError

SCHEMA_VERSION = 2

# The generation parameters, in the order every table shows them; `seed` is the base seed.
PARAMS = ("temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "seed")
SWEEPABLE = PARAMS[:-1]  # what a grid axis or an effect table can be about (the seed is per sample)

# Files of a run directory.
CONFIG_FILE = "config.yaml"
COMPLETIONS_JSONL = "completions.jsonl"
COMPLETIONS = "completions.parquet"
PROMPTS = "prompts.jsonl"
SUMMARY = "summary.json"
SCORES = "scores.parquet"
GROUP_SCORES = "group_scores.parquet"
FAILED = "failed.json"  # a multirun job that failed, instead of its records
JUDGMENTS_JSONL = "judgments.jsonl"  # the judge's completions (sweeps.judge)
JUDGMENTS = "judgments.parquet"  # one judge_score per judged completion
SEARCH_LOG = "search.jsonl"  # an adaptive search's rounds (sweeps.search)
REPORT_DIR = "report"


@dataclass(frozen=True)
class CompletionRecord:
    """Everything about one completion; no secret ever enters a record.

    ``latency_s`` is the time of the attempt that produced the row (the successful one, or the
    last failed one); ``total_s`` includes every attempt and the backoff between them.
    ``logprob_sum`` / ``logprob_tokens``: the generated tokens' log-probabilities under the
    model's raw distribution, summed, and how many there were (null where the target gives none).
    """

    run_id: str
    cell_id: str
    setting_id: str
    setting_name: str
    target_kind: str
    model: str
    endpoint: str | None
    provider: str | None
    mode: str
    temperature: float
    top_k: int
    top_p: float
    frequency_penalty: float
    presence_penalty: float
    max_tokens: int
    seed: int
    prompt_id: str
    prompt: str
    sample_index: int
    text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    logprob_sum: float | None
    logprob_tokens: int | None
    latency_s: float
    total_s: float
    retries: int
    error: str | None
    error_message: str | None
    request_params: str
    cache_key: str
    cached: bool
    started_at: str
    finished_at: str
    schema_version: int = SCHEMA_VERSION


FIELDS = tuple(f.name for f in dataclasses.fields(CompletionRecord))
# Columns that identify a row or describe its setting (not metrics).
KEY_COLUMNS = frozenset(FIELDS) | {"n_samples"}


def field_types() -> dict[str, str]:
    """Column name -> scalar type name (``str``, ``int``, ``float``, ``bool``), nullability dropped.

    >>> field_types()["logprob_sum"], field_types()["cached"]
    ('float', 'bool')
    """
    return {f.name: str(f.type).split(" |")[0] for f in dataclasses.fields(CompletionRecord)}


# --- what a row is ---------------------------------------------------------------------------


def is_error(error: Any) -> bool:
    """A row is an error row when its ``error`` is a non-empty string (the failure's kind).

    >>> is_error(None), is_error(""), is_error("http_500"), is_error(float("nan"))
    (False, False, True, False)
    """
    return isinstance(error, str) and error != ""


def is_truncated(error: Any, finish_reason: Any) -> bool:
    """A completion (not an error row) that stopped at ``max_tokens``: finish reason ``length``.

    >>> is_truncated(None, "length"), is_truncated(None, None), is_truncated("timeout", "length")
    (True, False, False)
    """
    return not is_error(error) and finish_reason == "length"


def is_empty(error: Any, text: Any) -> bool:
    """A completion (not an error row) whose text is missing, empty or whitespace.

    >>> is_empty(None, " \\n"), is_empty(None, "hi"), is_empty("timeout", None)
    (True, False, False)
    """
    return not is_error(error) and (not isinstance(text, str) or not text.strip())


def error_mask(frame) -> Any:
    """Vectorised :func:`is_error` over a DataFrame's ``error`` column (all False without one)."""

    if "error" not in frame:
        return np.zeros(len(frame), dtype=bool)
    column = frame["error"]
    if str(column.dtype) == "str" or str(column.dtype).startswith("string"):  # pandas strings: every value a str or missing
        return (column.notna() & (column.str.len() > 0)).to_numpy(dtype=bool, na_value=False)
    values = column.to_numpy(dtype=object)
    return np.fromiter((is_error(v) for v in values), dtype=bool, count=len(values))


# --- reading a run ----------------------------------------------------------------------------


def check_run_dir(path: Path, needs: tuple[str, ...] = (COMPLETIONS,)) -> Path:
    """``path`` as a run directory holding the files in ``needs``, or :class:`RunSchemaError`."""
    path = Path(path)
    if not path.is_dir():
        raise RunSchemaError(f"{path} is not a directory: expected a run directory written by `hfsweep run`")
    missing = [name for name in needs if not (path / name).is_file()]
    if missing:
        raise RunSchemaError(f"{path} is not a run directory: it has no {', '.join(missing)} (written by `hfsweep run`)")
    return path


def check_version(versions, path: Path | str) -> None:
    """Refuse a run whose ``schema_version`` values are not this schema's.

    >>> check_version([2, 2], "runs/x")
    >>> check_version([1], "runs/old")
    Traceback (most recent call last):
    hfsweep.core.errors.RunSchemaError: runs/old was written by record schema 1; this hfsweep reads schema 2: re-run the sweep (finished completions come back from the cache)
    """
    found = sorted({int(v) for v in versions})
    if found and found != [SCHEMA_VERSION]:
        raise RunSchemaError(
            f"{path} was written by record schema {', '.join(map(str, found))}; this hfsweep reads schema {SCHEMA_VERSION}: "
            "re-run the sweep (finished completions come back from the cache)"
        )
