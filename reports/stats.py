"""The report's tests over prompts (the prompt is the unit of analysis), with ``scipy.stats``.

Every function takes plain arrays (one value per prompt) and returns plain numbers:

* :func:`paired_difference` / :func:`paired_differences`: mean of per-prompt differences,
  bootstrap CI (:mod:`hfsweep.reports.bootstrap`), and the p-value ``scipy.stats.wilcoxon``
  gives (all-zero differences: p = 1, with a note).
* :func:`wilcoxon_p` / :func:`wilcoxon_ps`: that p-value, for many arrays at once.
* :func:`adjust_pvalues`: Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over
  all p-values of one report, NaN kept.
* :func:`friedman`: ``scipy.stats.friedmanchisquare`` over levels (columns), blocks = prompts.
* :func:`pareto_front` / :func:`non_dominated`: cells no other cell beats on every axis.
* :func:`holm`: Holm's step-down adjustment (the recommendation's own small family; SciPy has none).

The power of a paired comparison is in :mod:`hfsweep.reports.power`.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from hfsweep.core.estimates import Paired
from hfsweep.reports.bootstrap import bootstrap_cis, finite

NOTE_ZERO = "all differences are zero: p = 1"


def paired_difference(left, right, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Paired:
    """Difference of means of ``left - right`` paired by position (prompts present in both).

    CI as :func:`hfsweep.reports.bootstrap.bootstrap_ci` on the differences; p from
    ``scipy.stats.wilcoxon(d)``.

    >>> paired_difference([1.0, 2.0], [1.0, 2.0]).p
    1.0
    """
    return paired_differences([(left, right)], confidence=confidence, n_resamples=n_resamples, seed=seed)[0]


def paired_differences(pairs, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> list[Paired]:
    """:func:`paired_difference` for many (left, right) pairs, bootstrapped and tested in batches."""
    diffs = []
    for left, right in pairs:
        left = np.asarray(left, dtype=float)
        right = np.asarray(right, dtype=float)
        both = np.isfinite(left) & np.isfinite(right)
        diffs.append(left[both] - right[both])
    estimates = bootstrap_cis(diffs, confidence=confidence, n_resamples=n_resamples, seed=seed)
    out = []
    for diff, est, (pvalue, p_note) in zip(diffs, estimates, wilcoxon_ps(diffs)):
        note = "; ".join(s for s in (est.note, p_note) if s)
        sd = float(np.std(diff, ddof=1)) if diff.size >= 2 else float("nan")
        out.append(Paired(est.mean, est.low, est.high, est.n, pvalue, note, sd))
    return out


def wilcoxon_p(diff) -> tuple[float, str]:
    """Two-sided ``scipy.stats.wilcoxon`` p-value of differences ``diff`` (finite values), and a note.

    All-zero differences give p = 1 (no evidence of a difference); no values, NaN.

    >>> wilcoxon_p([0.5, 0.25, 1.0, 2.0])[0], wilcoxon_p([0.0, 0.0])
    (0.125, (1.0, 'all differences are zero: p = 1'))
    """
    return wilcoxon_ps([diff])[0]


def signed_rank_method(diff: np.ndarray) -> str:
    """The method ``scipy.stats.wilcoxon(diff)`` (``method="auto"``) chooses for these differences:
    "exact" (the null distribution) up to 50 values without ties or zeros, "permutation" (all
    2^n sign flips) up to 13 values with them, else "asymptotic" (the normal approximation
    with the tie correction, zeros dropped).

    >>> [signed_rank_method(np.array(d, float)) for d in ([1, 2, -3], [1, -1, 0], np.arange(1, 60))]
    ['exact', 'permutation', 'asymptotic']
    """
    nonzero = diff[diff != 0]
    ties_or_zeros = nonzero.size < diff.size or np.unique(np.abs(nonzero)).size < nonzero.size
    if diff.size > 50:
        return "asymptotic"
    if not ties_or_zeros:
        return "exact"
    return "permutation" if diff.size <= 13 else "asymptotic"


def wilcoxon_ps(diffs) -> list[tuple[float, str]]:
    """:func:`wilcoxon_p` of many arrays of differences (a 2,000-cell report has tens of thousands).

    The arrays of one size and method (:func:`signed_rank_method`) are tested together:
    ``scipy.stats.wilcoxon(rows, axis=-1, method=...)`` for "exact" and "asymptotic", which
    gives each row what ``scipy.stats.wilcoxon(row)`` gives it; :func:`signed_rank_permutation_ps`
    for "permutation".
    """
    out: list[tuple[float, str] | None] = [None] * len(diffs)
    groups: dict[tuple[int, str], list[int]] = {}
    rows = [finite(d) for d in diffs]
    for index, diff in enumerate(rows):
        if diff.size == 0:
            out[index] = (float("nan"), "no paired prompts")
        elif not diff.any():
            out[index] = (1.0, NOTE_ZERO)
        else:
            groups.setdefault((diff.size, signed_rank_method(diff)), []).append(index)
    for (_, method), indices in groups.items():
        batch = np.stack([rows[index] for index in indices])
        if method == "permutation":
            pvalues = signed_rank_permutation_ps(batch)
        else:
            pvalues = np.atleast_1d(stats.wilcoxon(batch, axis=-1, method=method).pvalue)
        for index, pvalue in zip(indices, pvalues.tolist()):
            out[index] = (pvalue, "")
    return out  # type: ignore[return-value]


@functools.lru_cache(maxsize=16)
def _sign_flips(size: int) -> np.ndarray:
    """Every pattern of signs of ``size`` values: (2^size x size), 1 = positive."""
    return ((np.arange(2**size)[:, None] >> np.arange(size)) & 1).astype(float)


def signed_rank_permutation_ps(rows: np.ndarray, block: int = 512) -> np.ndarray:
    """Two-sided p of the signed-rank statistic of each row (at most 13 values; zeros dropped,
    tied ranks averaged) over all 2^n sign flips: what ``scipy.stats.wilcoxon(row)`` computes
    for rows with ties or zeros (``stats.permutation_test`` with the same comparisons), as one
    matrix product per block of rows: the null statistics are (sign flips) @ (ranks).

    Why not SciPy: its ``wilcoxon`` evaluates the statistic once per sign flip and row, and
    ``permutation_test`` with a vectorised statistic stacks every flipped copy of the data.
    ``bench/bench_signed_rank.py`` (2 shared cores, load 6) on 5,600 rows with ties, as many
    as the 100k report has: at 10 prompts ``wilcoxon(rows, axis=-1)`` about 1,400 s (200 rows
    took 52 s), ``permutation_test`` 0.96 s, this 0.05 s; at 13 prompts (8,192 flips) about
    8,400 s, 11.6 s and 0.38 s. Same p-values.
    """
    nonzero = rows != 0
    ranks = np.where(nonzero, stats.rankdata(np.where(nonzero, np.abs(rows), np.inf), axis=-1), 0.0)
    observed = np.where(rows > 0, ranks, 0.0).sum(axis=-1)
    tolerance = np.abs(observed) * 100 * np.finfo(float).eps  # permutation_test's, for sums in another order
    flips = _sign_flips(rows.shape[-1])
    out = np.empty(len(rows))
    for start in range(0, len(rows), block):
        null = flips @ ranks[start : start + block].T  # (flips x rows)
        stop = start + null.shape[1]
        less = np.mean(null <= observed[start:stop] + tolerance[start:stop], axis=0)
        greater = np.mean(null >= observed[start:stop] - tolerance[start:stop], axis=0)
        out[start:stop] = np.minimum(1.0, 2 * np.minimum(less, greater))
    return out


def adjust_pvalues(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); NaN kept.

    >>> adjust_pvalues([0.01, float("nan"), 0.02, 0.5]).round(3).tolist()
    [0.03, nan, 0.03, 0.5]
    """
    pvalues = np.asarray(pvalues, dtype=float)
    out = np.full(pvalues.shape, np.nan)
    ok = np.isfinite(pvalues)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(pvalues[ok], 0.0, 1.0))
    return out


def friedman(matrix) -> tuple[float, float, int, str]:
    """Friedman test (``scipy.stats.friedmanchisquare``) over the columns (levels) of
    ``matrix`` (rows = prompts = blocks).

    Rows with any NaN are dropped. Returns (statistic, p, n_blocks, note).

    >>> statistic, pvalue, blocks, note = friedman([[1, 2, 3], [1, 3, 2], [1, 2, 3]])
    >>> round(statistic, 3), round(pvalue, 3), blocks
    (4.667, 0.097, 3)
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[1] < 3:
        return float("nan"), float("nan"), 0, "needs >= 3 levels"
    values = values[np.all(np.isfinite(values), axis=1)]
    blocks = values.shape[0]
    if blocks < 2:
        return float("nan"), float("nan"), blocks, "fewer than 2 prompts with every level"
    if np.all(values == values[:, :1]):
        return 0.0, 1.0, blocks, "levels equal on every prompt: p = 1"
    result = stats.friedmanchisquare(*values.T)
    return float(result.statistic), float(result.pvalue), blocks, ""


def pareto_front(up, down) -> np.ndarray:
    """Boolean mask of points not dominated (higher ``up`` and lower ``down`` are better).

    A point is dominated if another is at least as good on both and better on one. Points
    with a NaN coordinate are never on the front.

    >>> pareto_front([1, 2, 3, 2], [1, 1, 3, 2]).tolist()
    [False, True, True, False]
    """
    return non_dominated(np.column_stack([np.asarray(up, dtype=float), -np.asarray(down, dtype=float)]))


def non_dominated(points) -> np.ndarray:
    """Mask of rows of ``points`` (n x k, higher is better on every column) that no other row
    dominates (at least as good on every column, better on one; values equal to 1e-9
    relative count as equal, so rounding in a mean does not decide). Rows with NaN: False.

    >>> non_dominated([[0.8, -0.2], [0.8, -0.1], [0.5, -0.05]]).tolist()
    [False, True, True]
    """
    values = np.asarray(points, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    ok = np.all(np.isfinite(values), axis=1)
    front = np.zeros(len(values), dtype=bool)
    candidates = np.flatnonzero(ok)
    for index in candidates:
        point = values[index]
        tol = 1e-9 * np.maximum(1.0, np.maximum(np.abs(values[candidates]), np.abs(point)))
        at_least = np.all(values[candidates] >= point - tol, axis=1)
        better = np.any(values[candidates] > point + tol, axis=1)
        front[index] = not np.any(at_least & better)
    return front


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), NaN kept.

    >>> holm([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    pvalues = np.asarray(pvalues, dtype=float)
    out = np.full(pvalues.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(pvalues))
    order = ok[np.argsort(pvalues[ok], kind="stable")]
    family = len(order)
    adjusted = np.maximum.accumulate((family - np.arange(family)) * pvalues[order]) if family else np.array([])
    out[order] = np.minimum(1.0, adjusted)
    return out
