"""The report's statistical tables, as DataFrames (one CSV each).

All per-prompt matrices are ``cells x prompts`` (rows in grid order, prompts in first-seen
order); pairing is by prompt column. Parameter effects, Friedman tests and heatmaps use only
each parameter's crossed part with complete blocks (:mod:`reports.design`); where a parameter
has none, or the settings are presets, the settings are compared pairwise (``setting_pairs``).
Every table with p-values tags each row with a test key, so that ``adjust_all`` counts a test
that appears in two tables once in the Benjamini-Hochberg family.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from hfsweep.core import records
from hfsweep.core.errors import ReportError
from hfsweep.core.report_options import ReportOptions
from hfsweep.reports import design, stats
from hfsweep.reports.bootstrap import bootstrap_cis
from hfsweep.reports.power import mdd


class Context:
    """Cells, per-prompt metric matrices, the design and statistics options shared by the tables.

    ``present`` marks cells with a value on some prompt and metric (a cell whose every request
    failed is a hole in the design); ``parts`` holds each (target, parameter)'s crossed part
    (:mod:`reports.design`); ``tested`` are the metrics that get p-values: of metrics with the
    same per-prompt values in every cell (``loop`` averaged per prompt is ``loop_rate``) only
    one is tested (a key metric if one is, else the last listed: the named aggregate).
    """

    def __init__(self, cells: pd.DataFrame, wide: pd.DataFrame, metrics: list[str], prompts: list[str], opts: ReportOptions,
                 objective: Mapping | None = None, search_dropped: Collection[str] = (), search_looks: int = 1):  # fmt: skip
        self.cells = cells
        self.metrics = metrics
        self.opts = opts
        self.objective = objective  # the run's objective config (metric, goal, constraints), if any
        self.search_dropped = set(search_dropped)  # cells an adaptive search dropped: not candidates
        self.search_looks = search_looks  # the looks an adaptive search took: the decision's level counts them
        self.swept = records.swept_params(cells)
        self.targets = list(dict.fromkeys(cells["target"]))
        ids = cells["cell_id"].tolist()
        self.row = {c: i for i, c in enumerate(ids)}
        self.mats = {}
        for m in metrics:
            mat = wide[m].unstack("prompt_id") if len(wide) else pd.DataFrame()
            self.mats[m] = mat.reindex(index=ids, columns=prompts).to_numpy(dtype=float)
        self.kw = dict(confidence=float(opts.confidence), n_resamples=int(opts.bootstrap_resamples),
                       seed=int(opts.seed))
        self.present = np.zeros(len(ids), dtype=bool)
        for m in metrics:
            self.present |= np.isfinite(self.mats[m]).any(axis=1)
        self.design, self.parts = design.design_table(cells[self.present], self.swept)
        self.tested, self.duplicates = distinct_metrics(self.mats, metrics, opts.key_metrics)


def distinct_metrics(mats: dict, metrics: list[str], preferred: list[str]) -> tuple[list[str], dict[str, str]]:
    """Metrics with distinct per-prompt matrices, and {left-out metric: the one tested instead}.

    >>> a = np.array([[0.5, 1.0]])
    >>> distinct_metrics({"loop": a, "words": a + 3, "loop_rate": a.copy()}, ["loop", "words", "loop_rate"], [])
    (['words', 'loop_rate'], {'loop': 'loop_rate'})
    """
    groups: list[list[str]] = []
    reps = np.empty((0, 0))
    for m in metrics:
        x = mats[m].reshape(-1)
        hit = np.flatnonzero(np.all(np.isclose(reps, x, rtol=1e-12, atol=1e-12, equal_nan=True), axis=1)) \
            if len(reps) and reps.shape[1] == x.size else []
        if len(hit):
            groups[hit[0]].append(m)
        else:
            groups.append([m])
            reps = np.vstack([reps, x]) if len(reps) else x[None, :]
    keep, dup = set(), {}
    for g in groups:
        chosen = next((m for m in preferred if m in g), g[-1])
        keep.add(chosen)
        dup.update({m: chosen for m in g if m != chosen})
    return [m for m in metrics if m in keep], dup


def cell_metrics(context: Context) -> pd.DataFrame:
    """Per cell and metric: mean over prompts, BCa CI, n prompts, note."""
    rows, arrays = [], []
    for m in context.metrics:
        for i, r in enumerate(context.cells.itertuples()):
            rows.append((r.cell_id, r.target, r.setting, m))
            arrays.append(context.mats[m][i])
    ests = bootstrap_cis(arrays, **context.kw)
    return _with_estimates(pd.DataFrame(rows, columns=["cell_id", "target", "setting", "metric"]), ests, note=True)


def part_matrix(context: Context, part: design.Part, metric: str) -> tuple[np.ndarray, int, int]:
    """``levels x prompts``: per prompt, the mean over the part's contexts of each level's
    cells; a prompt missing any cell of the part is NaN (complete blocks).
    Returns (matrix, complete prompts, dropped prompts = with some but not all cells)."""
    idx = np.vectorize(context.row.__getitem__, otypes=[int])(part.cell_ids)
    block = context.mats[metric][idx]  # levels x contexts x prompts
    ok = np.isfinite(block)
    complete = ok.all(axis=(0, 1))
    dropped = int((ok.any(axis=(0, 1)) & ~complete).sum())
    with np.errstate(all="ignore"):
        mat = np.where(complete, block.mean(axis=1), np.nan)
    return mat, int(complete.sum()), dropped


def _parts(context: Context):
    for t in context.targets:
        for p in context.swept:
            part = context.parts.get((t, p))
            if part is not None:
                yield t, p, part


def effects(context: Context) -> pd.DataFrame:
    """Per target, swept parameter, level (of its crossed part) and metric: mean over complete
    prompts of the level's per-prompt value (mean over the part's contexts), bootstrap CI."""
    rows, arrays, extra = [], [], []
    for t, p, part in _parts(context):
        for m in context.metrics:
            mat, _, dropped = part_matrix(context, part, m)
            for lv, arr in zip(part.levels, mat):
                rows.append((t, p, lv[0], m))
                arrays.append(arr)
                extra.append((dropped, len(part.contexts), part.held))
    ests = bootstrap_cis(arrays, **context.kw)
    df = _with_estimates(pd.DataFrame(rows, columns=["target", "parameter", "level", "metric"]), ests)
    return df.join(pd.DataFrame(extra, columns=["dropped", "contexts", "held"], index=df.index))


def _with_estimates(df: pd.DataFrame, ests: list, note: bool = False) -> pd.DataFrame:
    """``df`` with one bootstrap estimate per row: mean, CI bounds, n (and why a CI is missing)."""
    df["mean"] = [e.mean for e in ests]
    df["ci_low"] = [e.low for e in ests]
    df["ci_high"] = [e.high for e in ests]
    df["n"] = [e.n for e in ests]
    if note:
        df["note"] = [e.note for e in ests]
    return df


def friedman(context: Context) -> pd.DataFrame:
    """Friedman test per target, swept parameter whose crossed part has >= 3 levels, and tested
    metric: blocks = complete prompts, a level's value = mean over the part's contexts."""
    rows, keys = [], []
    for t, p, part in _parts(context):
        if len(part.levels) < 3:
            continue
        for m in context.tested:
            mat, _, dropped = part_matrix(context, part, m)
            stat, pv, n, note = stats.friedman(mat.T)
            rows.append((t, p, len(part.levels), m, n, stat, pv, note, dropped, len(part.contexts)))
            keys.append(("friedman", t, p, m))
    df = pd.DataFrame(rows, columns=["target", "parameter", "levels", "metric", "n", "statistic", "p", "note",
                                     "dropped", "contexts"])
    df.attrs["test_keys"] = SharedKeys(keys)
    return df


def _baseline_setting(context: Context) -> str:
    base = context.opts.baseline
    cells = context.cells
    if base is None:
        return cells["setting_id"].iloc[0]
    hit = cells[(cells["setting_name"] == base) | (cells["setting_id"] == base)]
    if hit.empty:
        names = sorted({n for n in cells["setting_name"].dropna() if n})
        raise ReportError(f"report.baseline '{base}' matches no setting_name or setting_id. "
                          f"Setting names: {', '.join(names) or '(none)'}; or use a setting_id.")
    return hit["setting_id"].iloc[0]


def paired_baseline(context: Context) -> tuple[pd.DataFrame, str]:
    """Every cell vs the baseline setting of the same target, paired by prompt."""
    base = _baseline_setting(context)
    rows, pairs, keys = [], [], []
    for t in context.targets:
        cells = context.cells[context.cells["target"] == t]
        b = cells[cells["setting_id"] == base]
        if b.empty:
            continue
        bid, bsetting = b["cell_id"].iloc[0], b["setting"].iloc[0]
        for r in cells.itertuples():
            if r.setting_id == base:
                continue
            for m in context.tested:
                rows.append((t, r.cell_id, r.setting, bsetting, m))
                pairs.append((context.mats[m][context.row[r.cell_id]], context.mats[m][context.row[bid]]))
                keys.append(("pair", frozenset((r.cell_id, bid)), m))
    df = _paired_frame(rows, pairs, keys, ["target", "cell_id", "setting", "baseline", "metric"], context)
    label = context.cells.loc[context.cells["setting_id"] == base, "setting"].iloc[0]
    return df, label


def needs_setting_pairs(context: Context, target: str) -> bool:
    """Named settings (presets), or a swept parameter without a crossed part."""
    cells = context.cells[context.cells["target"] == target]
    named = cells["setting_name"].map(lambda s: isinstance(s, str) and s != "").any()
    return bool(named) or any(k[0] == target and v is None for k, v in context.parts.items())


MAX_PAIRED_SETTINGS = 16
"""Above this many settings of one model, every pair (120 at 16) would swamp the report and
its BH family; those settings are compared with the baseline only."""


def setting_pairs(context: Context) -> tuple[pd.DataFrame, str]:
    """Every pair of settings of a target (b minus a, grid order, paired by prompt) where the
    settings are presets or some parameter has no crossed part: the settings themselves are
    compared, as no per-parameter effect is defined there. Returns (table, note on targets
    left out for having more than :data:`MAX_PAIRED_SETTINGS` settings)."""
    rows, pairs, keys, skipped = [], [], [], []
    for t in context.targets:
        if not needs_setting_pairs(context, t):
            continue
        cells = context.cells[(context.cells["target"] == t) & context.present]
        if len(cells) > MAX_PAIRED_SETTINGS:
            skipped.append(f"{t} ({len(cells)} settings)")
            continue
        recs = list(cells.itertuples())
        for i, a in enumerate(recs):
            for b in recs[i + 1:]:
                for m in context.tested:
                    rows.append((t, a.setting_id, a.setting, b.setting_id, b.setting, m))
                    pairs.append((context.mats[m][context.row[b.cell_id]], context.mats[m][context.row[a.cell_id]]))
                    keys.append(("pair", frozenset((a.cell_id, b.cell_id)), m))
    cols = ["target", "setting_id_a", "setting_a", "setting_id_b", "setting_b", "metric"]
    note = (f"Not every pair of settings for {', '.join(skipped)}: more than {MAX_PAIRED_SETTINGS} settings; "
            "see the comparison with the baseline." if skipped else "")
    return _paired_frame(rows, pairs, keys, cols, context), note


def model_pairs(context: Context) -> pd.DataFrame:
    """Target b minus target a, paired on (setting_id, prompt_id); plus one row per metric
    over all shared settings (per prompt, mean difference over the shared settings that both
    targets have data for; prompts missing any of them are dropped)."""
    rows, pairs, keys = [], [], []
    for i, a in enumerate(context.targets):
        for b in context.targets[i + 1:]:
            ca = context.cells[(context.cells["target"] == a) & context.present].set_index("setting_id")
            cb = context.cells[(context.cells["target"] == b) & context.present].set_index("setting_id")
            shared = [s for s in ca.index if s in cb.index]
            if not shared:
                continue
            ia = [context.row[ca.loc[s, "cell_id"]] for s in shared]
            ib = [context.row[cb.loc[s, "cell_id"]] for s in shared]
            for m in context.tested:
                ma, mb = context.mats[m][ia], context.mats[m][ib]
                with np.errstate(all="ignore"):
                    d = mb - ma
                    overall = np.where(np.isfinite(d).all(axis=0), d.mean(axis=0), np.nan)
                seen = (np.isfinite(ma) | np.isfinite(mb)).any(axis=0)
                rows.append((a, b, "(all)", f"all {len(shared)} shared settings", m))
                pairs.append((overall, np.where(seen, 0.0, np.nan)))
                keys.append(("models", a, b, m))
                for k, s in enumerate(shared):
                    rows.append((a, b, s, ca.loc[s, "setting"], m))
                    pairs.append((mb[k], ma[k]))
                    keys.append(("pair", frozenset((ca.loc[s, "cell_id"], cb.loc[s, "cell_id"])), m))
    return _paired_frame(rows, pairs, keys, ["target_a", "target_b", "setting_id", "setting", "metric"], context)


def _paired_frame(rows, pairs, keys, cols, context: Context) -> pd.DataFrame:
    """Rows of paired comparisons (a - b per prompt) with diff, CI, n, p, the minimum
    detectable difference ``mdd`` (alpha 0.05, power 0.8) and ``dropped`` (prompts with a
    value in only one of the two)."""
    res = stats.paired_differences(pairs, **context.kw)
    df = pd.DataFrame(rows, columns=cols)
    df["diff"] = [r.diff for r in res]
    df["ci_low"] = [r.low for r in res]
    df["ci_high"] = [r.high for r in res]
    df["n"] = [r.n for r in res]
    df["p"] = [r.p for r in res]
    df["note"] = [r.note for r in res]
    df["mdd"] = [mdd(r.sd, r.n) for r in res]
    df["dropped"] = [int((np.isfinite(a) | np.isfinite(b)).sum()) - r.n for (a, b), r in zip(pairs, res)]
    df.attrs["test_keys"] = SharedKeys(keys)
    return df


class SharedKeys(list):
    """A table's per-row test keys (``frame.attrs["test_keys"]``, for :func:`adjust_all`),
    shared rather than copied by the frames pandas derives from the table: it deep-copies
    ``attrs`` into each (34,000 keys, a second per copy on a 2,000-cell report)."""

    def __deepcopy__(self, memo):
        return self


def adjust_all(*frames: pd.DataFrame) -> None:
    """Benjamini-Hochberg over the ``p`` column of every frame together; adds ``p_adj``.

    A test that appears in several frames (the same two cells and metric, e.g. a preset vs
    the baseline in both ``paired_baseline`` and ``setting_pairs``; keys in
    ``frame.attrs["test_keys"]``) counts once in the family and gets the same ``p_adj``.
    """
    unique: dict = {}
    per_frame = []
    for k, f in enumerate(frames):
        keys = f.attrs.get("test_keys") or [("row", k, i) for i in range(len(f))]
        per_frame.append(keys)
        for key, p in zip(keys, f["p"].to_numpy(dtype=float)):
            unique.setdefault(key, p)
    adj = dict(zip(unique, stats.adjust_pvalues(list(unique.values()))))
    for f, keys in zip(frames, per_frame):
        f["p_adj"] = [adj[key] for key in keys]


def heatmaps(context: Context, metrics: list[str], limit: int) -> pd.DataFrame:
    """Per target, pair of swept parameters and metric: on the crossed part of the pair (its
    (x, y) combinations that appear with the same values of the other parameters), the mean
    over complete prompts of each square's per-prompt value (mean over the part's contexts).
    Pairs whose part does not vary both parameters are skipped. At most ``limit`` maps."""
    rows, count = [], 0
    for t in context.targets:
        cells = context.cells[(context.cells["target"] == t) & context.present]
        varying = [p for p in context.swept if cells[p].nunique(dropna=False) > 1]
        for i, px in enumerate(varying):
            for py in varying[i + 1:]:
                part = design.crossed_part(cells, [px, py], [p for p in varying if p not in (px, py)])
                if part is None or len({lv[0] for lv in part.levels}) < 2 or len({lv[1] for lv in part.levels}) < 2:
                    continue  # a line, not a map: the effects plot shows it
                for m in metrics:
                    if count >= limit:
                        return pd.DataFrame(rows, columns=_HM_COLS)
                    count += 1
                    mat, n, dropped = part_matrix(context, part, m)
                    with np.errstate(all="ignore"):
                        means = np.nanmean(mat, axis=1) if n else np.full(len(mat), np.nan)
                    for (vx, vy), v in zip(part.levels, means):
                        rows.append((t, px, _num(vx), py, _num(vy), m, float(v), len(part.contexts), n, dropped))
    return pd.DataFrame(rows, columns=_HM_COLS)


def _num(v) -> float:
    return float("nan") if v is None else float(v)


_HM_COLS = ["target", "param_x", "value_x", "param_y", "value_y", "metric", "mean", "cells", "n", "dropped"]
