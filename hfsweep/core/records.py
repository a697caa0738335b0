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
import pyarrow as pa
import pyarrow.compute as pc

from hfsweep.core.errors import RunSchemaError

SCHEMA_VERSION = 2

# The generation parameters, in the order every table shows them; `seed` is the base seed.
PARAMS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "top_n_sigma", "frequency_penalty", "presence_penalty",
          "max_tokens", "seed")  # fmt: skip
SWEEPABLE = PARAMS[:-1]  # what a grid axis or an effect table can be about (the seed is per sample)
# The samplers added after the first schema, each with the value that leaves it off. A setting
# at these values hashes as one made before they existed (same setting id, cell id and cache
# key), and a run written before them reads as having sent them off.
LATER_SAMPLERS = {"min_p": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0}

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
VERDICT = "verdict.json"  # beside a report's page: the verdict's lines and the recommendation (reports.verdict)


@dataclass(frozen=True)
class CompletionRecord:
    """Everything about one completion; no secret ever enters a record.

    ``latency_s`` is the time of the attempt that produced the row (the successful one, or the
    last failed one); ``total_s`` includes every attempt and the backoff between them.
    ``logprob_sum`` / ``logprob_tokens``: the generated tokens' log-probabilities under the
    model's raw distribution, summed, and how many there were (null where the target gives none).
    ``copy_of``: for a sample of a greedy cell on a target shown deterministic, the sample whose
    completion it repeats (nothing was sent for it; ``cached`` is true); null for a real completion.
    ``repairs``: what hfsweep changed in the server's answer to keep it (text with invalid code
    points replaced, a token count no record can hold set to null); null when kept as sent.
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
    min_p: float = LATER_SAMPLERS["min_p"]  # the later samplers default to off (:data:`LATER_SAMPLERS`)
    typical_p: float = LATER_SAMPLERS["typical_p"]
    top_n_sigma: float = LATER_SAMPLERS["top_n_sigma"]
    copy_of: int | None = None
    repairs: str | None = None
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


def swept_params(columns: Any) -> list[str]:
    """The parameters (in :data:`PARAMS` order) that take more than one value. ``columns`` maps a
    parameter to its values: a DataFrame of cells, or ``{name: [values]}``; absent names are skipped.

    >>> swept_params({"temperature": [0.3, 0.7], "top_p": [1.0, 1.0]})
    ['temperature']
    """
    def distinct(values: Any) -> int:
        return int(values.nunique(dropna=False)) if hasattr(values, "nunique") else len(set(values))

    return [name for name in PARAMS if name in columns and distinct(columns[name]) > 1]


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


def truncated_mask(frame) -> np.ndarray:
    """Vectorised :func:`is_truncated` over a DataFrame of completions."""
    finish = frame["finish_reason"] if "finish_reason" in frame else None
    if finish is None:
        return np.zeros(len(frame), dtype=bool)
    return ~error_mask(frame) & (finish == "length").fillna(False).to_numpy(dtype=bool)


def empty_mask(frame) -> np.ndarray:
    """Vectorised :func:`is_empty` over a DataFrame of completions (a missing ``text`` column: all empty)."""
    text = frame["text"] if "text" in frame else [None] * len(frame)
    return ~error_mask(frame) & _blank(text)


def arrow_strings(values: Any):
    """``values`` as a pyarrow string array (zero-copy for pandas' Arrow-backed strings), or
    None when the column holds something other than strings and nulls."""

    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _blank(text: Any) -> np.ndarray:
    """Rows whose text is missing, empty or whitespace only (Python's ``str.isspace``, which
    pyarrow's ``utf8_is_space`` matches for every code point)."""

    arr = arrow_strings(text)
    if arr is None:
        return np.fromiter((not isinstance(t, str) or not t.strip() for t in text), dtype=bool, count=len(text))
    blank = pc.or_kleene(pc.equal(arr, ""), pc.utf8_is_space(arr))
    return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


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
