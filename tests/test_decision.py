"""The shared decision rule (hfsweep.core.decision) against SciPy, and its guarantees on simulated data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hfsweep.core import decision
from hfsweep.core.objective import Constraint


def test_one_row_bound_is_scipys_one_sided_t_bound():
    row = np.random.default_rng(0).normal(0.8, 0.1, 15)
    low = decision.bounds(row[None, :], 0.05, -1)[0]
    expected = stats.t.interval(0.90, len(row) - 1, loc=row.mean(), scale=stats.sem(row))[0]
    assert low == pytest.approx(expected, rel=1e-12)


def test_one_comparison_is_scipys_one_sided_paired_t():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.6, 0.1, 20), rng.normal(0.55, 0.1, 20)
    p = decision.worse_than(np.vstack([a, b]), 0, 1.0)[1]
    assert p == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue, rel=1e-10)


def test_a_few_prompts_that_agree_do_not_claim_certainty():
    # three prompts all at pass rate 1: alone an SD of 0; shrunk toward the other cells' spread
    rows = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.5], [1 / 3, 1.0, 2 / 3]])
    assert decision.bounds(rows, 0.05, -1)[0] < 0.85
    assert decision.bounds(np.tile(rows, 8), 0.05, -1)[0] > 0.85  # the same agreement over 24 prompts clears it


def test_missing_prompts_are_skipped_and_one_prompt_decides_nothing():
    rows = np.array([[0.9, np.nan, np.nan], [0.1, 0.2, 0.3]])
    assert np.isnan(decision.bounds(rows, 0.05, -1)[0]) and np.isnan(decision.worse_than(rows, 1, 1.0)[0])


def test_the_tied_set_keeps_the_true_best_at_the_stated_confidence():
    """12 equal best cells and 36 worse ones, 24 prompts, 200 seeds: the set keeps a true best
    every time and loses any given one of the 12 rarely; it still leaves out the clearly worse."""
    rng = np.random.default_rng(7)
    truth = np.r_[np.full(12, 0.9), np.linspace(0.5, 0.85, 36)]
    lost_all = lost_cells = 0
    worse_kept = []
    for _ in range(200):
        prompt = rng.normal(0, 0.05, 24)  # a shared prompt effect: the pairing matters
        rows = truth[:, None] + prompt[None, :] + rng.normal(0, 0.12, (48, 24))
        d = decision.decide(rows, "max", [], 0.95)
        lost_all += int(not d.tied[:12].any())
        lost_cells += int((~d.tied[:12]).sum())
        worse_kept.append(d.tied[12:24].mean())  # true values 0.5 to 0.61
    assert lost_all == 0 and lost_cells / (12 * 200) <= 0.05
    assert np.mean(worse_kept) < 0.05


def test_no_candidate_when_every_bound_misses():
    rows = np.full((2, 10), 0.5) + np.random.default_rng(2).normal(0, 0.01, (2, 10))
    d = decision.decide(rows, "max", [(Constraint.parse("x >= 0.9"), rows)], 0.95)
    assert d.chosen is None and d.cannot.all() and not d.holds.any()
