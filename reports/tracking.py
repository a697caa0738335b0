"""A run (or a multirun's sweep) in MLflow: a parent run for the sweep, a child run per cell.

``hfsweep export RUN_DIR --format mlflow [--tracking-uri URI] [--experiment NAME]`` and
``report.mlflow.enabled`` (at the end of ``hfsweep run`` and ``run -m``) call :func:`export_mlflow`.
It reads what the report wrote (``report/tables/*.csv``, ``verdict.json``; the report is built
first if there is none) and logs:

- the parent run: the sweep's facts as params, its ``config.yaml``, ``summary.json``, the page,
  its tables and plots as artifacts, the verdict as the run's note, and each column of the
  recommendation as a tag ``recommendation.COLUMN`` (``recommendation.TARGET.COLUMN`` with
  several targets);
- one child run per cell: the cell's parameters, its metrics as means with their CI bounds
  (``distinct_2``, ``distinct_2_ci_low``, ``distinct_2_ci_high``), its request, error and token
  counts, and ``hfsweep.recommended``.

Exporting again updates the same runs: they are found by their tags (``hfsweep.sweep``, the
sweep's key made of its run ids, and ``hfsweep.cell``); metrics and tags take the new values,
artifacts are replaced, params keep their first value (MLflow does not change a param).
MLflow is the optional extra ``hfsweep[mlflow]``, loaded only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hfsweep.core import records
from hfsweep.core.errors import ReportError
from hfsweep.core.extras import require
from hfsweep.reports.build import build_report, default_out, files_dir
from hfsweep.reports.load import find_run_dirs, load_runs

TAG_SWEEP, TAG_CELL, TAG_RECOMMENDED = "hfsweep.sweep", "hfsweep.cell", "hfsweep.recommended"
PARENT_TAG, NOTE_TAG = "mlflow.parentRunId", "mlflow.note.content"
DEFAULT_EXPERIMENT = "hfsweep"
CELL_PARAMS = ("cell_id", "setting_id", "setting_name", "target", "target_kind", "model", "provider", "mode")
TAG_CHARS = re.compile(r"[^\w\-. /]")  # what MLflow accepts in a key
BATCH = 100  # params and tags per log_batch call (MLflow's limit; 1000 for metrics)
TAG_VALUE_MAX = 5000


@dataclass(frozen=True)
class Exported:
    """Where :func:`export_mlflow` logged: the experiment, the parent run, and the cell runs
    (``created`` of them new this time)."""

    tracking_uri: str
    experiment: str
    parent_run_id: str
    cells: int
    created: int


def sweep_key(run_ids) -> str:
    """The stable name of a sweep in MLflow: its run id, or a hash of its runs' ids.

    >>> sweep_key(["20250101-120000-ab12cd"]), sweep_key(["b", "a"]) == sweep_key(["a", "b", "a"])
    ('20250101-120000-ab12cd', True)
    """
    ids = sorted({str(i) for i in run_ids})
    return ids[0] if len(ids) == 1 else "sweep-" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def export_mlflow(paths, tracking_uri: str | None = None, experiment: str | None = None, page: Path | None = None) -> Exported:
    """Log the runs under ``paths`` to MLflow (see the module docstring) and return where.

    Args:
        paths: a run directory, a sweep directory, or a list of them.
        tracking_uri: the tracking server (``http://HOST:PORT``, ``sqlite:///FILE``, ...); None =
            the run's ``report.mlflow.tracking_uri``, else MLflow's own default (``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name; None = the run's ``report.mlflow.experiment``, else ``hfsweep``.
        page: the report's page when the caller just wrote it; None = the default page, built if absent.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    for path in paths:
        find_run_dirs(path)
    data = load_runs(paths, skip=("request_params", "cache_key", "prompt", "text"))
    own = next((c["report"].get("mlflow") for c in data.configs if isinstance(c.get("report"), dict)), None) or {}
    tracking_uri = tracking_uri or own.get("tracking_uri")
    experiment = experiment or own.get("experiment") or DEFAULT_EXPERIMENT
    if page is None:
        page = default_out(paths)
        if not (files_dir(page) / records.VERDICT).is_file():
            page = build_report(paths)
    folder = files_dir(page)
    tables = {name: _csv(folder / "tables" / f"{name}.csv") for name in ("cell_metrics", "cells", "recommendation")}
    verdict = json.loads((folder / records.VERDICT).read_text(encoding="utf-8")).get("lines", [])
    mlflow = require("mlflow", "mlflow")
    client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri)
    try:
        return _log(mlflow, client, data, paths, page, tables, verdict, experiment)
    except mlflow.exceptions.MlflowException as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ReportError(f"MLflow at {client.tracking_uri} refused the export to experiment {experiment!r}: {first}") from None


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()


def _log(mlflow, client, data, paths: list[Path], page: Path, tables: dict[str, pd.DataFrame], verdict: list[str],
         experiment: str) -> Exported:  # fmt: skip
    found = client.get_experiment_by_name(experiment)
    if found is not None and found.lifecycle_stage != "active":
        raise ReportError(f"the MLflow experiment {experiment!r} is deleted: restore it in MLflow, or give --experiment NAME")
    experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
    key = sweep_key(data.completions["run_id"].unique())
    runs = _search(mlflow, client, experiment_id, f"tags.`{TAG_SWEEP}` = '{key}'")
    parent = next((r for r in runs if TAG_CELL not in r.data.tags), None)
    name = paths[0].resolve().name
    if parent is None:
        parent = client.create_run(experiment_id, run_name=name, tags={TAG_SWEEP: key})
    children = {r.data.tags[TAG_CELL]: r for r in runs if TAG_CELL in r.data.tags}
    cells, estimates, recommendation = tables["cells"], tables["cell_metrics"], tables["recommendation"]
    recommended = _recommended(cells, recommendation)
    counts = _counts(data.completions)
    several = cells["target"].nunique() > 1 if "target" in cells else False
    created = 0
    for cell in cells.to_dict("records"):
        cell_id = str(cell["cell_id"])
        run = children.get(cell_id)
        if run is None:
            label = f"{cell['target']}: {cell['setting']}" if several else str(cell.get("setting") or cell_id)
            run = client.create_run(experiment_id, run_name=label[:250],
                                    tags={TAG_SWEEP: key, TAG_CELL: cell_id, PARENT_TAG: parent.info.run_id})  # fmt: skip
            created += 1
        params = {k: cell[k] for k in (*CELL_PARAMS, *records.SWEEPABLE) if k in cell}
        metrics = _cell_metrics(estimates[estimates["cell_id"].astype(str) == cell_id] if len(estimates) else estimates)
        metrics.update(counts.get(cell_id, {}))
        _batch(mlflow, client, run, params, metrics, {TAG_RECOMMENDED: str(cell_id in recommended).lower()})
        _finish(client, run)
    _batch(mlflow, client, parent, _sweep_params(data, cells), {}, {NOTE_TAG: "\n".join(verdict), **_recommendation_tags(recommendation)})
    _artifacts(client, parent.info.run_id, data.run_dirs, page)
    _finish(client, parent)
    return Exported(client.tracking_uri, experiment, parent.info.run_id, len(cells), created)


def _finish(client, run) -> None:
    """Mark a new run finished (MLflow prints two lines of links when it does: the CLI says where instead)."""
    if run.info.status != "FINISHED":
        with contextlib.redirect_stdout(io.StringIO()):
            client.set_terminated(run.info.run_id)


def _search(mlflow, client, experiment_id: str, query: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], query, run_view_type=mlflow.entities.ViewType.ACTIVE_ONLY,
                                  max_results=1000, page_token=token)  # fmt: skip
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _cell_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """A cell's estimates as ``metric``, ``metric_ci_low``, ``metric_ci_high`` (finite values only)."""
    out = {}
    for row in rows.to_dict("records"):
        for column, suffix in (("mean", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            out[f"{row['metric']}{suffix}"] = row.get(column)
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def _counts(completions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per cell: requests, errors, prompt and completion tokens (as reported by the target)."""
    frame = pd.DataFrame({"cell_id": completions["cell_id"].astype(str), "errors": records.error_mask(completions),
                          "prompt_tokens": completions["prompt_tokens"], "completion_tokens": completions["completion_tokens"]})  # fmt: skip
    grouped = frame.groupby("cell_id")
    sums = grouped[["errors", "prompt_tokens", "completion_tokens"]].sum(min_count=0).astype(float)
    sums["requests"] = grouped.size().astype(float)
    return {cell: {k: float(v) for k, v in row.items()} for cell, row in sums.iterrows()}


def _recommended(cells: pd.DataFrame, recommendation: pd.DataFrame) -> set[str]:
    """The cells the recommendation names: by its ``cell_id`` column, else by ``target`` and ``setting_id``."""
    if recommendation.empty or cells.empty:
        return set()
    if "cell_id" in recommendation:
        return {str(c) for c in recommendation["cell_id"].dropna()}
    if {"target", "setting_id"} <= set(recommendation.columns):
        picked = cells.merge(recommendation[["target", "setting_id"]].dropna(), on=["target", "setting_id"])
        return {str(c) for c in picked["cell_id"]}
    return set()


def _recommendation_tags(recommendation: pd.DataFrame) -> dict[str, str]:
    """Every column of every row of the recommendation as a tag, whatever the columns are."""
    several = len(recommendation) > 1
    tags = {}
    for row in recommendation.to_dict("records"):
        prefix = f"recommendation.{TAG_CHARS.sub('_', str(row.get('target')))}." if several else "recommendation."
        for column, value in row.items():
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                tags[prefix + TAG_CHARS.sub("_", str(column))] = str(value)[:TAG_VALUE_MAX]
    return tags


def _sweep_params(data, cells: pd.DataFrame) -> dict:
    config = next(iter(data.configs), {})
    objective = config.get("objective") or {}
    facts = {"sweep": (config.get("sweep") or {}).get("name"), "samples": config.get("samples"),
             "runs": len(data.run_dirs), "cells": len(cells), "prompts": data.completions["prompt_id"].nunique(),
             "targets": ", ".join(sorted(map(str, cells["target"].unique()))) if "target" in cells else None,
             "swept": ", ".join(records.swept_params(cells)), "objective.metric": objective.get("metric"),
             "objective.goal": objective.get("goal"), "objective.constraints": ", ".join(objective.get("constraints") or [])}  # fmt: skip
    return {k: v for k, v in facts.items() if v not in (None, "")}


def _batch(mlflow, client, run, params: dict, metrics: dict[str, float], tags: dict[str, str]) -> None:
    """Log in MLflow's batch sizes; params already logged keep their value."""
    entities = mlflow.entities
    logged = run.data.params
    new_params = [entities.Param(k, str(v)[:6000]) for k, v in params.items()
                  if v is not None and not (isinstance(v, float) and math.isnan(v)) and k not in logged]  # fmt: skip
    now = int(time.time() * 1000)
    metric_list = [entities.Metric(k, v, now, 0) for k, v in metrics.items()]
    tag_list = [entities.RunTag(k, v) for k, v in tags.items()]
    run_id = run.info.run_id
    for start in range(0, max(len(new_params), len(tag_list), 1), BATCH):
        client.log_batch(run_id, params=new_params[start:start + BATCH], tags=tag_list[start:start + BATCH])
    for start in range(0, len(metric_list), 1000):
        client.log_batch(run_id, metrics=metric_list[start:start + 1000])


def _artifacts(client, run_id: str, run_dirs: list[Path], page: Path) -> None:
    """Each run's config.yaml and summary.json (under ``runs/NAME/`` for a sweep), the page and its files."""
    for run_dir in run_dirs:
        where = None if len(run_dirs) == 1 else f"runs/{run_dir.name}"
        for name in (records.CONFIG_FILE, records.SUMMARY):
            if (run_dir / name).is_file():
                client.log_artifact(run_id, str(run_dir / name), where)
    folder = files_dir(page)
    client.log_artifact(run_id, str(page), "report")
    client.log_artifact(run_id, str(folder / records.VERDICT), "report")
    for sub in ("tables", "plots"):
        if (folder / sub).is_dir():
            client.log_artifacts(run_id, str(folder / sub), f"report/{sub}")
