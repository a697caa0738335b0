"""Prototype for the report's bootstrap at scale: SciPy's BCa bootstrap of the mean vs the same
resamples summed as one matrix product (a proposal for reports/stats.py, not used by it).

    python bench/bench_bootstrap.py [--rows 34000] [--prompts 100] [--resamples 2000]

The mean of a resample is (resample counts) . (values) / n, and every row of
``bootstrap_cis`` shares one rng, so the whole bootstrap distribution of every row is
``X @ C.T / n`` with C the (resamples x n) count matrix drawn exactly as SciPy draws its
indices (``rng.integers(0, n, (batch, n))`` per batch). The BCa steps (bias z0 from the
share of resample means below the mean, acceleration from the jackknife, the adjusted
quantiles) follow ``scipy.stats._resampling._bca_interval``. The bounds agree with SciPy's
to the last few bits (sums in another order); the default rows x prompts is the 1M-completion,
2,000-cell report's cell_metrics table (17 metrics).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def bca_matmul(X: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0,
               batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """BCa CI of each row's mean (rows of equal length, finite, not constant)."""
    from scipy.special import ndtr, ndtri
    from scipy.stats import quantile

    rows, n = X.shape
    rng = np.random.default_rng(seed)
    step = batch or n_resamples
    counts = np.empty((n_resamples, n))
    for k in range(0, n_resamples, step):  # the indices SciPy draws, batch by batch
        b = min(step, n_resamples - k)
        idx = rng.integers(0, n, (b, n))
        counts[k:k + b] = np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n).reshape(b, n)
    z = float(ndtri((1 - confidence) / 2))
    low, high = np.empty(rows), np.empty(rows)
    for r in range(0, rows, 2000):  # rows in blocks: the bootstrap distribution of 2000 rows at a time
        x = X[r:r + 2000]
        theta_b = x @ counts.T / n
        theta = x.mean(axis=-1, keepdims=True)
        share = ((theta_b < theta).sum(-1) + (theta_b <= theta).sum(-1)) / (2 * n_resamples)
        z0 = ndtri(share)
        jack = (x.sum(-1, keepdims=True) - x) / (n - 1)  # leave-one-out means
        u = (n - 1) * (jack.mean(-1, keepdims=True) - jack)
        a = (np.sum(u ** 3, -1) / n ** 3) / (np.sum(u ** 2, -1) / n ** 2) ** 1.5 / 6
        lo_q = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
        hi_q = ndtr(z0 + (z0 - z) / (1 - a * (z0 - z)))
        ci = quantile(theta_b, np.stack([lo_q, hi_q], axis=-1), axis=-1)
        low[r:r + 2000], high[r:r + 2000] = ci[..., 0], ci[..., 1]
    return low, high


def bca_scipy(X: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0):
    """What reports.stats.bootstrap_cis calls for rows of equal length."""
    from scipy import stats

    rows, n = X.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap((X,), np.mean, axis=-1, method="BCa", confidence_level=confidence, n_resamples=n_resamples,
                              rng=np.random.default_rng(seed), batch=max(1, 4_000_000 // (n * rows)))
    return res.confidence_interval.low, res.confidence_interval.high, max(1, 4_000_000 // (n * rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=34000)
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    X = rng.beta(2, 5, (args.rows, args.prompts))
    X[: args.rows // 4] = rng.integers(0, 2, (args.rows // 4, args.prompts))  # 0/1 metrics (ties on the mean)
    X[X.std(-1) == 0, 0] += 0.5
    t0 = time.perf_counter()
    lo_s, hi_s, batch = bca_scipy(X, n_resamples=args.resamples)
    t1 = time.perf_counter()
    lo_m, hi_m = bca_matmul(X, n_resamples=args.resamples, batch=batch)
    t2 = time.perf_counter()
    rel = max(np.nanmax(np.abs(lo_m - lo_s) / np.maximum(np.abs(lo_s), 1e-12)),
              np.nanmax(np.abs(hi_m - hi_s) / np.maximum(np.abs(hi_s), 1e-12)))
    print(f"{args.rows} rows x {args.prompts} prompts, {args.resamples} resamples (SciPy batch {batch})")
    print(f"scipy.stats.bootstrap BCa : {t1 - t0:7.2f} s")
    print(f"matrix product BCa        : {t2 - t1:7.2f} s  ({(t1 - t0) / (t2 - t1):.0f}x)")
    print(f"largest relative difference of the bounds: {rel:.2e}; NaN bounds equal: "
          f"{bool(np.array_equal(np.isnan(lo_s), np.isnan(lo_m)) and np.array_equal(np.isnan(hi_s), np.isnan(hi_m)))}")


if __name__ == "__main__":
    main()
