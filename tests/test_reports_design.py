"""Effects only where the design supports them; settings compared pairwise; the recommendation.

The planted run is the issue's measurement in miniature: a server whose text depends on top_k
only, swept with the decoding presets. Every cell with the same top_k gets the same texts, so
the same scores.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from hfsweep import reports
from hfsweep.reports import recommend, stats
from hfsweep.reports.power import mdd
from hfsweep.core.errors import ReportError
from tests import report_synth as rs

PROMPTS, SAMPLES = 16, 3


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    settings = rs.presets(rs.DECODING)
    rng = np.random.default_rng(11)
    by_top_k = {}
    for k in sorted({s["top_k"] for s in settings}):
        level = {0: 0.10, 40: 0.30, 640: 0.12}[k]
        loop = (rng.random((PROMPTS, SAMPLES)) < level).astype(float)
        prompt = rng.normal(0, 0.05, size=(PROMPTS, 1))
        by_top_k[k] = dict(
            seq_rep_4=np.clip(level + prompt + rng.normal(0, 0.05, size=(PROMPTS, SAMPLES)), 0, 1),
            words=rng.normal(150, 10, size=(PROMPTS, SAMPLES)).round(), loop=loop)
    per_sample = {m: np.stack([by_top_k[s["top_k"]][m] for s in settings]) for m in ("seq_rep_4", "words", "loop")}
    group = {"loop_rate": per_sample["loop"].mean(axis=2),
             "distinct_2": 1 - per_sample["seq_rep_4"].mean(axis=2) + rng.normal(0, 0.001, size=(1, PROMPTS))}
    run = rs.write_planted_run(tmp_path_factory.mktemp("planted") / "run", settings, per_sample, group,
                               objective={"metric": "distinct_2", "constraints": ["seq_rep_4 <= 0.5"]})
    page = reports.build_report(run, out=run / "report" / "index.html",
                                options={"bootstrap_resamples": 200, "plots": False, "baseline": "greedy"})
    tabs = {p.stem: pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in (page.parent / "tables").glob("*.csv")}
    return run, page, tabs, per_sample, settings


def test_no_temperature_effect_and_top_k_found(planted):
    _, page, t, _, _ = planted
    fr = t["friedman"]
    temp = fr[fr["parameter"] == "temperature"]
    assert len(temp) and (temp["p_adj"] >= 0.05).all()
    top_k = fr[(fr["parameter"] == "top_k") & (fr["metric"] == "seq_rep_4")]
    assert top_k["p_adj"].iloc[0] < 0.05
    eff = t["effects"]
    assert sorted(eff.loc[eff["parameter"] == "temperature", "level"].unique()) == [0, 0.9, 1]
    assert set(eff.loc[eff["parameter"] == "temperature", "held"]) == {"top_k=0, top_p=1"}
    sp = t["setting_pairs"]
    pair = sp[(sp["setting_a"].str.startswith("pure:")) & (sp["setting_b"].str.startswith("top_k_40:"))
              & (sp["metric"] == "seq_rep_4")]
    assert len(pair) == 1 and pair["p_adj"].iloc[0] < 0.05 and pair["diff"].iloc[0] > 0.1
    same_top_k = sp[sp.apply(lambda r: r["setting_a"].split("top_k=")[1][:3] == r["setting_b"].split("top_k=")[1][:3],
                             axis=1)]
    assert len(same_top_k) and (same_top_k["p_adj"] >= 0.05).all()  # temperature / top_p alone change nothing here
    design = t["design"].set_index("parameter")
    assert design.loc["temperature", "part_levels"] == "0, 0.9, 1"
    assert "0.7" in design.loc["temperature", "note"]
    html = page.read_text()
    assert "Settings compared pairwise" in html and "crossed part" in html


def test_level_means_over_whichever_cells_would_have_claimed_temperature(planted):
    """The check above has teeth: the report's former level averaging finds 'temperature'."""
    _, _, _, per_sample, settings = planted
    values = per_sample["seq_rep_4"].mean(axis=2)
    temps = sorted({s["temperature"] for s in settings})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        levels = np.array([values[[i for i, s in enumerate(settings) if s["temperature"] == v]].mean(axis=0) for v in temps])
    assert stats.friedman(levels.T)[1] < 1e-4


def test_duplicated_metric_tested_once_and_shared_tests_once(planted):
    _, page, t, _, _ = planted
    for name in ("friedman", "paired_baseline", "setting_pairs"):
        assert "loop" not in set(t[name]["metric"]) and "loop_rate" in set(t[name]["metric"])
    assert "loop" in set(t["cell_metrics"]["metric"])
    assert "loop (same per-prompt values as loop_rate)" in page.read_text()
    pb, sp = t["paired_baseline"], t["setting_pairs"]
    row = pb[pb["setting"].str.startswith("top_k_640:") & (pb["metric"] == "seq_rep_4")].iloc[0]
    twin = sp[sp["setting_a"].str.startswith("greedy:") & sp["setting_b"].str.startswith("top_k_640:")
              & (sp["metric"] == "seq_rep_4")].iloc[0]
    assert row["p"] == twin["p"] and row["p_adj"] == twin["p_adj"] and row["diff"] == pytest.approx(twin["diff"])


def test_power_columns_and_recommendation_file(planted):
    _, _, t, per_sample, settings = planted
    names = [s["name"] for s in settings]
    d = per_sample["seq_rep_4"][names.index("top_k_40")].mean(axis=1) - per_sample["seq_rep_4"][names.index("pure")].mean(axis=1)
    sp = t["setting_pairs"]
    row = sp[sp["setting_a"].str.startswith("pure:") & sp["setting_b"].str.startswith("top_k_40:")
             & (sp["metric"] == "seq_rep_4")].iloc[0]
    assert row["mdd"] == pytest.approx(mdd(np.std(d, ddof=1), PROMPTS), rel=1e-5)
    assert "mdd" in t["paired_baseline"] and "mdd" in t["setting_pairs"]
    rec = t["recommendation"]
    assert list(rec.columns[:17]) == ["target", "setting", "setting_id", "temperature", "top_k", "top_p", "min_p",
                                      "typical_p", "top_n_sigma", "frequency_penalty", "presence_penalty", "max_tokens",
                                      "metric", "value", "ci_low", "ci_high", "constraints_met"]
    assert len(rec) == 1 and rec["metric"].iloc[0] == "distinct_2"


def test_diagonal_grid_has_no_per_parameter_effect():
    """Two settings that each change a different parameter: nothing is crossed, the settings
    are compared pairwise and the page says why there is no effect."""
    settings = [dict(rs.BASE, name="", temperature=0.7, top_k=0), dict(rs.BASE, name="", temperature=1.0, top_k=40),
                dict(rs.BASE, name="", temperature=1.3, top_k=80)]
    cells = rs.cells_frame(settings, ["a"])
    rng = np.random.default_rng(3)
    ctx = rs.context(cells, {"m": rng.normal(size=(3, 10))}, 10)
    tabs = rs.statistics(ctx)
    assert tabs["effects"].empty and tabs["friedman"].empty
    assert (tabs["design"]["part_levels"] == "").all()
    assert "no per-parameter effect" in tabs["design"]["note"].iloc[0]
    assert len(tabs["setting_pairs"]) == 3


def test_missing_cells_use_complete_blocks_only():
    """A full grid where one prompt lacks one cell: that prompt leaves the parameter's part
    (counted in ``dropped``) instead of averaging its level over fewer cells."""
    cells = rs.cells_frame(rs.grid({"temperature": [0.7, 1.0, 1.3], "top_p": [0.9, 1.0]}), ["a"])
    v = np.tile(np.arange(6.0)[:, None], (1, 8))
    v[0, 3] = np.nan
    tabs = rs.statistics(rs.context(cells, {"m": v}, 8))
    eff = tabs["effects"]
    temp = eff[eff["parameter"] == "temperature"]
    assert (temp["n"] == 7).all() and (temp["dropped"] == 1).all()
    assert temp["mean"].tolist() == [0.5, 2.5, 4.5]
    fr = tabs["friedman"]
    assert fr["n"].iloc[0] == 7 and fr["dropped"].iloc[0] == 1


def _ctx_abc():
    cells = rs.cells_frame([dict(rs.BASE, name="A", temperature=0.5), dict(rs.BASE, name="B", temperature=0.7),
                            dict(rs.BASE, name="C", temperature=1.0)], ["a"])
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(3, 12))
    same = noise[0] - noise[0].mean()  # A and B: the same values on up, so equal bounds
    up = np.array([[0.8], [0.8], [0.5]]) + np.vstack([same, same, noise[2] - noise[2].mean()])
    down = np.array([[0.2], [0.1], [0.5]]) + noise[::-1] - noise[::-1].mean(axis=1, keepdims=True)
    return rs.context(cells, {"up": up, "down": down}, 12, pareto={"up": "up", "down": "down"},
                      objective={"metric": "up", "goal": "max", "constraints": ["down <= 0.3"]})


def test_recommendation_takes_the_pareto_optimal_tie():
    """A (0.8, 0.2), B (0.8, 0.1), C (0.5, 0.5): A and B have the same values on up (equal worst
    cases); B's constraint margin is larger, and B dominates A."""
    ctx = _ctx_abc()
    tabs = rs.statistics(ctx)
    rec = tabs["recommendation"].iloc[0]
    assert rec["setting"].startswith("B:") and bool(rec["constraints_met"])
    assert rec["runner_up"].startswith("A:") and rec["value"] == pytest.approx(0.8)
    assert rec["ci_low"] <= 0.8 <= rec["ci_high"] and 0 <= rec["p"] <= 1
    pa = tabs["pareto"]
    assert pa["recommended"].tolist() == [False, True, False]
    assert pa["on_front"].tolist() == [False, True, False]


def test_recommend_goals_constraints_and_errors():
    ctx = _ctx_abc()
    cells = ctx.cells
    vals = {m: ctx.mats[m] for m in ("up", "down")}
    assert recommend.recommend(cells, vals, "down", "min").index == 1
    assert recommend.recommend(cells, vals, "up", "min", [("down", ">", 0.15)]).index == 2
    none = recommend.recommend(cells, vals, "up", "max", [("down", "<", 0.05)])
    assert none.index is None and "down < 0.05" in none.note
    table, _, text = recommend.recommendations(ctx, "up", "max", [recommend.Constraint("down", "<", 0.05)])
    assert table["constraints_met"].tolist() == [False] and "No cell has down < 0.05" in text
    with pytest.raises(ReportError, match="goal"):
        recommend.recommend(cells, vals, "up", "best")
    with pytest.raises(ReportError, match="operator"):
        recommend.recommend(cells, vals, "up", "max", [("down", "=<", 0.3)])
    with pytest.raises(ReportError, match="not in the scores"):
        recommend.recommend(cells, vals, "quality", "max")


def test_too_many_presets_are_compared_with_the_baseline_only():
    from hfsweep.reports import build, tables

    named = {f"t{i}": {"temperature": round(0.1 * i, 1)} for i in range(tables.MAX_PAIRED_SETTINGS + 1)}
    cells = rs.cells_frame(rs.presets(named), ["a"])
    ctx = rs.context(cells, {"m": np.random.default_rng(1).normal(size=(len(cells), 8))}, 8)
    tabs, notes = build.statistics(ctx, ["m"])
    assert tabs["setting_pairs"].empty and "more than 16 settings" in notes["setting_pairs"]
    assert len(tabs["paired_baseline"]) == len(cells) - 1
