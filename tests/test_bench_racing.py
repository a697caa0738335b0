"""The strategy bench's own statistics (bench/racing.py) against references: Conover's post-hoc
against scikit-posthocs and a case worked by hand, the signed-rank p-value the bench gives
Optuna's WilcoxonPruner against scipy's, and irace's elimination step."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from scipy import stats

from bench.racing import conover_friedman, race_step, rank_sums, signed_rank


def test_conover_matches_scikit_posthocs_on_tied_scores():
    rng = np.random.default_rng(3)
    for cells, prompts in [(3, 5), (6, 8), (12, 24)]:
        scores = rng.integers(0, 4, size=(cells, prompts)) / 3  # pass rates of 3 samples: many ties
        reference = scikit_posthocs.posthoc_conover_friedman(pd.DataFrame(scores.T), p_adjust=None).to_numpy()
        np.testing.assert_allclose(conover_friedman(scores), reference, rtol=1e-10, atol=1e-12)


def test_conover_by_hand():
    # cells x prompts; ranks per prompt (1 = best): [1, 2, 3], [1, 2, 3], [1, 3, 2], [1, 2, 3]
    scores = np.array([[3, 3, 3, 3], [2, 2, 1, 2], [1, 1, 2, 1]], dtype=float)
    assert rank_sums(scores).tolist() == [4.0, 9.0, 11.0]
    # b = 4 prompts, k = 3 cells, A = sum of squared ranks = 4 x 14 = 56, sum R^2 = 16 + 81 + 121 = 218:
    # spread 2 (4 x 56 - 218) / (3 x 2) = 2, so t = |R_i - R_j| / sqrt(2) on 6 degrees of freedom
    p = conover_friedman(scores)
    assert p[0, 1] == pytest.approx(2 * stats.t.sf(5 / np.sqrt(2), 6))
    assert p[0, 2] == pytest.approx(2 * stats.t.sf(7 / np.sqrt(2), 6))
    assert p[1, 2] == pytest.approx(2 * stats.t.sf(2 / np.sqrt(2), 6))
    assert np.allclose(np.diag(p), 1.0)
    assert conover_friedman(np.ones((3, 4))).tolist() == np.ones((3, 3)).tolist()  # all tied: nothing to separate


def test_signed_rank_equals_scipy():
    rng = np.random.default_rng(0)
    for trial in range(24):
        d = rng.choice([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1], size=int(rng.integers(2, 11)))
        if trial % 4 == 0:
            d = d + rng.normal(0, 1, len(d))  # no ties: scipy's exact distribution
        for alternative in ("less", "greater", "two-sided"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = stats.wilcoxon(d, alternative=alternative, zero_method="zsplit").pvalue
            assert signed_rank(d, alternative).pvalue == pytest.approx(expected, abs=1e-12), (d, alternative)


def test_race_step_eliminates_only_what_the_tests_separate():
    best, close, far = [1.0, 0.9] * 4, [0.9, 1.0] * 4, [0.0, 0.1] * 4
    assert race_step(np.array([best, close, far]), 0.05).tolist() == [True, True, False]
    behind = [0.9, 1.0, 1.0, 0.9, 1.0, 0.9, 1.0, 0.9]  # never ahead of best: Conover separates it
    assert race_step(np.array([[1.0] * 8, behind, far]), 0.05).tolist() == [True, False, False]
    assert race_step(np.array([best, best, best]), 0.05).tolist() == [True, True, True]  # Friedman cannot reject
    assert race_step(np.array([best, far]), 0.05).tolist() == [True, False]  # two cells: signed-rank test
    assert race_step(np.array([[1.0] * 8, behind]), 0.05).tolist() == [True, True]  # 4 differences of 0.1: p 0.10
