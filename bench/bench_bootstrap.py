"""The report's bootstrap at scale: ``scipy.stats.bootstrap`` (vectorised, ``axis=-1``) vs the
same resamples summed as one matrix product (``hfsweep.reports.bootstrap.bca_of_means``, what
the report uses).

    python bench/bench_bootstrap.py [--rows 34000] [--prompts 100 10] [--resamples 2000] [--batch-mb 32]

The mean of a resample is (resample counts) . (values) / n, and every row of
``bootstrap_cis`` shares one rng, so the whole bootstrap distribution of every row is
``values @ counts.T / n`` with ``counts`` the (resamples x n) count matrix drawn exactly as
SciPy draws its indices. The BCa steps follow ``scipy.stats._resampling._bca_interval``. The
bounds agree with SciPy's to the last few bits (sums in another order). The default rows are
the 2,000-cell report's cell_metrics table (17 metrics); 100 prompts is the 1M-completion
report, 10 the 100k one (``bench/bench_report.py``). SciPy gets ``--batch-mb`` of resampled
data at a time (``batch=``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

from hfsweep.reports.bootstrap import bca_of_means


def bca_scipy(values: np.ndarray, batch: int, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0):
    """What ``bootstrap_cis`` would compute with SciPy for rows of equal length: one vectorised call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap((values,), np.mean, axis=-1, vectorized=True, method="BCa", confidence_level=confidence,
                                 n_resamples=n_resamples, rng=np.random.default_rng(seed), batch=batch)
    return result.confidence_interval.low, result.confidence_interval.high


def synthetic_rows(rows: int, prompts: int) -> np.ndarray:
    """Per-prompt values like a report's: a quarter 0/1 metrics (resample means tie with the mean), the rest beta."""
    rng = np.random.default_rng(1)
    values = rng.beta(2, 5, (rows, prompts))
    values[: rows // 4] = rng.integers(0, 2, (rows // 4, prompts))
    values[values.std(-1) == 0, 0] += 0.5
    return values


def compare(rows: int, prompts: int, resamples: int, batch_mb: float) -> None:
    values = synthetic_rows(rows, prompts)
    batch = max(1, int(batch_mb * 1e6 / 8 // (rows * prompts)))
    start = time.perf_counter()
    low_scipy, high_scipy = bca_scipy(values, batch, n_resamples=resamples)
    scipy_s = time.perf_counter() - start
    start = time.perf_counter()
    low, high = bca_of_means(values, 0.95, resamples, 0)
    matrix_s = time.perf_counter() - start
    rel = max(np.nanmax(np.abs(low - low_scipy) / np.maximum(np.abs(low_scipy), 1e-12)),
              np.nanmax(np.abs(high - high_scipy) / np.maximum(np.abs(high_scipy), 1e-12)))
    same_nan = bool(np.array_equal(np.isnan(low_scipy), np.isnan(low)) and np.array_equal(np.isnan(high_scipy), np.isnan(high)))
    print(f"{rows} rows x {prompts} prompts, {resamples} resamples (SciPy batch {batch})")
    print(f"  scipy.stats.bootstrap BCa : {scipy_s:7.2f} s")
    print(f"  matrix product BCa        : {matrix_s:7.2f} s  ({scipy_s / matrix_s:.0f}x)")
    print(f"  largest relative difference of the bounds: {rel:.2e}; NaN bounds equal: {same_nan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=34000)
    parser.add_argument("--prompts", type=int, nargs="+", default=[100, 10])
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--batch-mb", type=float, default=32.0, help="SciPy's resampled data per batch")
    args = parser.parse_args()
    for prompts in args.prompts:
        compare(args.rows, prompts, args.resamples, args.batch_mb)


if __name__ == "__main__":
    main()
