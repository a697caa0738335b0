"""The report's signed-rank test on few prompts with ties at scale: SciPy vs one matrix product.

    python bench/bench_signed_rank.py [--rows 5600] [--prompts 10] [--scipy-rows 200]

With ties or zeros and at most 13 prompts, ``scipy.stats.wilcoxon`` (``method="auto"``)
runs an exact permutation test over all 2^n sign flips, evaluating its statistic for every
flip and row. The 100k-completion report (``bench/bench_report.py --scale 100k``: 2,000
cells x 10 prompts) has about 5,600 such paired comparisons (0/1 and coarse metrics). This
times, on as many synthetic rows of that kind:

* ``scipy.stats.wilcoxon(rows, axis=-1)`` on the first ``--scipy-rows`` (all of them take
  too long; the time for all rows is that scaled);
* ``scipy.stats.permutation_test`` with a vectorised statistic (the signed-rank sum) on all;
* ``hfsweep.reports.stats.signed_rank_permutation_ps`` (what the report uses) on all;

and checks that the three give the same p-values.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

from hfsweep.reports.stats import signed_rank_permutation_ps


def tied_rows(rows: int, prompts: int) -> np.ndarray:
    """Paired differences of per-prompt means of 5 samples of 0/1 and of 0/0.5/1 metrics: ties and zeros."""
    rng = np.random.default_rng(2)
    coarse = rng.integers(0, 3, (2, rows, prompts, 5)) / 2
    binary = rng.integers(0, 2, (2, rows, prompts, 5)).astype(float)
    values = np.where(np.arange(rows)[None, :, None, None] % 2 == 0, binary, coarse).mean(axis=-1)
    diffs = values[0] - values[1]
    keep = diffs.any(axis=-1) & ((diffs == 0).any(axis=-1) | np.array([np.unique(np.abs(d)).size < prompts for d in diffs]))
    return diffs[keep]


def permutation_test_ps(diffs: np.ndarray) -> np.ndarray:
    """The signed-rank sum's exact permutation p-values with ``scipy.stats.permutation_test`` (vectorised statistic)."""
    nonzero = diffs != 0
    ranks = np.where(nonzero, stats.rankdata(np.where(nonzero, np.abs(diffs), np.inf), axis=-1), 0.0)

    def rank_sum(flipped, axis):  # |d| is the same under every sign flip: so are its ranks
        return np.sum((flipped > 0) * ranks, axis=axis)

    result = stats.permutation_test((diffs,), rank_sum, permutation_type="samples", vectorized=True, axis=-1,
                                    n_resamples=2 ** diffs.shape[-1], batch=64)
    return result.pvalue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5600)
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--scipy-rows", type=int, default=200)
    args = parser.parse_args()
    diffs = tied_rows(int(args.rows * 1.1), args.prompts)[: args.rows]
    some = diffs[: args.scipy_rows]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wilcoxon = stats.wilcoxon(some, axis=-1).pvalue
    wilcoxon_s = time.perf_counter() - start
    start = time.perf_counter()
    permutation = permutation_test_ps(diffs)
    permutation_s = time.perf_counter() - start
    start = time.perf_counter()
    kernel = signed_rank_permutation_ps(diffs)
    kernel_s = time.perf_counter() - start
    print(f"{len(diffs)} rows x {args.prompts} prompts with ties or zeros")
    print(f"  scipy.stats.wilcoxon, {len(some)} rows  : {wilcoxon_s:7.2f} s (all rows: ~{wilcoxon_s * len(diffs) / len(some):.0f} s)")
    print(f"  scipy.stats.permutation_test        : {permutation_s:7.2f} s")
    print(f"  one matrix product per block        : {kernel_s:7.2f} s")
    print(f"  p-values equal: wilcoxon {bool(np.array_equal(wilcoxon, kernel[: len(some)]))}, "
          f"permutation_test {bool(np.array_equal(permutation, kernel))}")


if __name__ == "__main__":
    main()
