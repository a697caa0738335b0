"""The report's statistical tables, as DataFrames (one CSV each).

All per-prompt matrices are ``cells x prompts`` (rows in grid order, prompts in first-seen
order); pairing is by prompt column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import stats
from reports.load import _fmt_value


class Context:
    """Cells, per-prompt metric matrices and statistics options shared by the tables."""

    def __init__(self, cells: pd.DataFrame, wide: pd.DataFrame, metrics: list[str], prompts: list[str], opts: dict):
        self.cells = cells
        self.metrics = metrics
        self.opts = opts
        self.swept = [p for p in ("temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens")
                      if p in cells and cells[p].nunique(dropna=False) > 1]
        self.targets = list(dict.fromkeys(cells["target"]))
        ids = cells["cell_id"].tolist()
        self.row = {c: i for i, c in enumerate(ids)}
        self.mats = {}
        for m in metrics:
            mat = wide[m].unstack("prompt_id") if len(wide) else pd.DataFrame()
            self.mats[m] = mat.reindex(index=ids, columns=prompts).to_numpy(dtype=float)
        self.kw = dict(confidence=float(opts["confidence"]), n_resamples=int(opts["bootstrap_resamples"]),
                       seed=int(opts["seed"]))


def cell_metrics(ctx: Context) -> pd.DataFrame:
    """Per cell and metric: mean over prompts, BCa CI, n prompts, note."""
    rows, arrays = [], []
    for m in ctx.metrics:
        for i, r in enumerate(ctx.cells.itertuples()):
            rows.append((r.cell_id, r.target, r.setting, m))
            arrays.append(ctx.mats[m][i])
    ests = stats.bootstrap_cis(arrays, **ctx.kw)
    return _with_estimates(pd.DataFrame(rows, columns=["cell_id", "target", "setting", "metric"]), ests, note=True)


def _level_matrix(ctx: Context, target: str, param: str, metric: str):
    """Per level of ``param`` (cells of ``target``): per-prompt mean over the cells at that
    level, i.e. averaged over the other parameters. Returns (levels, levels x prompts)."""
    cells = ctx.cells[ctx.cells["target"] == target]
    levels = sorted(cells[param].dropna().unique().tolist())
    rows = []
    for v in levels:
        idx = [ctx.row[c] for c in cells.loc[cells[param] == v, "cell_id"]]
        block = ctx.mats[metric][idx]
        with np.errstate(all="ignore"):
            cnt = np.isfinite(block).sum(axis=0)
            rows.append(np.where(cnt > 0, np.nansum(block, axis=0) / np.maximum(cnt, 1), np.nan))
    return levels, np.array(rows)


def effects(ctx: Context) -> pd.DataFrame:
    """Per target, swept parameter, level and metric: mean over prompts of the level-averaged
    per-prompt values, with a bootstrap CI."""
    rows, arrays = [], []
    for t in ctx.targets:
        for p in ctx.swept:
            for m in ctx.metrics:
                levels, mat = _level_matrix(ctx, t, p, m)
                for v, arr in zip(levels, mat):
                    rows.append((t, p, v, m))
                    arrays.append(arr)
    ests = stats.bootstrap_cis(arrays, **ctx.kw)
    return _with_estimates(pd.DataFrame(rows, columns=["target", "parameter", "level", "metric"]), ests)


def _with_estimates(df: pd.DataFrame, ests: list, note: bool = False) -> pd.DataFrame:
    """``df`` with one bootstrap estimate per row: mean, CI bounds, n (and why a CI is missing)."""
    df["mean"] = [e.mean for e in ests]
    df["ci_low"] = [e.low for e in ests]
    df["ci_high"] = [e.high for e in ests]
    df["n"] = [e.n for e in ests]
    if note:
        df["note"] = [e.note for e in ests]
    return df


def friedman(ctx: Context) -> pd.DataFrame:
    """Friedman test per target, swept parameter with >= 3 levels, and metric (blocks =
    prompts with a value at every level; level values averaged over the other parameters)."""
    rows = []
    for t in ctx.targets:
        for p in ctx.swept:
            for m in ctx.metrics:
                levels, mat = _level_matrix(ctx, t, p, m)
                if len(levels) < 3:
                    continue
                stat, pv, n, note = stats.friedman(mat.T)
                rows.append((t, p, len(levels), m, n, stat, pv, note))
    return pd.DataFrame(rows, columns=["target", "parameter", "levels", "metric", "n", "statistic", "p", "note"])


def _baseline_setting(ctx: Context) -> str:
    base = ctx.opts.get("baseline")
    cells = ctx.cells
    if base is None:
        return cells["setting_id"].iloc[0]
    hit = cells[(cells["setting_name"] == base) | (cells["setting_id"] == base)]
    if hit.empty:
        from reports.options import ReportError

        names = sorted({n for n in cells["setting_name"].dropna() if n})
        raise ReportError(f"report.baseline '{base}' matches no setting_name or setting_id. "
                          f"Setting names: {', '.join(names) or '(none)'}; or use a setting_id.")
    return hit["setting_id"].iloc[0]


def paired_baseline(ctx: Context) -> tuple[pd.DataFrame, str]:
    """Every cell vs the baseline setting of the same target, paired by prompt."""
    base = _baseline_setting(ctx)
    rows, pairs = [], []
    for t in ctx.targets:
        cells = ctx.cells[ctx.cells["target"] == t]
        b = cells[cells["setting_id"] == base]
        if b.empty:
            continue
        bi = ctx.row[b["cell_id"].iloc[0]]
        for r in cells.itertuples():
            if r.setting_id == base:
                continue
            for m in ctx.metrics:
                rows.append((t, r.cell_id, r.setting, b["setting"].iloc[0], m))
                pairs.append((ctx.mats[m][ctx.row[r.cell_id]], ctx.mats[m][bi]))
    df = _paired_frame(rows, pairs, ["target", "cell_id", "setting", "baseline", "metric"], ctx)
    label = ctx.cells.loc[ctx.cells["setting_id"] == base, "setting"].iloc[0]
    return df, label


def model_pairs(ctx: Context) -> pd.DataFrame:
    """Target b minus target a, paired on (setting_id, prompt_id); plus one row per metric
    over all shared settings (per prompt, mean difference over settings)."""
    rows, pairs = [], []
    for i, a in enumerate(ctx.targets):
        for b in ctx.targets[i + 1:]:
            ca = ctx.cells[ctx.cells["target"] == a].set_index("setting_id")
            cb = ctx.cells[ctx.cells["target"] == b].set_index("setting_id")
            shared = [s for s in ca.index if s in cb.index]
            if not shared:
                continue
            ia = [ctx.row[ca.loc[s, "cell_id"]] for s in shared]
            ib = [ctx.row[cb.loc[s, "cell_id"]] for s in shared]
            for m in ctx.metrics:
                ma, mb = ctx.mats[m][ia], ctx.mats[m][ib]
                with np.errstate(all="ignore"):
                    d = mb - ma
                    cnt = np.isfinite(d).sum(axis=0)
                    overall = np.where(cnt > 0, np.nansum(d, axis=0) / np.maximum(cnt, 1), np.nan)
                rows.append((a, b, "(all)", f"all {len(shared)} shared settings", m))
                pairs.append((overall, np.zeros_like(overall)))
                for k, s in enumerate(shared):
                    rows.append((a, b, s, ca.loc[s, "setting"], m))
                    pairs.append((mb[k], ma[k]))
    return _paired_frame(rows, pairs, ["target_a", "target_b", "setting_id", "setting", "metric"], ctx)


def _paired_frame(rows, pairs, cols, ctx: Context) -> pd.DataFrame:
    res = stats.paired_differences(pairs, **ctx.kw)
    df = pd.DataFrame(rows, columns=cols)
    df["diff"] = [r.diff for r in res]
    df["ci_low"] = [r.low for r in res]
    df["ci_high"] = [r.high for r in res]
    df["n"] = [r.n for r in res]
    df["p"] = [r.p for r in res]
    df["note"] = [r.note for r in res]
    return df


def adjust_all(*frames: pd.DataFrame) -> None:
    """Benjamini-Hochberg over the ``p`` column of every frame together; adds ``p_adj``."""
    ps = np.concatenate([f["p"].to_numpy(dtype=float) for f in frames]) if frames else np.array([])
    adj = stats.adjust_pvalues(ps)
    k = 0
    for f in frames:
        n = len(f)
        f["p_adj"] = adj[k:k + n]
        k += n


def pareto(ctx: Context, cm: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Cells with their (up, down) means, front membership and the recommended cell."""
    up, down = ctx.opts["pareto"]["up"], ctx.opts["pareto"]["down"]
    missing = [m for m in (up, down) if m not in ctx.metrics]
    if missing:
        return pd.DataFrame(), f"No Pareto front: metric(s) {', '.join(missing)} not in the scores."
    wide = cm.pivot(index="cell_id", columns="metric", values="mean")
    lo = cm[cm["metric"] == up].set_index("cell_id")
    df = ctx.cells[["cell_id", "target", "setting"]].copy()
    df[up] = df["cell_id"].map(wide[up])
    df[f"{up}_ci_low"] = df["cell_id"].map(lo["ci_low"])
    df[f"{up}_ci_high"] = df["cell_id"].map(lo["ci_high"])
    df[down] = df["cell_id"].map(wide[down])
    df["on_front"] = stats.pareto_front(df[up], df[down])
    thr = ctx.opts["pareto"].get("threshold")
    finite = df[down][np.isfinite(df[down])]
    if finite.empty:
        df["recommended"] = False
        return df, f"No Pareto front: {down} is undefined for every cell."
    how = "set in report.pareto.threshold"
    if thr is None:
        thr, how = float(finite.median()), "the median over cells"
    ok = df[(df[down] <= thr) & np.isfinite(df[up])]
    df["recommended"] = False
    if ok.empty:
        return df, f"No cell has {down} at most {thr:.3g} ({how})."
    best = ok.sort_values(up, ascending=False, kind="stable").iloc[0]
    df.loc[df["cell_id"] == best["cell_id"], "recommended"] = True
    cell = ctx.cells.set_index("cell_id").loc[best["cell_id"]]
    parts = []
    if len(ctx.targets) > 1:
        parts.append(f"model {cell['target']}")
    if isinstance(cell["setting_name"], str) and cell["setting_name"]:
        parts.append(f"preset {cell['setting_name']}")
    parts += [f"{p} {_fmt_value(cell[p])}" for p in ctx.swept]
    ci = ""
    if np.isfinite(best[f"{up}_ci_low"]):
        ci = f", {int(round(ctx.opts['confidence'] * 100))}% CI {best[f'{up}_ci_low']:.3g} to {best[f'{up}_ci_high']:.3g}"
    text = (f"Highest {up} ({best[up]:.3g}{ci}) with {down} at most {thr:.3g} ({how}): "
            f"{', '.join(parts) or 'the only setting'} ({best[down]:.3g} {down}).")
    return df, text


def heatmaps(ctx: Context, cm: pd.DataFrame, metrics: list[str], limit: int) -> pd.DataFrame:
    """Per target, pair of swept parameters and metric: mean over the cells at each
    (x, y) of their cell means (other parameters averaged). At most ``limit`` maps."""
    means = cm.pivot(index="cell_id", columns="metric", values="mean")
    rows, count = [], 0
    for t in ctx.targets:
        cells = ctx.cells[ctx.cells["target"] == t]
        for i, px in enumerate(ctx.swept):
            for py in ctx.swept[i + 1:]:
                if cells[px].nunique() < 2 or cells[py].nunique() < 2:
                    continue  # a line, not a map: the effects plot shows it
                for m in metrics:
                    if count >= limit:
                        return pd.DataFrame(rows, columns=_HM_COLS)
                    count += 1
                    d = cells[["cell_id", px, py]].copy()
                    d["v"] = d["cell_id"].map(means[m])
                    for (vx, vy), g in d.groupby([px, py], sort=True):
                        rows.append((t, px, float(vx), py, float(vy), m, float(g["v"].mean()), len(g)))
    return pd.DataFrame(rows, columns=_HM_COLS)


_HM_COLS = ["target", "param_x", "value_x", "param_y", "value_y", "metric", "mean", "cells"]
