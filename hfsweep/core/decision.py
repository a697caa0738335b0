"""The decision rule the report's recommendation and the adaptive search share.

Given each cell's per-prompt values (cells x prompts, NaN where a prompt is missing) on the
objective and on each constraint's metric, :func:`decide` says, at the report's confidence:

1. **Constraints at their bound.** A constraint holds for a cell when the one-sided bound of
   the cell's mean is on the right side of it (for ``pass_rate >= 0.85``, the lower bound is at
   least 0.85). A cell whose mean meets every constraint but whose bounds do not is
   *undecided*. A cell whose favourable bound misses a constraint (the upper bound below 0.85)
   *cannot* meet it. Only cells where every constraint holds are candidates.
2. **The best as a set.** The reference is the candidate with the best mean on the objective.
   A cell is significantly worse when the one-sided paired t-test of the reference against it,
   over the prompts both have, rejects "it is as good" at the per-test level. The *tied set* is
   the reference and every candidate that is not significantly worse: it holds the true best
   candidate at the stated confidence (Hsu's subset selection with the best, with the
   Bonferroni bound: the true best is left out only if some other cell beats it by chance).
3. **One choice from the set**, by a rule fixed in advance: the best worst case on the
   objective (the one-sided bound of its mean at the per-test level: the lower bound for a
   maximum), then the simplest setting (the fewest samplers away from their neutral value,
   :data:`NEUTRAL`; temperature is set in every setting and does not count), then the largest
   worst-case margin of its constraint bounds, then grid order. "Not significantly worse" is
   not "as good": a cell kept in the set for want of data may still be far behind on its mean,
   so the choice does not take the simplest regardless; it takes the setting the data
   guarantee most of, and simplicity settles equal guarantees (cells with identical values).

**Multiplicity.** Every bound and every test is at the one per-test level ``(1 - confidence) /
(cells x looks)``: Bonferroni over the cells with a value on the objective (any of them could
be the one chosen, or the one wrongly kept or dropped) and over the looks an adaptive search
takes at the data (one for a report). Conservative, and simple to state.

**Bounds and tests** are Student t on the prompts (``scipy.stats.t``, n - 1 degrees of freedom).
Each cell's variance is shrunk toward the variance pooled over the cells with the weight of one
prompt: ``((n - 1) s^2 + s_pooled^2) / n``. Without it, a few prompts that happen to agree (3
prompts of pass rate 1) give an SD of 0 and claim certainty; with it, 24 such prompts still
clear a bound. Paired differences are shrunk the same way, toward the variance pooled over the
comparisons. Fewer than 2 prompts decide nothing.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from hfsweep.core.objective import GOALS, Constraint
from hfsweep.core.records import LATER_SAMPLERS

NEUTRAL: dict[str, tuple] = {"top_k": (None, 0, -1), "top_p": (None, 1.0), "frequency_penalty": (None, 0.0),
                             "presence_penalty": (None, 0.0), **{name: (None, off) for name, off in LATER_SAMPLERS.items()}}  # fmt: skip
"""Per sampler, the values that leave it off: a setting's simplicity counts the others."""

@dataclass(frozen=True)
class Decision:
    """What :func:`decide` found (arrays have one entry per cell, in the order given).

    ``level``: the per-test error rate, ``family`` how it was corrected, in words. ``bounds``: per
    constraint, each cell's deciding bound (the lower one for ``>=``, the upper for ``<=``);
    ``misses``: per constraint, the cells whose favourable bound misses it. ``p``: the one-sided p of "the reference is
    better" per cell (NaN for the reference and cells without two shared prompts). ``best``: the
    reference (None when no cell is a candidate). ``chosen``: the rule's pick from ``tied``.
    """

    level: float
    family: str
    means: np.ndarray
    holds: np.ndarray
    on_means: np.ndarray
    bounds: dict[Constraint, np.ndarray]
    misses: dict[Constraint, np.ndarray]
    sds: dict[str, np.ndarray]
    p: np.ndarray
    tied: np.ndarray
    best: int | None
    chosen: int | None

    @property
    def cannot(self) -> np.ndarray:
        """Cells that cannot meet some constraint at the level."""
        return np.logical_or.reduce([*self.misses.values(), np.zeros(len(self.means), dtype=bool)])

    @property
    def worse(self) -> np.ndarray:
        """Cells significantly worse than the reference on the objective."""
        return np.isfinite(self.p) & (self.p < self.level)


def level(confidence: float, cells: int, looks: int = 1) -> float:
    """The per-test error rate: ``(1 - confidence) / (cells x looks)``.

    >>> round(level(0.95, 10), 6), round(level(0.95, 10, looks=5), 6)
    (0.005, 0.001)
    """
    return (1 - confidence) / max(1, cells) / max(1, looks)


def family(cells: int, looks: int = 1) -> str:
    """How :func:`level` corrects, in words.

    >>> family(12), family(12, looks=4)
    ('Bonferroni over 12 cells', 'Bonferroni over 12 cells x 4 looks')
    """
    return f"Bonferroni over {cells} cells" + (f" x {looks} looks" if looks > 1 else "")


def row_means(rows: np.ndarray) -> np.ndarray:
    """Per row: the mean of its finite values (NaN for a row without one).

    >>> row_means(np.array([[1.0, np.nan, 0.0], [np.nan, np.nan, np.nan]])).tolist()
    [0.5, nan]
    """
    rows = np.asarray(rows, dtype=float)
    finite = np.isfinite(rows)
    counts = finite.sum(axis=1)
    return np.where(counts > 0, np.where(finite, rows, 0.0).sum(axis=1) / np.maximum(counts, 1), np.nan)


def shrunk(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (mean, shrunk SD, prompts) over its finite values; the SD is shrunk toward the
    pooled one with the weight of one prompt (module docstring). NaN mean and SD below 1 value.

    >>> means, sds, n = shrunk(np.array([[1.0, 1.0, 1.0], [0.0, 1.0, np.nan]]))
    >>> means.tolist(), [round(float(s), 3) for s in sds], n.tolist()
    ([1.0, 0.5], [0.236, 0.577], [3, 2])
    """
    rows = np.asarray(rows, dtype=float).reshape(len(rows), -1)
    ok = np.isfinite(rows)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = row_means(rows)
        squares = np.nansum((rows - means[:, None]) ** 2, axis=1) if rows.size else np.zeros(len(rows))
        df = np.maximum(n - 1, 0)
        pooled = squares.sum() / df.sum() if df.sum() > 0 else 0.0
        sds = np.sqrt((squares + pooled) / n)
    sds[n < 1] = np.nan
    return means, sds, n


def bounds(rows: np.ndarray, alpha: float, side: float) -> np.ndarray:
    """One-sided Student-t bound of each row's mean at level ``alpha``: the upper bound for
    ``side`` +1, the lower for -1; NaN below 2 prompts.

    >>> [round(float(b), 3) for b in bounds(np.array([[0.6, 0.8, 1.0, 0.8]]), 0.05, -1)]
    [0.608]
    """
    means, sds, n = shrunk(rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(1 - alpha, np.where(n >= 2, n - 1, np.nan))
        return means + side * quantile * sds / np.sqrt(n)


def intervals(rows: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the mean and its two-sided Student-t interval at ``confidence`` on the shrunk SD
    (infinite below 2 prompts): the search's log of where each cell stands.

    >>> means, low, high = intervals(np.array([[0.6, 0.8, 1.0, 0.8]]), 0.90)
    >>> round(float(low[0]), 3), round(float(high[0]), 3)
    (0.608, 0.992)
    """
    means = shrunk(rows)[0]
    low, high = bounds(rows, (1 - confidence) / 2, -1), bounds(rows, (1 - confidence) / 2, 1)
    few = ~np.isfinite(low)
    low[few], high[few] = -np.inf, np.inf
    return means, low, high


def worse_than(rows: np.ndarray, reference: int, sign: float) -> np.ndarray:
    """Per row: the one-sided paired t p-value of "the reference row is better" (``sign`` +1:
    higher is better), over the prompts both rows have; NaN for the reference and below 2 prompts.

    >>> p = worse_than(np.array([[0.9, 0.8, 1.0, 0.9], [0.5, 0.6, 0.4, 0.5], [0.9, 0.8, 1.0, 0.8]]), 0, 1.0)
    >>> bool(p[1] < 0.01), bool(p[2] > 0.05), bool(np.isnan(p[0]))
    (True, True, True)
    """
    rows = np.asarray(rows, dtype=float)
    diffs = sign * (rows[reference][None, :] - rows)
    diffs[reference] = np.nan
    means, sds, n = shrunk(diffs)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = means / (sds / np.sqrt(n))
        p = stats.t.sf(t, np.where(n >= 2, n - 1, np.nan))
    p[n < 2] = np.nan
    p[reference] = np.nan
    return p


def simplicity(params: Sequence[Mapping]) -> np.ndarray:
    """Per setting: how many samplers are away from their neutral value (:data:`NEUTRAL`).

    >>> simplicity([{"temperature": 0.3, "top_p": 1.0}, {"temperature": 0.3, "top_p": 0.9, "top_k": 40}]).tolist()
    [0, 2]
    """
    def off(value, neutral) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value)) or value in neutral

    return np.array([sum(not off(p.get(name), neutral) for name, neutral in NEUTRAL.items()) for p in params], dtype=int)


def decide(objective: np.ndarray, goal: str, constrained: Sequence[tuple[Constraint, np.ndarray]], confidence: float,
           *, looks: int = 1, cells: int | None = None, exclude: np.ndarray | None = None,
           complexity: np.ndarray | None = None) -> Decision:  # fmt: skip
    """The rule of the module docstring on one target's cells.

    Args:
        objective: cells x prompts values of the objective's metric.
        goal: 'max' or 'min'.
        constrained: per constraint, its cells x prompts values.
        confidence: the report's (or the search's) confidence.
        looks: how many times an adaptive search looks at the data (1 for a report).
        cells: how many cells the family counts (default: the rows with a value on the objective).
        exclude: cells that are not candidates whatever their values (dropped by a search): left
            out of everything, pooled spreads included, so the decision on the others is the one
            the search took.
        complexity: per cell, the choice's second key (:func:`simplicity`); all equal if None.

    Three cells: B is best but fails its constraint; A holds and is the pick; C is far worse.

    >>> objective = np.array([[0.5] * 8, [0.9] * 8, [0.1, 0.2] * 4])
    >>> rate = np.array([[1.0] * 8, [0.5, 0.6] * 4, [1.0] * 8])
    >>> d = decide(objective, "max", [(Constraint.parse("rate >= 0.85"), rate)], 0.95)
    >>> d.holds.tolist(), d.cannot.tolist(), d.tied.tolist(), d.chosen
    ([True, False, True], [False, True, False], [True, False, False], 0)
    """
    objective = np.asarray(objective, dtype=float)
    keep = np.ones(len(objective), dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
    counted = int(np.isfinite(objective).any(axis=1).sum()) if cells is None else cells
    part = _decide(objective[keep], goal, [(c, np.asarray(rows, dtype=float)[keep]) for c, rows in constrained],
                   level(confidence, counted, looks), None if complexity is None else np.asarray(complexity)[keep])  # fmt: skip
    return _expand(dataclasses.replace(part, family=family(counted, looks)), keep)


def _expand(d: Decision, keep: np.ndarray) -> Decision:
    """A decision on the kept rows, as arrays over every row (left-out rows: no candidate, NaN)."""
    index = np.flatnonzero(keep)

    def full(values: np.ndarray, fill) -> np.ndarray:
        out = np.full(len(keep), fill, dtype=values.dtype if values.dtype != bool else bool)
        out[index] = values
        return out

    return Decision(d.level, d.family, full(d.means, np.nan), full(d.holds, False), full(d.on_means, False),
                    {c: full(b, np.nan) for c, b in d.bounds.items()}, {c: full(m, False) for c, m in d.misses.items()},
                    {m: full(v, np.nan) for m, v in d.sds.items()},
                    full(d.p, np.nan), full(d.tied, False), None if d.best is None else int(index[d.best]),
                    None if d.chosen is None else int(index[d.chosen]))  # fmt: skip


def _decide(objective: np.ndarray, goal: str, constrained, alpha: float, complexity) -> Decision:
    rows_count = len(objective)
    sign = GOALS[goal]
    means = shrunk(objective)[0]
    candidate = np.isfinite(means)
    holds, on_means = candidate.copy(), candidate.copy()
    deciding: dict[Constraint, np.ndarray] = {}
    misses: dict[Constraint, np.ndarray] = {}
    sds: dict[str, np.ndarray] = {}
    margin = np.full(rows_count, np.inf)
    for constraint, rows in constrained:
        c_means, sds[constraint.metric], _ = shrunk(rows)
        bound = bounds(rows, alpha, -constraint.sign)  # the side that must meet the constraint
        favourable = bounds(rows, alpha, constraint.sign)
        deciding[constraint] = bound
        with np.errstate(invalid="ignore"):
            holds &= np.isfinite(bound) & constraint.met(bound)
            on_means &= np.isfinite(c_means) & constraint.met(c_means)
            misses[constraint] = np.isfinite(favourable) & ~constraint.met(favourable)
            margin = np.minimum(margin, constraint.sign * (bound - constraint.value))
    signed = sign * means
    p = np.full(rows_count, np.nan)
    tied = np.zeros(rows_count, dtype=bool)
    best = chosen = None
    if holds.any():
        best = int(np.flatnonzero(holds)[np.argmax(signed[holds])])
        p = worse_than(objective, best, sign)
        tied = holds & ~(np.isfinite(p) & (p < alpha))
        tied[best] = True
        worst = np.round(sign * bounds(objective, alpha, -sign), 12)  # rounded: equal data give equal keys
        keys = np.zeros(rows_count) if complexity is None else np.asarray(complexity, dtype=float)
        chosen = min(np.flatnonzero(tied).tolist(),
                     key=lambda i: (-np.nan_to_num(worst[i], nan=-np.inf), keys[i], -np.nan_to_num(margin[i], nan=-np.inf), i))
    return Decision(alpha, "", means, holds, on_means, deciding, misses, sds, p, tied, best, chosen)
