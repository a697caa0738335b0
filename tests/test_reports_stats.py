"""reports.stats, reports.bootstrap and reports.power against direct SciPy calls on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hfsweep.reports import bootstrap, power, stats

KW = dict(confidence=0.95, n_resamples=999, seed=7)


def _scipy_ci(x, n_resamples=999, seed=7, confidence=0.95):
    r = sps.bootstrap((np.asarray(x, float),), np.mean, method="BCa", confidence_level=confidence,
                      n_resamples=n_resamples, rng=np.random.default_rng(seed))
    return r.confidence_interval.low, r.confidence_interval.high


def test_bootstrap_ci_equals_scipy():
    rng = np.random.default_rng(3)
    for n in (3, 8, 50):
        x = rng.normal(0.4, 0.1, size=n)
        e = bootstrap.bootstrap_ci(x, **KW)
        lo, hi = _scipy_ci(x)
        assert e.mean == pytest.approx(x.mean(), abs=1e-12)
        assert e.low == pytest.approx(lo, abs=1e-9) and e.high == pytest.approx(hi, abs=1e-9)
        assert e.n == n and e.note == ""


def test_batched_bootstrap_equals_single_calls():
    rng = np.random.default_rng(4)
    rows = [rng.random(10) for _ in range(30)] + [rng.random(6), [np.nan, 0.2, 0.5, 0.1]]
    batch = bootstrap.bootstrap_cis(rows, **KW)
    for row, e in zip(rows, batch):
        finite = np.asarray(row, float)[np.isfinite(row)]
        lo, hi = _scipy_ci(finite)
        assert (e.low, e.high) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
        assert e.n == len(finite)


def test_bootstrap_degenerate_and_small():
    e = bootstrap.bootstrap_ci([0.5, 0.5, 0.5, 0.5], **KW)
    assert (e.mean, e.low, e.high) == (0.5, 0.5, 0.5) and "equal" in e.note
    e = bootstrap.bootstrap_ci([0.3], **KW)
    assert e.mean == 0.3 and np.isnan(e.low) and np.isnan(e.high) and "fewer than 2" in e.note
    e = bootstrap.bootstrap_ci([np.nan, np.nan], **KW)
    assert np.isnan(e.mean) and e.n == 0


def test_paired_difference_equals_scipy():
    rng = np.random.default_rng(5)
    a = rng.random(12)
    b = a - rng.normal(0.05, 0.05, size=12)
    b[3] = np.nan  # unpaired prompt is dropped
    r = stats.paired_difference(a, b, **KW)
    ok = np.isfinite(b)
    d = a[ok] - b[ok]
    lo, hi = _scipy_ci(d)
    assert r.diff == pytest.approx(d.mean(), abs=1e-12) and r.n == 11
    assert (r.low, r.high) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
    assert r.p == pytest.approx(sps.wilcoxon(d).pvalue, abs=1e-12)


@pytest.mark.parametrize("d", [
    [0.1, 0.1, -0.2, 0.3, 0.0, 0.5, 0.1],              # ties and a zero: SciPy's permutation branch
    [1, 2, 2, 3, -1, 4, 0, 0, 5, 6, 7, -2, 3],         # n = 13 with ties
    [0.5, -0.25, 0.125, 1, 2, -3, 0.3, 0.7],           # no ties: exact
    list(np.linspace(-1, 3, 20)) + [0.5, 0.5],         # n > 13 with ties: asymptotic
])
def test_wilcoxon_p_equals_scipy(d):
    p, _ = stats.wilcoxon_p(d)
    assert p == pytest.approx(sps.wilcoxon(d).pvalue, abs=1e-12)


def test_paired_all_zero_differences():
    r = stats.paired_difference([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], **KW)
    assert r.diff == 0 and r.p == 1.0 and "zero" in r.note


def test_bh_equals_scipy():
    p = np.array([0.001, 0.04, 0.03, 0.5, 0.2, 0.01])
    np.testing.assert_allclose(stats.adjust_pvalues(p), sps.false_discovery_control(p, method="bh"), atol=1e-15)
    with_nan = np.insert(p, 2, np.nan)
    adj = stats.adjust_pvalues(with_nan)
    assert np.isnan(adj[2])
    np.testing.assert_allclose(np.delete(adj, 2), sps.false_discovery_control(p), atol=1e-15)


def test_friedman_equals_scipy():
    rng = np.random.default_rng(6)
    m = rng.random((9, 4))
    stat, p, n, note = stats.friedman(m)
    ref = sps.friedmanchisquare(*m.T)
    assert (stat, p, n) == (pytest.approx(ref.statistic, abs=1e-12), pytest.approx(ref.pvalue, abs=1e-12), 9)
    m[2, 1] = np.nan  # block with a missing level is dropped
    stat, p, n, _ = stats.friedman(m)
    ref = sps.friedmanchisquare(*np.delete(m, 2, axis=0).T)
    assert n == 8 and p == pytest.approx(ref.pvalue, abs=1e-12)


def test_friedman_degenerate():
    assert stats.friedman(np.ones((5, 3)))[1] == 1.0
    assert np.isnan(stats.friedman(np.ones((5, 2)))[1])
    assert np.isnan(stats.friedman(np.ones((1, 3)))[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=25))
def test_pareto_front_matches_brute_force(points):
    up = np.array([p[0] for p in points], float)
    down = np.array([p[1] for p in points], float)
    front = stats.pareto_front(up, down)
    for i in range(len(points)):
        dominated = any(up[j] >= up[i] and down[j] <= down[i] and (up[j] > up[i] or down[j] < down[i])
                        for j in range(len(points)))
        assert front[i] == (not dominated)
    assert front.any()


def test_mdd_and_prompts_needed():
    """mdd = (t_{n-1}(0.975) + t_{n-1}(0.8)) * s / sqrt(n * 3/pi); prompts_needed inverts it."""
    for s, n in ((0.1, 8), (0.3, 20), (1.0, 100)):
        q = sps.t.ppf(0.975, n - 1) + sps.t.ppf(0.8, n - 1)
        assert power.mdd(s, n) == pytest.approx(q * s / np.sqrt(n * 3 / np.pi), rel=1e-12)
        d = power.mdd(s, n)
        assert power.prompts_needed(s, d) == n and power.prompts_needed(s, d * 0.999) == n + 1
    assert np.isnan(power.mdd(0.1, 1)) and np.isnan(power.mdd(float("nan"), 10))
    assert power.mdd(0.1, power.MIN_PROMPTS - 1) == np.inf  # the signed-rank test cannot reach p < 0.05
    assert stats.wilcoxon_p(np.ones(power.MIN_PROMPTS - 1))[0] > 0.05 > stats.wilcoxon_p(np.ones(power.MIN_PROMPTS))[0]
    assert power.prompts_needed(0.0, 0.1) == power.MIN_PROMPTS
    assert np.isnan(power.prompts_needed(float("nan"), 0.1))


def test_holm_equals_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    order = np.argsort(p)
    ref = np.empty(4)
    ref[order] = np.minimum(1, np.maximum.accumulate((4 - np.arange(4)) * p[order]))
    np.testing.assert_allclose(stats.holm(p), ref)
    assert np.isnan(stats.holm([0.1, np.nan])[1])


def test_wilcoxon_ps_in_groups_equals_scipy_row_by_row():
    """Rows of every size and kind (no ties, ties, zeros, n > 50, empty, all zero) in one batch."""
    rng = np.random.default_rng(11)
    rows = [rng.normal(0.1, 1, n) for n in (5, 8, 8, 20, 20, 60, 60)]
    rows += [np.round(rng.normal(0.1, 1, n), 1) for n in (8, 20, 20, 60)]  # ties (and maybe zeros)
    rows += [np.r_[rng.normal(0, 1, 18), 0.0, 0.0], np.array([]), np.zeros(4)]
    got = stats.wilcoxon_ps(rows)
    for d, (p, _) in zip(rows, got):
        if d.size == 0:
            assert np.isnan(p)
        elif not d.any():
            assert p == 1.0
        else:
            assert p == pytest.approx(sps.wilcoxon(d).pvalue, abs=1e-12)


def test_matrix_bootstrap_equals_scipy_on_ties():
    """0/1 and coarse data: many resample means equal the mean, and their last bit decides z0."""
    rng = np.random.default_rng(12)
    rows = [rng.integers(0, 2, 20).astype(float) for _ in range(6)] + [rng.integers(0, 4, 100) / 3 for _ in range(4)]
    rows += [np.round(rng.normal(0.5, 0.2, 11), 1) for _ in range(4)]
    for row, e in zip(rows, bootstrap.bootstrap_cis(rows, **KW)):
        if np.all(row == row[0]):
            continue
        lo, hi = _scipy_ci(row)
        assert (e.low, e.high) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))


def test_friedman_with_ties_equals_scipy():
    rng = np.random.default_rng(13)
    m = rng.integers(0, 3, (15, 5)).astype(float)  # many ties within prompts
    stat, p, n, _ = stats.friedman(m)
    ref = sps.friedmanchisquare(*m.T)
    assert (stat, p, n) == (pytest.approx(ref.statistic, abs=1e-10), pytest.approx(ref.pvalue, abs=1e-12), 15)


def test_signed_rank_method_is_scipys_choice():
    """Each method :func:`stats.signed_rank_method` names gives the p-value of wilcoxon's "auto"."""
    rng = np.random.default_rng(14)
    rows = [rng.normal(0, 1, n) for n in (3, 13, 50, 51)] + [np.round(rng.normal(0, 1, n), 1) for n in (9, 13, 14, 40)]
    rows += [np.r_[rng.normal(0, 1, 6), 0.0]]
    methods = {"permutation": sps.PermutationMethod()}
    for d in rows:
        method = stats.signed_rank_method(d)
        assert sps.wilcoxon(d, method=methods.get(method, method)).pvalue == sps.wilcoxon(d).pvalue


def test_signed_rank_permutation_in_blocks_equals_scipy():
    """The permutation kernel over blocks of rows (ties and zeros in every row) equals wilcoxon row by row."""
    rng = np.random.default_rng(16)
    rows = np.round(rng.normal(0.2, 1, (21, 7)), 1)
    rows[:, 0] = 0.0
    rows[:, 1] = -rows[:, 2]  # a tie in every row
    got = stats.signed_rank_permutation_ps(rows, block=4)
    assert got == pytest.approx([sps.wilcoxon(d).pvalue for d in rows], abs=1e-12)


def test_wilcoxon_exact_at_50_and_asymptotic_beyond_equal_scipy():
    rng = np.random.default_rng(15)
    rows = [rng.normal(0.2, 1, 50) for _ in range(5)] + [np.round(rng.normal(0.1, 1, 80), 1) for _ in range(5)]
    for d, (p, _) in zip(rows, stats.wilcoxon_ps(rows)):
        assert p == pytest.approx(sps.wilcoxon(d).pvalue, abs=1e-12)
