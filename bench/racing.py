"""irace's F-race step, written out for the strategy bench: the Friedman test over the cells
still racing, then Conover's post-hoc comparisons of rank sums against the best, as irace's
``aux.friedman`` does (Conover, *Practical Nonparametric Statistics*, 1999, pp. 369-371); with
two cells left, the paired Wilcoxon signed-rank test (R's ``wilcox.test(paired=TRUE,
exact=FALSE)``: normal approximation with continuity correction, zero differences dropped).

Scores are higher-is-better, cells x prompts (prompts are irace's instances, its blocks). A
helper module of ``bench/bench_strategies.py``; run on its own it does nothing.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
from scipy import stats


def rank_sums(scores: np.ndarray) -> np.ndarray:
    """Per cell, the sum over prompts of its rank among the cells (1 = best, ties averaged).

    >>> rank_sums(np.array([[1.0, 1.0], [0.0, 1.0], [0.5, 0.0]])).tolist()
    [2.5, 4.5, 5.0]
    """
    return stats.rankdata(-np.asarray(scores, dtype=float), axis=0, method="average").sum(axis=1)


def conover_friedman(scores: np.ndarray) -> np.ndarray:
    """Conover's pairwise post-hoc p-values after a Friedman test (two-sided, unadjusted): a
    cells x cells matrix, 1 on the diagonal. The statistic is the rank-sum difference over
    ``sqrt(2 (b A - sum R^2) / ((b - 1)(k - 1)))`` with ``A`` the sum of squared ranks, ``b``
    prompts, ``k`` cells, on Student t with ``(b - 1)(k - 1)`` degrees of freedom: irace's
    critical difference, written as a p-value (scikit-posthocs' ``posthoc_conover_friedman``
    computes the same). All p-values are 1 when every prompt ties every cell."""
    scores = np.asarray(scores, dtype=float)
    k, b = scores.shape
    ranks = stats.rankdata(-scores, axis=0, method="average")
    sums = ranks.sum(axis=1)
    spread = 2 * (b * np.sum(ranks**2) - np.sum(sums**2)) / ((b - 1) * (k - 1))
    if spread <= 1e-12:
        return np.ones((k, k))
    t = np.abs(sums[:, None] - sums[None, :]) / np.sqrt(spread)
    p = 2 * stats.t.sf(t, (b - 1) * (k - 1))
    np.fill_diagonal(p, 1.0)
    return p


def friedman_p(scores: np.ndarray) -> float:
    """The Friedman test's p-value over >= 3 cells (NaN when every prompt ties every cell)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.friedmanchisquare(*np.asarray(scores, dtype=float)).pvalue)


def wilcoxon_p(first: np.ndarray, second: np.ndarray) -> float:
    """R's ``wilcox.test(first, second, paired=TRUE, exact=FALSE)`` p-value; NaN without a nonzero difference."""
    diffs = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    if not np.any(diffs != 0):
        return float("nan")
    return float(stats.wilcoxon(diffs, zero_method="wilcox", correction=True, method="approx").pvalue)


def race_step(scores: np.ndarray, alpha: float) -> np.ndarray:
    """Which of the racing cells survive one test (a boolean mask over the rows of ``scores``).

    Three or more cells: when the Friedman test rejects at ``alpha``, every cell whose rank sum
    is farther from the best's than Conover's critical difference at ``alpha`` is eliminated.
    Two cells: when the signed-rank test rejects at ``alpha``, the one with the lower mean goes.

    >>> scores = np.array([[1.0, 0.9] * 4, [0.9, 1.0] * 4, [0.0, 0.1] * 4])
    >>> race_step(scores, 0.05).tolist()
    [True, True, False]
    """
    scores = np.asarray(scores, dtype=float)
    keep = np.ones(len(scores), dtype=bool)
    if len(scores) >= 3:
        p = friedman_p(scores)
        if np.isfinite(p) and p < alpha:
            best = int(np.argmin(rank_sums(scores)))
            keep = conover_friedman(scores)[best] >= alpha
            keep[best] = True
    elif len(scores) == 2:
        p = wilcoxon_p(scores[0], scores[1])
        if np.isfinite(p) and p < alpha:
            keep[int(np.argmin(scores.mean(axis=1)))] = False
    return keep


def signed_rank(d, alternative: str = "two-sided", zero_method: str = "zsplit") -> SimpleNamespace:
    """``scipy.stats.wilcoxon(d, alternative=alternative, zero_method="zsplit")``'s p-value
    (``.pvalue``), the exact one computed by counting instead of enumerating.

    With ties or zeros and at most 13 differences, scipy (1.15 and later) runs an exact
    permutation test over the 2^n sign flips, about half a second each time, which Optuna's
    pruner pays at every step. Under a sign flip each nonzero difference adds its rank to the
    statistic or not, and a zero adds half its rank either way (zsplit), so the null counts
    follow by convolution over the doubled ranks (integers). Elsewhere this calls scipy."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    ranks = stats.rankdata(np.abs(d), method="average")
    tied = len(np.unique(np.abs(d))) < n or bool(np.any(d == 0))
    if zero_method != "zsplit" or n > 13 or not tied:
        return SimpleNamespace(pvalue=float(stats.wilcoxon(d, alternative=alternative, zero_method=zero_method).pvalue))
    doubled = np.rint(2 * ranks).astype(int)
    offset = int(doubled[d == 0].sum()) // 2  # zeros: half their (doubled) rank, whatever the flip
    observed = int(doubled[d > 0].sum()) + offset
    counts = np.zeros(int(doubled[d != 0].sum()) + 1)
    counts[0] = 1
    for step in doubled[d != 0]:
        counts[step:] = counts[step:] + counts[: len(counts) - step].copy()
    total = counts.sum()
    less = counts[: observed - offset + 1].sum() / total
    greater = counts[observed - offset:].sum() / total
    p = {"less": less, "greater": greater}.get(alternative, min(1.0, 2 * min(less, greater)))
    return SimpleNamespace(pvalue=float(p))
