"""hfsweep from Python, for notebooks: run a sweep or load one, and read it as pandas DataFrames.

:func:`run` takes the CLI's Hydra overrides (a list of strings, keyword arguments, or both) and
goes through the same code as ``hfsweep run`` (:func:`hfsweep.pipeline.run_overrides`);
:func:`load` opens a run (or a multirun's sweep directory) that already exists. Both give a
:class:`Run`, whose tables are the ones the report writes (``report/tables/*.csv``; the report
is built the first time a table is asked for, if the run has none), and which shows its verdict
and leaderboard inline in Jupyter (everything escaped: model output and setting names are
untrusted).

>>> overrides(["model=gemma3"], samples=3, prompts__limit=12, objective__constraints=["pass_rate >= 0.8"])
['model=gemma3', 'samples=3', 'prompts.limit=12', "objective.constraints=['pass_rate >= 0.8']"]
"""

from __future__ import annotations

import html
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from hfsweep.core import records
from hfsweep.core.errors import RunFailedError
from hfsweep.core.objective import default_metric
from hfsweep.core.report_options import ReportOptions
from hfsweep.pipeline import run_overrides
from hfsweep.reports import build_report
from hfsweep.reports.build import default_out, files_dir
from hfsweep.reports.formatting import fnum
from hfsweep.reports.load import RunData, find_run_dirs, load_runs
from hfsweep.reports.options import resolve_options
from hfsweep.sweeps.runner import RunResult

__all__ = ["Run", "load", "overrides", "run"]

_BARE = re.compile(r"[A-Za-z_/][\w./:@+\-]*")  # a Hydra value that needs no quotes (and reads as a string)
LEADERBOARD_OTHERS = 4  # key metrics shown beside the ranking metric


def hydra_value(value: Any) -> str:
    """``value`` written as a Hydra override value: numbers, booleans, null, lists and mappings
    in Hydra's grammar, strings bare when that reads back as the same string, else quoted.

    >>> hydra_value([0, 0.7]), hydra_value(None), hydra_value(True), hydra_value("org/name"), hydra_value("it's 1")
    ('[0,0.7]', 'null', 'true', 'org/name', "'it\\\\'s 1'")
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(item) for item in value) + "]"
    text = str(value)
    if _BARE.fullmatch(text) and text.lower() not in ("true", "false", "null", "inf", "nan"):
        return text
    # in Hydra's quoted strings a backslash is literal unless a quote follows it
    return "'" + re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text) + "\\" * (len(text) - len(text.rstrip("\\"))) + "'"


def overrides(items: Sequence[str] | None = None, **settings: Any) -> list[str]:
    """The Hydra overrides of ``items`` (strings, as on the command line) then ``settings``
    (``KEY=VALUE``, a double underscore in a key standing for a dot: ``prompts__limit=12``)."""
    if isinstance(items, str):
        items = [items]
    return [*(items or ()), *(f"{key.replace('__', '.')}={hydra_value(value)}" for key, value in settings.items())]


def run(items: Sequence[str] | None = None, *, run_dir: str | Path | None = None, **settings: Any) -> Run:
    """Run a sweep, score it and write its report, as ``hfsweep run`` does; return the :class:`Run`.

    Args:
        items: Hydra overrides as on the command line, e.g. ``["model=gemma3", "sweep=decoding"]``.
        run_dir: the run directory (default: a new one under ``out_dir``, as the CLI).
        **settings: more overrides as keyword arguments, ``__`` for a dot:
            ``hfsweep.run(samples=3, prompts__limit=12, sweep__grid__temperature=[0, 0.7])``.

    Raises:
        hfsweep.core.errors.HfsweepError: a user error (bad config, unreachable target), as the CLI's exit 2.
        hfsweep.core.errors.RunFailedError: every request failed (the CLI's exit 1); ``.run_dir`` holds the error rows.
        KeyboardInterrupt: the run was interrupted; finished completions are kept in the run directory and the cache.
    """
    finished = run_overrides(overrides(items, **settings), run_dir)
    result = finished.result
    if result.interrupted:
        raise KeyboardInterrupt(f"interrupted: finished completions are kept in {finished.run_dir} and in the cache; "
                                "run the same call again to finish the rest")  # fmt: skip
    if result.failed:
        raise RunFailedError(f"every request failed: {result.failure_summary()} (run directory {finished.run_dir})",
                             run_dir=finished.run_dir)  # fmt: skip
    if result.errors:
        warnings.warn(f"{result.errors} of {result.requests} requests failed ({result.failure_summary()}); "
                      "their rows are error rows in the report", stacklevel=2)  # fmt: skip
    return Run(finished.run_dir, result=result, page=finished.report)


def load(run_dir: str | Path) -> Run:
    """The :class:`Run` of a run directory (or a multirun's sweep directory) written before."""
    path = Path(run_dir)
    find_run_dirs(path)  # a clear error now for a path that holds no run
    return Run(path)


class Run:
    """A run (or sweep) directory read as DataFrames; see the module docstring.

    Attributes:
        path: the run or sweep directory.
        result: the runner's counts when :func:`run` made it (None after :func:`load`).
    """

    def __init__(self, path: str | Path, result: RunResult | None = None, page: Path | None = None):
        self.path = Path(path)
        self.result = result
        self._page = page
        self._read: dict[str, pd.DataFrame] = {}  # the report's tables read so far

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # --- what the run wrote ---------------------------------------------------------------

    @cached_property
    def _data(self) -> RunData:
        return load_runs([self.path])

    @property
    def completions(self) -> pd.DataFrame:
        """One row per request (``completions.parquet``; error rows included, see ``error``)."""
        return self._data.completions

    @property
    def scores(self) -> pd.DataFrame:
        """Per-sample metric values (``scores.parquet``)."""
        return self._data.scores

    @property
    def group_scores(self) -> pd.DataFrame:
        """Metrics over a prompt's samples (``group_scores.parquet``: self-BLEU, pass_rate, ...)."""
        return self._data.group_scores

    @property
    def config(self) -> dict:
        """The run's ``config.yaml`` (the first job's for a sweep directory), as a mapping."""
        return next(iter(self._data.configs), {})

    # --- what the report computed ---------------------------------------------------------

    @property
    def page(self) -> Path:
        """The report's HTML page (built now if the run has none)."""
        if self._page is None:
            default = default_out([self.path])
            self._page = default if (files_dir(default) / records.VERDICT).is_file() else self.report()
        return self._page

    def report(self, out: str | Path | None = None, **options: Any) -> Path:
        """Write the report's page (default ``RUN_DIR/report/index.html``) and its tables; return its path.

        ``options`` override the run's ``report.*`` options, e.g. ``confidence=0.9, plots=False``.
        """
        self._page = build_report([self.path], out, options=options or None)
        self._read.clear()
        return self._page

    @property
    def _tables_dir(self) -> Path:
        return files_dir(self.page) / "tables"

    def table(self, name: str) -> pd.DataFrame:
        """One of the report's tables by name (its CSV's stem, e.g. ``"effects"``); see :attr:`tables`."""
        if name not in self._read:
            path = self._tables_dir / f"{name}.csv"
            if not path.is_file():
                raise KeyError(f"the report has no table {name!r}: it has {', '.join(self.tables)}")
            self._read[name] = pd.read_csv(path) if path.stat().st_size else pd.DataFrame()  # a table of no column is an empty file
        return self._read[name]

    @property
    def tables(self) -> list[str]:
        """The names of the report's tables."""
        return sorted(path.stem for path in self._tables_dir.glob("*.csv"))

    @property
    def estimates(self) -> pd.DataFrame:
        """Per cell and metric: ``mean``, ``ci_low``, ``ci_high`` (the report's confidence), ``n`` prompts."""
        return self.table("cell_metrics")

    @property
    def cells(self) -> pd.DataFrame:
        """One row per cell: its target, its setting and the setting's parameters."""
        return self.table("cells")

    @property
    def paired_baseline(self) -> pd.DataFrame:
        """Each cell against the baseline setting, prompt by prompt: diff, CI, p, corrected p."""
        return self.table("paired_baseline")

    @property
    def setting_pairs(self) -> pd.DataFrame:
        """Every pair of settings, paired over prompts."""
        return self.table("setting_pairs")

    @property
    def model_pairs(self) -> pd.DataFrame:
        """The same setting on two models, paired over prompts (empty with one model)."""
        return self.table("model_pairs")

    @property
    def recommendation(self) -> pd.DataFrame:
        """The recommended setting per target under the objective (empty without a quality measure)."""
        return self.table("recommendation")

    @property
    def verdict(self) -> list[str]:
        """The verdict's lines, as the page and the terminal show them (``verdict.json``)."""
        text = (files_dir(self.page) / records.VERDICT).read_text(encoding="utf-8")
        return list(json.loads(text).get("lines", []))

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per cell, best first on the objective's metric (else ``report.pareto.up``):
        its mean and CI, then the means of a few key metrics."""
        estimates = self.estimates
        metric, goal = self._ranking(set(estimates["metric"]))
        ranked = estimates[estimates["metric"] == metric].sort_values("mean", ascending=goal == "min", kind="stable")
        board = ranked[["cell_id", "target", "setting", "mean", "ci_low", "ci_high", "n"]].rename(
            columns={"mean": metric, "ci_low": f"{metric}_ci_low", "ci_high": f"{metric}_ci_high"})
        keys = [m for m in self._options.key_metrics if m != metric]
        others = estimates[estimates["metric"].isin(keys[:LEADERBOARD_OTHERS])]
        wide = others.pivot_table(index="cell_id", columns="metric", values="mean")
        wide = wide[[m for m in keys if m in wide.columns]]  # in report.key_metrics' order
        board = board.merge(wide, left_on="cell_id", right_index=True, how="left")
        if board["target"].nunique() == 1:
            board = board.drop(columns=["target"])
        return board.reset_index(drop=True)

    @property
    def _options(self) -> ReportOptions:
        return resolve_options(self.config.get("report"), strict_last=False)

    def _ranking(self, present: set[str]) -> tuple[str, str]:
        objective = self.config.get("objective") or {}
        chosen = objective.get("metric") or (default_metric(present) or (None,))[0]
        if chosen in present:
            return chosen, objective.get("goal") or "max"
        up = self._options.pareto.up
        return (up if up in present else min(present)), "max"

    def _repr_html_(self) -> str:
        lines = "".join(f'<div style="white-space:pre-wrap">{html.escape(line)}</div>' for line in self.verdict)
        board = self.leaderboard.drop(columns=["cell_id"])
        table = board.to_html(index=False, escape=True, na_rep="\u2013", float_format=fnum, border=0)
        cells, prompts = self.completions["cell_id"].nunique(), self.completions["prompt_id"].nunique()
        return (f'<div class="hfsweep-run"><p><b>hfsweep</b> <code>{html.escape(str(self.path))}</code>: '
                f"{len(self.completions)} completions, {cells} cells, {prompts} prompts; "
                f"report <code>{html.escape(str(self.page))}</code></p>"
                f"<div><b>Verdict</b>{lines}</div><p><b>Leaderboard</b></p>{table}</div>")  # fmt: skip
