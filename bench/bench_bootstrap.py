"""The report's bootstrap at scale: SciPy's BCa bootstrap of the mean vs the same resamples
summed as one matrix product (``reports.stats.bca_of_means``, what the report uses).

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

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bca_matmul(X: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """What reports.stats.bootstrap_cis computes now (one matrix product)."""
    from hfsweep.reports.stats import bca_of_means

    return bca_of_means(X, confidence, n_resamples, seed)


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
    lo_m, hi_m = bca_matmul(X, n_resamples=args.resamples)
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
