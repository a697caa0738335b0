"""The scoring step: a run's completions in, per-sample and per-group score tables out.

``RUN_DIR/completions.parquet`` (written by the runner) becomes

* ``RUN_DIR/scores.parquet``: one row per completion that did not fail: key columns and the
  per-sample metrics;
* ``RUN_DIR/group_scores.parquet``: one row per (cell_id, prompt_id): key columns,
  ``n_samples`` and the group metrics over that prompt's samples in that cell.

Error rows (``hfsweep.core.records.is_error``) are left out and counted, never scored as empty
text. Every text is tokenized once and all metrics share the tokens, vectorised over a chunk
of whole groups (about 50,000 completions), so memory stays flat as a run grows.

The prompts' checks come from ``RUN_DIR/prompts.jsonl`` (``hfsweep.core.records.PROMPTS``, which
``sweeps.prompts.write_prompts_file`` writes): one JSON object per line, ``{"id": ...,
"text": ..., "checks": [{"type": ..., "value": ...}, ...]}``. Without that file, or for a
prompt without checks, ``check_pass`` and ``pass_rate`` are NaN.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hfsweep.core import records
from hfsweep.core.errors import CheckError
from hfsweep.evaluators import _stream
from hfsweep.evaluators._batch import Samples
from hfsweep.evaluators.checks import Check, parse_checks, problems
from hfsweep.evaluators.registry import Evaluator, resolve

#: Columns copied from a completion into its ``scores`` row (those present).
SAMPLE_KEYS: tuple[str, ...] = (
    "run_id", "cell_id", "setting_id", "setting_name", "target_kind", "model", "mode",
    *records.PARAMS, "prompt_id", "sample_index", "finish_reason",
)
#: Columns copied into a ``group_scores`` row (constant within a group).
GROUP_KEYS: tuple[str, ...] = tuple(
    c for c in SAMPLE_KEYS if c not in ("sample_index", "seed", "finish_reason"))
#: A group is the samples of one prompt in one cell.
GROUP_BY: tuple[str, ...] = ("cell_id", "prompt_id")
#: Columns scoring itself reads besides the keys (each metric names its own ``inputs``).
BASE_INPUTS: tuple[str, ...] = ("text", "error")
#: The input that is not a completion column: each completion's prompt's checks.
CHECKS_INPUT = "checks"
#: Completions :func:`score_run` reads and scores at once (whole groups: a chunk may be larger).
CHUNK_ROWS = 50_000
#: A run of more chunks than this is scored by one process per core (:func:`score_run`).
PARALLEL_CHUNKS = 4


def error_rows(completions: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the error rows (``hfsweep.core.records.is_error``)."""
    return np.asarray(records.error_mask(completions), dtype=bool)


def _numeric(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _column(column: pd.Series) -> np.ndarray | list[Any]:
    """A completion column as a metric input: float64 (NaN for null) if numeric, else a list."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return column.astype(object).where(column.notna(), None).tolist()


def inputs(evaluators: Sequence[Evaluator]) -> list[str]:
    """Completion columns the evaluators read besides the keys (``checks`` is not one)."""
    wanted = [c for ev in evaluators for c in ev.inputs if c != CHECKS_INPUT]
    return list(dict.fromkeys([*BASE_INPUTS, *wanted]))


def read_prompt_checks(path: str | os.PathLike[str]) -> dict[str, tuple[Check, ...]]:
    """The checks of each prompt in a run's ``prompts.jsonl``, by prompt id.

    Args:
        path: The file.

    Returns:
        Prompt id -> its checks (an empty tuple for a prompt without checks).

    Raises:
        CheckError: A line is not a JSON object with an ``id``, or a check is malformed;
            the message names the file and the line.
    """
    out: dict[str, tuple[Check, ...]] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise CheckError(f"{path} line {number} is not valid JSON ({error.msg}): "
                             "expected one object per line") from None
        if not isinstance(row, dict) or row.get("id") is None:
            raise CheckError(f"{path} line {number}: expected an object with an 'id'")
        found = problems(row.get("checks"))
        if found:
            raise CheckError(f"{path} line {number} (prompt {row['id']!r}): {found[0]}")
        out[str(row["id"])] = parse_checks(row.get("checks"))
    return out


def score_completions(
    completions: pd.DataFrame,
    names: Sequence[str] | None = None,
    checks: Mapping[str, Sequence[Check]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score completions with the named evaluators (default: the registry's default set).

    Args:
        completions: The completions table (columns as the runner writes them; missing key
            and input columns are skipped or NaN; ``text`` is required).
        names: Evaluator names; per-sample ones go to the first table, group ones to the
            second.
        checks: Prompt id -> that prompt's checks (``check_pass`` is NaN for a prompt
            without any).

    Returns:
        ``(scores, group_scores)``: one row per non-error completion, sorted by group and
        ``sample_index``; one row per (cell_id, prompt_id) with ``n_samples``.

    Raises:
        UnknownEvaluatorError: A name is not registered.
        KeyError: ``completions`` has no ``text`` column.

    Example:
        >>> df = pd.DataFrame({"cell_id": ["c", "c", "c"], "prompt_id": ["p", "p", "p"],
        ...                    "sample_index": [0, 1, 2], "text": ["a b a b", "a b", None],
        ...                    "error": [None, None, "HTTP 503"]})
        >>> scores, groups = score_completions(df, ["seq_rep_2", "distinct_1"])
        >>> scores
          cell_id prompt_id  sample_index  seq_rep_2
        0       c         p             0   0.333333
        1       c         p             1   0.000000
        >>> groups
          cell_id prompt_id  n_samples  distinct_1
        0       c         p          2    0.333333
    """
    evaluators = resolve(names)
    if "text" not in completions:
        raise KeyError("completions have no 'text' column")
    ok = completions.loc[~error_rows(completions)]
    by = [c for c in GROUP_BY if c in ok]
    codes = (ok.groupby(by, sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
             if by and len(ok) else np.zeros(len(ok), dtype=np.int64))
    index = (_numeric(ok["sample_index"]) if "sample_index" in ok
             else np.zeros(len(ok)))
    order = np.lexsort((index, codes))
    ok, codes = ok.iloc[order], codes[order]
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    columns = {c: _column(ok[c]) for c in inputs(evaluators) if c in ok and c not in BASE_INPUTS}
    if any(CHECKS_INPUT in ev.inputs for ev in evaluators):
        table = checks or {}
        ids = ok["prompt_id"].tolist() if "prompt_id" in ok else [None] * len(ok)
        columns[CHECKS_INPUT] = [table.get(str(p), ()) for p in ids]
    samples = Samples(ok["text"].tolist(), groups=codes, n_groups=n_groups, columns=columns)
    scores = ok[[c for c in SAMPLE_KEYS if c in ok]].reset_index(drop=True)
    first = np.searchsorted(codes, np.arange(n_groups))
    groups = ok.iloc[first][[c for c in GROUP_KEYS if c in ok]].reset_index(drop=True)
    groups["n_samples"] = np.bincount(codes, minlength=n_groups)
    for ev in evaluators:
        table, size = (scores, len(scores)) if ev.kind == "sample" else (groups, n_groups)
        table[ev.name] = (np.asarray(ev.compute(samples), dtype=np.float64) if size
                          else np.zeros(0))
    return scores, groups


def score_run(run_dir: str | os.PathLike[str], names: Sequence[str] | None = None,
              chunk_rows: int = CHUNK_ROWS, workers: int | None = None) -> dict:
    """Score ``RUN_DIR/completions.parquet`` into ``scores.parquet`` and ``group_scores.parquet``.

    The completions are read and scored in chunks of whole groups of about ``chunk_rows``
    rows (when each group's rows are consecutive in the file, as the runner writes them), so
    memory does not grow with the run; the rows of each chunk are sorted by group and
    ``sample_index``, the chunks follow the file's order. Both files are written atomically
    (to a temporary name, then renamed). The prompts' checks are read from
    ``RUN_DIR/prompts.jsonl`` if it exists.

    Args:
        run_dir: The run directory.
        names: Evaluator names (default: the registry's default set).
        chunk_rows: Rows read at once.
        workers: Processes scoring chunks side by side (default: one per core) for a run of
            more than ``PARALLEL_CHUNKS`` chunks; a smaller run is scored in this process
            (starting workers would cost more than they save).

    Returns:
        Counts: ``completions`` (rows read), ``scored`` (rows in scores.parquet),
        ``errors`` (error rows left out) and ``groups`` (rows in group_scores.parquet).

    Raises:
        FileNotFoundError: The run directory has no completions.parquet.
        UnknownEvaluatorError: A name is not registered.
        CheckError: ``prompts.jsonl`` holds a malformed check.
    """
    run_dir = Path(run_dir)
    source = run_dir / records.COMPLETIONS
    if not source.is_file():
        raise FileNotFoundError(
            f"No {records.COMPLETIONS} in {run_dir}: expected the directory of a run "
            "(`hfsweep run` writes it).")
    evaluators = resolve(names)  # fail on a bad name before reading anything
    prompts = run_dir / records.PROMPTS
    checks = (read_prompt_checks(prompts) if prompts.is_file()
              and any(CHECKS_INPUT in ev.inputs for ev in evaluators) else None)

    file = _stream.open_parquet(source)
    schema = file.schema_arrow
    wanted = [c for c in dict.fromkeys([*SAMPLE_KEYS, *inputs(evaluators)]) if c in schema.names]
    counts = {"completions": 0, "scored": 0, "errors": 0, "groups": 0}
    scores_out = _stream.TableWriter(run_dir / records.SCORES, schema)
    groups_out = _stream.TableWriter(run_dir / records.GROUP_SCORES, schema)
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers > 1 and file.metadata.num_rows > PARALLEL_CHUNKS * chunk_rows:
        # chunks shared out: each worker's share of the memory one process would use
        chunks = _stream.whole_groups(file, wanted, GROUP_BY, max(1, chunk_rows // workers), counts)
        scored = _in_workers(chunks, names, checks, workers)
    else:
        chunks = _stream.whole_groups(file, wanted, GROUP_BY, chunk_rows, counts)
        scored = (score_completions(chunk, names, checks) for chunk in chunks)
    for scores, groups in scored:
        counts["scored"] += len(scores)
        counts["groups"] += len(groups)
        scores_out.write(scores)
        groups_out.write(groups)
    scores_out.close()
    groups_out.close()
    return counts


def _in_workers(chunks, names, checks, workers: int):
    """:func:`score_completions` of each chunk in a pool of ``workers`` processes, in the
    chunks' order; at most ``workers + 1`` chunks in flight, so memory stays bounded."""

    # spawn, not fork: the caller may hold threads (a run's background imports)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(score_completions, chunk, names, checks))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
