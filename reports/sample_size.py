"""How many prompts (and samples per prompt) a comparison needs, from a pilot run.

A comparison of two settings is paired by prompt: its noise is the SD ``s`` of the per-prompt
differences. With n prompts the minimum detectable difference at two-sided ``alpha`` and
``power`` is ``(t_{n-1}(1-alpha/2) + t_{n-1}(power)) * s / sqrt(n * 3/pi)``
(:func:`hfsweep.reports.power.mdd`: the paired t formula, n scaled by the signed-rank test's
efficiency); the prompts needed for a difference ``d`` invert it
(:func:`hfsweep.reports.power.prompts_needed`, at least 6: fewer cannot reach p < 0.05 with the
signed-rank test).

From the pilot, per target, on the prompts that have a value in every cell:

* ``s`` pooled over cells: ``sqrt(2 * MS_residual)`` of the two-way (cell + prompt)
  decomposition, i.e. the typical pair; and the largest SD of any pair of cells (the
  conservative choice);
* for per-sample metrics, the split of a cell's per-prompt value into a within-prompt part
  (sample-to-sample variance ``v_w``, pooled over cells and prompts) and the rest
  (``v_b = MS_residual - v_w * mean(1/k)``, floored at 0). With k samples per prompt,
  ``s(k) = sqrt(2 * (v_b + v_w / k))``: more samples only shrink the first part. Group metrics
  (distinct_n, self_bleu, ...) are computed over the k samples, so k changes what they
  measure; no such split is given for them.
"""

from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from hfsweep.core.errors import ReportError
from hfsweep.reports.load import cell_table, load_runs, metric_columns, prompt_values
from hfsweep.reports.power import MIN_PROMPTS, prompts_needed


@dataclass(frozen=True)
class TargetSampleSize:
    """The sample size for one target (model) of the pilot."""

    target: str
    cells: int
    prompts: int
    samples: float
    sd: float
    n: float
    sd_max: float
    n_max: float
    within_sd: float = float("nan")
    between_sd: float = float("nan")
    by_samples: dict[int, float] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class SampleSize:
    """Prompts needed to detect ``difference`` on ``metric``, per target of the pilot."""

    metric: str
    difference: float
    alpha: float
    power: float
    targets: list[TargetSampleSize]

    def __str__(self) -> str:
        lines = [f"Detect a difference of {self.difference:g} in {self.metric} between two settings, paired by prompt, "
                 f"two-sided alpha {self.alpha:g}, power {self.power:g}:",
                 "smallest n with (t_{n-1}(1-alpha/2) + t_{n-1}(power)) * s / sqrt(n * 3/pi) <= d, s = SD of the "
                 "per-prompt differences (the paired t formula at the signed-rank test's efficiency; at least "
                 f"{MIN_PROMPTS} prompts, the fewest with which the signed-rank test can reach p < 0.05)."]
        for t in self.targets:
            lines.append(f"{t.target} (pilot: {t.cells} cells, {t.prompts} prompts with every cell, "
                         f"{t.samples:.3g} samples per prompt):")
            if t.note and not math.isfinite(t.sd):
                lines.append(f"  {t.note}")
                continue
            lines.append(f"  paired SD s = {t.sd:.3g} (pooled over cells) -> {_n(t.n)} prompts; "
                         f"largest pair SD {t.sd_max:.3g} -> {_n(t.n_max)} prompts")
            if t.by_samples:
                ks = ", ".join(f"{k}{' (pilot)' if k == round(t.samples) else ''}: {_n(n)}" for k, n in t.by_samples.items())
                lines.append(f"  prompts needed by samples per prompt (within-prompt SD {t.within_sd:.3g}, "
                             f"rest {t.between_sd:.3g}): {ks}")
            if t.note:
                lines.append(f"  {t.note}")
        return "\n".join(lines)


def _n(n: float) -> str:
    return str(int(n)) if math.isfinite(n) else "-"


def sample_size(run_dirs, metric: str, difference: float, *, alpha: float = 0.05, power: float = 0.8,
         samples: Sequence[int] = (1, 2, 4, 8, 16)) -> SampleSize:
    """Read a pilot run (run or sweep directories, as ``reports.load``) and return the sample sizes it needs.

    Raises:
        ReportError: a path that is not a run, an unknown metric, a difference <= 0.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not (isinstance(difference, (int, float)) and difference > 0):
        raise ReportError(f"The difference to detect must be > 0 (in units of {metric}), got {difference!r}.")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ReportError(f"alpha and power must be in (0, 1), got alpha {alpha!r}, power {power!r}.")
    data = load_runs([Path(p) for p in run_dirs])
    wide, metrics = prompt_values(data.scores, data.group_scores)
    if metric not in metrics:
        close = difflib.get_close_matches(metric, metrics, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ReportError(f"Unknown metric '{metric}' in this run.{hint} Available: {', '.join(metrics)}.")
    cells = cell_table(data.completions)
    prompts = list(dict.fromkeys(data.completions["prompt_id"].astype(str)))
    values = wide[metric].astype(float)
    values.index = values.index.set_levels([lvl.astype(str) for lvl in values.index.levels])
    mat = values.unstack("prompt_id").reindex(index=cells["cell_id"], columns=prompts).to_numpy(dtype=float)
    per_sample = metric in metric_columns(data.scores)
    out = []
    for t in dict.fromkeys(cells["target"]):
        ids = cells.loc[cells["target"] == t, "cell_id"].tolist()
        x = mat[(cells["target"] == t).to_numpy()]
        keep = np.isfinite(x).any(axis=1)
        x, ids = x[keep], [c for c, k in zip(ids, keep) if k]
        within = _within(data.scores, ids, metric) if per_sample else None
        k = float(data.scores[data.scores["cell_id"].isin(ids)].groupby(["cell_id", "prompt_id"]).size().mean())
        out.append(_target_sample_size(t, x, k, within, difference, alpha, power, samples))
    return SampleSize(metric, float(difference), alpha, power, out)


def _within(scores, cell_ids: list[str], metric: str) -> tuple[float, float]:
    """(pooled within-prompt variance, mean of 1/k) over (cell, prompt) groups."""
    s = scores.loc[scores["cell_id"].isin(cell_ids), ["cell_id", "prompt_id", metric]].dropna()
    g = s.groupby(["cell_id", "prompt_id"])[metric].agg(["var", "count"])
    df = (g["count"] - 1).sum()
    v = float(((g["count"] - 1) * g["var"].fillna(0)).sum() / df) if df > 0 else float("nan")
    return v, float((1.0 / g["count"]).mean())


FEW = 10  # below this many pilot prompts the SD estimate itself is rough


def _target_sample_size(target, x: np.ndarray, k_mean: float, within, d: float, alpha: float, power: float,
                 samples) -> TargetSampleSize:
    complete = x[:, np.isfinite(x).all(axis=0)]
    c, p = complete.shape
    if c < 2 or p < 2:
        return TargetSampleSize(target, c, p, k_mean, float("nan"), float("nan"), float("nan"), float("nan"),
                          note="needs at least 2 cells with values on at least 2 common prompts")
    resid = complete - complete.mean(axis=1, keepdims=True) - complete.mean(axis=0, keepdims=True) + complete.mean()
    ms = float((resid ** 2).sum() / ((c - 1) * (p - 1)))
    sd = math.sqrt(2 * ms)
    pair_sds = []
    for i, j in itertools.combinations(range(len(x)), 2):
        diff = x[i] - x[j]
        diff = diff[np.isfinite(diff)]
        if diff.size >= 2:
            pair_sds.append(float(np.std(diff, ddof=1)))
    sd_max = max(pair_sds) if pair_sds else float("nan")
    notes = [f"only {p} pilot prompts: the SD is itself uncertain, prefer the largest pair SD"] if p < FEW else []
    fields = dict(target=target, cells=c, prompts=p, samples=k_mean, sd=sd, n=prompts_needed(sd, d, alpha, power),
                  sd_max=sd_max, n_max=prompts_needed(sd_max, d, alpha, power))
    if within is None:
        notes.append("group metric: more samples per prompt change what it measures, so no split into within- "
                     "and between-prompt variance")
    elif not math.isfinite(within[0]):
        notes.append("one sample per prompt: the within-prompt variance is not estimable")
    else:
        v_w, inv_k = within
        v_b = max(0.0, ms - v_w * inv_k)
        ks = sorted({*samples, int(round(k_mean))})
        fields.update(within_sd=math.sqrt(v_w), between_sd=math.sqrt(v_b),
                      by_samples={k: prompts_needed(math.sqrt(2 * (v_b + v_w / k)), d, alpha, power) for k in ks})
    return TargetSampleSize(**fields, note="; ".join(notes))
