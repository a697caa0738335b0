"""Find and load run directories into the DataFrames the report works on.

A run directory holds ``completions.parquet`` (+ ``scores.parquet``, ``group_scores.parquet``,
``config.yaml``, ``summary.json``); a directory with ``failed.json`` instead is a failed job
of a Hydra multirun. A sweep directory holds run directories (``0/``, ``1/``, ...) at any
depth.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

from hfsweep.core import records, summary
from hfsweep.core.errors import ReportError
from hfsweep.core.summary import RunSummary
from hfsweep.evaluators.scoring import score_run

TARGET_COLS = ["target_kind", "model", "endpoint", "provider", "mode"]
KEY_COLS = records.KEY_COLUMNS


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def is_run_dir(path: Path) -> bool:
    return (path / records.COMPLETIONS).is_file() or (path / records.FAILED).is_file()


def find_run_dirs(path: str | Path) -> list[Path]:
    """Run directories (including failed jobs) at or below ``path``, in natural order.

    ``path`` may be a run directory itself or a sweep directory (Hydra multirun:
    ``SWEEP/0/``, ``SWEEP/1/``, ...); subdirectories are searched recursively, hidden
    directories and ``report/`` output directories skipped.
    """
    p = Path(path)
    if not p.exists():
        raise ReportError(f"Run directory '{p}' does not exist. Pass a run or sweep directory written by `hfsweep run`.")
    if is_run_dir(p):
        return [p]
    found: list[Path] = []
    for sub in sorted((d for d in p.iterdir() if d.is_dir()), key=_natural):
        if sub.name.startswith(".") or sub.name == "report":
            continue
        found.extend(find_run_dirs(sub))
    return found


@dataclass
class RunData:
    """Everything the report needs, merged over runs."""
    completions: pd.DataFrame
    scores: pd.DataFrame
    group_scores: pd.DataFrame
    run_dirs: list[Path]
    summaries: dict[Path, RunSummary] = field(default_factory=dict)  # run directory -> its summary.json
    configs: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _read_jsonl(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def _read_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except Exception:  # a broken snapshot must not stop the report
        return {}


def _ensure_scores(run: Path) -> None:
    if (run / records.SCORES).is_file() and (run / records.GROUP_SCORES).is_file():
        return

    score_run(run)


def _columns(path: Path, skip: tuple[str, ...]) -> list[str] | None:
    if not skip:
        return None

    return [name for name in pq.read_schema(path).names if name not in skip]


def load_runs(paths, skip: tuple[str, ...] = ()) -> RunData:
    """Load and merge run directories (each path: run dir or sweep dir), scoring unscored ones.

    ``skip``: completion columns not read (the report does not need ``request_params``).
    """
    dirs: list[Path] = []
    for p in paths:
        dirs.extend(find_run_dirs(p))
    if not dirs:
        raise ReportError(f"No run directory found under {', '.join(map(str, paths))} (no completions.parquet or failed.json).")
    comps, scores, groups, configs, failed, warns = [], [], [], [], [], []
    summaries: dict[Path, RunSummary] = {}
    seen_cells: set[str] = set()
    for d in dirs:
        if not (d / records.COMPLETIONS).is_file():
            info = _read_json(d / records.FAILED)
            failed.append({"path": str(d), "error": str(info.get("error", "unknown error")),
                           "overrides": " ".join(map(str, info.get("overrides", []) or []))})
            continue
        c = pd.read_parquet(d / records.COMPLETIONS, columns=_columns(d / records.COMPLETIONS, skip))
        records.check_version(c["schema_version"].unique() if "schema_version" in c else [0], d)
        for name, off in records.LATER_SAMPLERS.items():  # a run from before these samplers sent them off
            if name not in c:
                c[name] = off
        _ensure_scores(d)
        s = pd.read_parquet(d / records.SCORES)
        g = pd.read_parquet(d / records.GROUP_SCORES)
        cells = list(dict.fromkeys(c["cell_id"].tolist()))
        dup = [x for x in cells if x in seen_cells]
        if dup:
            warns.append(f"{d}: {len(dup)} cell(s) already loaded from an earlier run were skipped (same cell_id).")
            c = c[~c["cell_id"].isin(dup)]
            s = s[~s["cell_id"].isin(dup)]
            g = g[~g["cell_id"].isin(dup)]
        seen_cells.update(cells)
        comps.append(c)
        scores.append(s)
        groups.append(g)
        run_summary = summary.read(d) or RunSummary(run_id=d.name)
        if run_summary.search is not None:  # an adaptive search: its rounds, for the allocation table
            run_summary = dataclasses.replace(run_summary, search={**run_summary.search, "rounds": _read_jsonl(d / records.SEARCH_LOG)})
        summaries[d] = run_summary
        configs.append(_read_config(d / records.CONFIG_FILE))
        warns += [f"{d}: {warning}" for warning in run_summary.warnings]
    if not comps:
        raise ReportError(f"Every run under {', '.join(map(str, paths))} failed; nothing to report. See failed.json in each job directory.")
    completions = pd.concat(comps, ignore_index=True)
    if "provider" in completions:
        served = completions.loc[completions["provider"].notna(), ["model", "provider"]].groupby("model")["provider"].unique()
        for model, providers in served.items():
            if len(providers) > 1:
                warns.append(f"model {model} was served by {len(providers)} providers ({', '.join(sorted(map(str, providers)))}): "
                             "comparisons across them mix providers; pin one with model.provider=NAME")  # fmt: skip
    return RunData(
        completions=completions,
        scores=pd.concat(scores, ignore_index=True),
        group_scores=pd.concat(groups, ignore_index=True),
        run_dirs=dirs, summaries=summaries, configs=configs, failed=failed, warnings=warns,
    )


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Non-key numeric (or boolean) columns, in file order."""
    out = []
    for col in df.columns:
        if col in KEY_COLS:
            continue
        if pd.api.types.is_bool_dtype(df[col]) or pd.api.types.is_numeric_dtype(df[col]):
            out.append(col)
    return out


def _fmt_value(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def target_key(values) -> str:
    """A target's key: its ``TARGET_COLS`` values joined by ``|`` (a missing one as "").

    >>> target_key(["embedded", "smollm2", None, float("nan"), "chat"])
    'embedded|smollm2|||chat'
    """
    return "|".join("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values)


def cell_table(completions: pd.DataFrame) -> pd.DataFrame:
    """One row per cell in grid order: ids, target, label, parameters, ``setting`` text."""
    first = completions.drop_duplicates("cell_id", keep="first")
    cols = ["cell_id", "run_id", "setting_id", "setting_name", *TARGET_COLS, *records.SWEEPABLE]
    cells = first[[c for c in cols if c in first.columns]].reset_index(drop=True).copy()
    for c in TARGET_COLS:
        if c not in cells:
            cells[c] = None
    # A target is (kind, model, endpoint, provider, mode); its label is the model, made
    # unique with whatever distinguishes targets that share a model.
    key = [target_key(values) for values in cells[TARGET_COLS].astype(object).itertuples(index=False)]
    cells["target_key"] = key
    labels: dict[str, str] = {}
    uniq = list(dict.fromkeys(key))
    for k in uniq:
        kind, model, endpoint, provider, mode = k.split("|")
        same = [u for u in uniq if u.split("|")[1] == model]
        label = model or kind
        if len(same) > 1:
            parts = [u.split("|") for u in same]
            extra = [v for i, v in enumerate([kind, endpoint, provider, mode], start=0)
                     if len({p[[0, 2, 3, 4][i]] for p in parts}) > 1 and v]
            label = f"{label} ({', '.join(extra)})" if extra else label
        labels[k] = label
    cells["target"] = cells["target_key"].map(labels)
    swept = records.swept_params(cells)
    cells["setting"] = [
        (r.setting_name + ": " if isinstance(r.setting_name, str) and r.setting_name else "")
        + ", ".join(f"{p}={_fmt_value(getattr(r, p))}" for p in swept)
        for r in cells.itertuples()
    ]
    return cells


def prompt_values(scores: pd.DataFrame, group_scores: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per (cell_id, prompt_id): each per-sample metric averaged over the k samples (NaN
    skipped) and each group metric as is. Returns (wide frame indexed by cell_id, prompt_id;
    metric names: per-sample first, then group metrics)."""
    sm = metric_columns(scores)
    gm = [m for m in metric_columns(group_scores) if m not in sm]
    s = scores[["cell_id", "prompt_id", *sm]].copy()
    s[sm] = s[sm].astype(float)
    per = s.groupby(["cell_id", "prompt_id"], sort=False)[sm].mean()
    g = group_scores[["cell_id", "prompt_id", *gm]].copy()
    g[gm] = g[gm].astype(float)
    g = g.drop_duplicates(["cell_id", "prompt_id"]).set_index(["cell_id", "prompt_id"])
    wide = per.join(g, how="outer") if len(per.columns) else g
    return wide, [*sm, *gm]
