"""Constraints hold at the one-sided bound of the cell's CI, not on the mean: a cell that meets
one only by noise is undecided, is not recommended, and the page says what would settle it."""

from __future__ import annotations

import numpy as np

from hfsweep.reports import recommend
from tests import report_synth as rs

PROMPTS = 24


def _context(noisy_pass_rate: np.ndarray):
    """A: the most diverse cell, its pass rate noisy around 0.86; B: less diverse, pass rate ~0.99."""
    cells = rs.cells_frame([dict(rs.BASE, name="A", temperature=0.6), dict(rs.BASE, name="B", temperature=0.3)], ["a"])
    rng = np.random.default_rng(1)
    distinct = np.array([[0.60], [0.55]]) + rng.normal(0, 0.01, size=(2, PROMPTS))
    pass_rate = np.vstack([noisy_pass_rate, np.clip(0.99 + rng.normal(0, 0.01, PROMPTS), 0, 1)])
    return rs.context(cells, {"distinct_2": distinct, "pass_rate": pass_rate}, PROMPTS,
                      objective={"metric": "distinct_2", "constraints": ["pass_rate >= 0.85"]})


def test_a_cell_meeting_the_constraint_only_on_its_mean_is_not_recommended():
    # per prompt, 3 samples: pass rates of 1/3, 2/3 and 1 around a mean of 0.86
    noisy = np.resize([1, 1, 2 / 3, 1, 1, 1 / 3, 1, 1, 2 / 3, 1, 2 / 3, 1], PROMPTS)
    assert 0.85 < noisy.mean() < 0.87
    context = _context(noisy)
    table, choices, text = recommend.recommendations(context, "distinct_2", "max", [recommend.Constraint.parse("pass_rate >= 0.85")])
    assert table["setting"].iloc[0].startswith("B:") and bool(table["constraints_met"].iloc[0])
    (undecided,) = choices[0].undecided
    assert context.cells["setting"].iloc[undecided.index].startswith("A:")
    assert undecided.bound < 0.85 < undecided.mean and 24 < undecided.prompts < 10_000
    assert "Undecided, so not candidates: 1 cell(s)" in text and f"about {undecided.prompts:.0f} prompts would settle it" in text


def test_a_cell_whose_bound_meets_the_constraint_is_a_candidate():
    context = _context(np.clip(0.95 + np.random.default_rng(2).normal(0, 0.01, PROMPTS), 0, 1))
    table, choices, text = recommend.recommendations(context, "distinct_2", "max", [recommend.Constraint.parse("pass_rate >= 0.85")])
    assert table["setting"].iloc[0].startswith("A:") and not choices[0].undecided and "Undecided" not in text


def test_no_candidate_names_the_undecided_cells():
    noisy = np.resize([1, 1, 2 / 3, 1, 1, 1 / 3, 1, 1, 2 / 3, 1, 2 / 3, 1], PROMPTS)
    context = _context(noisy)
    table, choices, text = recommend.recommendations(context, "distinct_2", "max", [recommend.Constraint.parse("pass_rate >= 0.995")])
    assert "Undecided" not in text
    assert choices[0].index is None and table["constraints_met"].tolist() == [False]
    assert "No cell has pass_rate >= 0.995 at the one-sided 95% bound (Bonferroni over 2 cells)." in text
    assert choices[0].undecided == ()  # both means are below 0.995: they fail, they are not undecided


def test_settings_the_data_cannot_tell_apart_are_one_tied_set_and_equal_bounds_go_to_the_simplest():
    # A (top_p 0.9) and B (top_p 1) have the same values: one tied set, equal bounds, B is simpler
    cells = rs.cells_frame([dict(rs.BASE, name="A", top_p=0.9), dict(rs.BASE, name="B", top_p=1.0),
                            dict(rs.BASE, name="C", top_p=0.8)], ["a"])  # fmt: skip
    rng = np.random.default_rng(3)
    same = 0.6 + rng.normal(0, 0.02, size=PROMPTS)
    distinct = np.vstack([same, same, 0.40 + rng.normal(0, 0.02, size=PROMPTS)])
    context = rs.context(cells, {"distinct_2": distinct}, PROMPTS, objective={"metric": "distinct_2"})
    table, choices, text = recommend.recommendations(context, "distinct_2", "max")
    assert choices[0].tied.tolist() == [True, True, False]
    assert table["setting"].iloc[0].startswith("B:") and table["tied"].iloc[0] == 2
    assert "The data do not single out one setting: 1 other(s) are not significantly worse" in text
    assert "This one has the best worst case on distinct_2" in text


def test_a_lead_the_data_cannot_confirm_still_decides_over_simplicity():
    # 4 prompts, noisy: A's lead of 0.3 is not significant, so B (simpler) stays in the tied set, but
    # "not significantly worse" is not "as good": A's lower bound is higher, and A is chosen
    cells = rs.cells_frame([dict(rs.BASE, name="A", top_p=0.9), dict(rs.BASE, name="B", top_p=1.0)], ["a"])
    distinct = np.array([[0.9, 0.5, 0.9, 0.7], [0.6, 0.2, 0.6, 0.4]])
    distinct[1] += np.array([0.3, -0.3, 0.0, 0.1])
    context = rs.context(cells, {"distinct_2": distinct}, 4, objective={"metric": "distinct_2"})
    table, choices, text = recommend.recommendations(context, "distinct_2", "max")
    assert choices[0].tied.tolist() == [True, True]
    assert table["setting"].iloc[0].startswith("A:")


def test_a_clear_winner_is_singled_out():
    cells = rs.cells_frame([dict(rs.BASE, name="A", top_p=0.9), dict(rs.BASE, name="B", top_p=1.0)], ["a"])
    distinct = np.array([[0.70], [0.50]]) + np.random.default_rng(4).normal(0, 0.02, size=(2, PROMPTS))
    context = rs.context(cells, {"distinct_2": distinct}, PROMPTS, objective={"metric": "distinct_2"})
    table, choices, text = recommend.recommendations(context, "distinct_2", "max")
    assert choices[0].tied.tolist() == [True, False] and table["setting"].iloc[0].startswith("A:")
    assert "The data single it out" in text
