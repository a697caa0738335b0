"""The report's BCa bootstrap of a mean over prompts (the prompt is the unit of analysis).

* :func:`bootstrap_ci` / :func:`bootstrap_cis`: the mean with the BCa CI
  ``scipy.stats.bootstrap`` gives over prompts (fixed rng). Fewer than 2 values: NaN CI.
  Constant data (BCa undefined): the CI collapses to the value, with a note.
* :func:`bca_of_means`: the kernel behind them, the bootstrap of every row's mean as one
  matrix product; kept because SciPy takes 11-25 times as long on the 1M-completion report's
  table (its docstring).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from hfsweep.core.estimates import Estimate

NOTE_FEW = "fewer than 2 prompts: no CI"
NOTE_CONST = "all prompts equal: CI collapses to the value"
NOTE_BCA = "BCa undefined for these data"


def finite(values) -> np.ndarray:
    """The finite values of ``values`` as a float array.

    >>> finite([1, float("nan"), 2]).tolist()
    [1.0, 2.0]
    """
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def bootstrap_ci(values, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """Mean of ``values`` (NaN skipped) with a BCa bootstrap CI.

    Equals ``scipy.stats.bootstrap((values,), np.mean, method="BCa", confidence_level=confidence,
    n_resamples=n_resamples, rng=np.random.default_rng(seed))`` on the finite values.

    >>> e = bootstrap_ci([0.1, 0.1, 0.1])
    >>> (e.mean, e.low, e.high, e.note)
    (0.1, 0.1, 0.1, 'all prompts equal: CI collapses to the value')
    """
    return bootstrap_cis([values], confidence=confidence, n_resamples=n_resamples, seed=seed)[0]


def bootstrap_cis(rows, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> list[Estimate]:
    """:func:`bootstrap_ci` for many arrays; arrays of equal length are bootstrapped together
    by :func:`bca_of_means` (same rng per row, so each result equals the single-row call)."""
    clean = [finite(row) for row in rows]
    out: list[Estimate | None] = [None] * len(clean)
    by_size: dict[int, list[int]] = {}
    for i, values in enumerate(clean):
        if values.size < 2:
            mean = float(values.mean()) if values.size else float("nan")
            out[i] = Estimate(mean, float("nan"), float("nan"), int(values.size), note=NOTE_FEW)
        elif np.all(values == values[0]):
            value = float(values[0])
            out[i] = Estimate(value, value, value, int(values.size), note=NOTE_CONST)
        else:
            by_size.setdefault(values.size, []).append(i)
    for size, indices in by_size.items():
        lows, highs = bca_of_means(np.vstack([clean[i] for i in indices]), confidence, n_resamples, seed)
        for i, low, high in zip(indices, lows.tolist(), highs.tolist()):
            note = "" if np.isfinite(low) and np.isfinite(high) else NOTE_BCA
            out[i] = Estimate(float(clean[i].mean()), low, high, size, note=note)
    return out  # type: ignore[return-value]


def bca_of_means(values: np.ndarray, confidence: float, n_resamples: int, seed: int, block: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """BCa CI of each row's mean (rows of equal length, finite, not constant), as
    ``scipy.stats.bootstrap((row,), np.mean, method="BCa", rng=np.random.default_rng(seed))``
    computes it, as one matrix product.

    Why not ``scipy.stats.bootstrap(..., vectorized=True, axis=-1)`` on the rows: SciPy draws
    every resample of every row as data (rows x resamples x prompts values), where the mean
    of a resample is (its counts of each prompt) . (values) / n. Every row shares the rng, so
    the bootstrap distribution of all rows is ``values @ counts.T / n``, with ``counts`` the
    (resamples x n) counts of the indices SciPy draws (``rng.integers(0, n, (n_resamples, n))``).
    ``bench/bench_bootstrap.py`` (2,000 resamples; 2 shared cores, load 6 to 8): on the
    1M-completion report's cell_metrics (34,000 rows x 100 prompts), SciPy 100 to 171 s, this
    7 to 9 s (11-25x; the report's build target is 60 s); on the 100k report's (34,000 rows x
    10 prompts), SciPy 8.8 s, this 5.7 s. Bounds equal to SciPy's to 3e-14 relative.

    The BCa steps are SciPy's ``_bca_interval``: the bias z0 from the share of resample means
    below the mean (ties counted half), the acceleration from the jackknife, the adjusted
    levels, then ``scipy.stats.quantile``. A resample mean within rounding of the row's mean
    is summed again as SciPy sums it (values gathered, ``np.mean``), so the comparisons that
    decide z0 come out as SciPy's (a permuted resample, or 0/1 data, decides by its last bit).
    """
    rows, size = values.shape
    indices = np.random.default_rng(seed).integers(0, size, (n_resamples, size))
    flat = (np.arange(n_resamples)[:, None] * size + indices).ravel()
    counts = np.bincount(flat, minlength=n_resamples * size).reshape(n_resamples, size).astype(float)
    z_alpha = float(stats.norm.ppf((1 - confidence) / 2))
    low, high = np.empty(rows), np.empty(rows)
    with np.errstate(all="ignore"):
        for start in range(0, rows, block):  # the bootstrap distribution of a block of rows at a time
            part = values[start : start + block]
            resampled = part @ counts.T / size
            mean = part.mean(axis=-1, keepdims=True)
            near_row, near_resample = np.nonzero(np.abs(resampled - mean) <= 1e-9 * np.maximum(1.0, np.abs(mean)))
            resampled[near_row, near_resample] = part[near_row[:, None], indices[near_resample]].mean(axis=-1)
            below = ((resampled < mean).sum(-1) + (resampled <= mean).sum(-1)) / (2 * n_resamples)
            z0 = stats.norm.ppf(below)
            leave_one_out = (part.sum(-1, keepdims=True) - part) / (size - 1)
            influence = (size - 1) * (leave_one_out.mean(-1, keepdims=True) - leave_one_out)
            accel = (np.sum(influence**3, -1) / size**3) / (np.sum(influence**2, -1) / size**2) ** 1.5 / 6
            levels = [stats.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z))) for z in (z_alpha, -z_alpha)]
            bounds = stats.quantile(resampled, np.stack(levels, axis=-1), axis=-1)
            low[start : start + block], high[start : start + block] = bounds[:, 0], bounds[:, 1]
    return low, high
