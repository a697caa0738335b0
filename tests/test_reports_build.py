"""build_report on the checked-in fixture runs: golden CSVs and report behaviour."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfsweep import reports
from hfsweep.reports.options import ReportError, resolve_options

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
GOLDEN = FIX / "golden"
OPTS = {"bootstrap_resamples": 999, "plots": False}


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "index.html"
    return reports.build_report([FIX / "report_sweep"], out=out, options=OPTS)


@pytest.fixture(scope="module")
def decoding_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("decoding") / "index.html"
    return reports.build_report(FIX / "report_decoding", out=out, options=dict(OPTS, baseline="greedy"))


def _compare(got: Path, want: Path, update: bool) -> None:
    if update:
        want.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(got, want)
        return
    assert want.is_file(), f"missing golden {want}; run pytest --update-golden"
    g = pd.read_csv(got, keep_default_na=False, dtype=str)
    w = pd.read_csv(want, keep_default_na=False, dtype=str)
    assert list(g.columns) == list(w.columns), want.name
    assert len(g) == len(w), want.name
    for col in w.columns:
        gn, wn = pd.to_numeric(g[col], errors="coerce"), pd.to_numeric(w[col], errors="coerce")
        numeric = wn.notna() | (w[col] == "")
        assert (g[col][~numeric] == w[col][~numeric]).all(), f"{want.name}:{col}"
        np.testing.assert_allclose(gn[numeric].to_numpy(float), wn[numeric].to_numpy(float), rtol=1e-5, atol=1e-12,
                                   equal_nan=True, err_msg=f"{want.name}:{col}")


@pytest.mark.parametrize("name", ["cells", "cell_metrics", "effects", "friedman", "paired_baseline", "model_pairs",
                                  "pareto", "errors", "usage", "identical_cells", "heatmaps", "design", "recommendation"])
def test_golden_sweep(sweep_report, name, request):
    _compare(sweep_report.parent / "tables" / f"{name}.csv", GOLDEN / "report_sweep" / f"{name}.csv",
             request.config.getoption("--update-golden"))


@pytest.mark.parametrize("name", ["decoding", "cell_metrics", "paired_baseline", "design", "effects", "friedman",
                                  "setting_pairs", "recommendation"])
def test_golden_decoding(decoding_report, name, request):
    _compare(decoding_report.parent / "tables" / f"{name}.csv", GOLDEN / "report_decoding" / f"{name}.csv",
             request.config.getoption("--update-golden"))


def test_sweep_report_content(sweep_report):
    tables = sweep_report.parent / "tables"
    errors = pd.read_csv(tables / "errors.csv", keep_default_na=False)
    bad = errors[errors["errors"] > 0]
    assert len(bad) == 1 and bad["top_error"].iloc[0] == "http_422"
    assert "top_p must be" in bad["top_error_message"].iloc[0]
    ident = pd.read_csv(tables / "identical_cells.csv")
    assert ident.groupby("group")["setting"].apply(lambda s: all("temperature=0" in x for x in s)).all()
    assert ident["group"].nunique() == 2  # greedy ignores top_p, once per model
    pairs = pd.read_csv(tables / "model_pairs.csv")
    assert set(pairs["target_a"]) == {"tiny-a"} and set(pairs["target_b"]) == {"tiny-bb"}
    page = sweep_report.read_text()
    assert "Failed jobs" in page and "refused the connection" in page
    assert "Recommended for highest distinct_2" in page
    # model output is escaped, never live markup
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page.lower()
    # the page script is the only executable one; the others are data (the viewer's, long tables')
    assert page.count("<script>") == 1 and page.count("<script") == 1 + page.count('<script type="application/json"')


def test_no_objective_no_quality_measure_means_no_recommendation(decoding_report):
    assert pd.read_csv(decoding_report.parent / "tables" / "recommendation.csv").empty
    assert "needs a quality measure" in decoding_report.read_text()


def test_decoding_table_beside_paper(decoding_report):
    dec = pd.read_csv(decoding_report.parent / "tables" / "decoding.csv")
    assert dec["setting_name"].tolist() == ["greedy", "pure", "top_k_40", "nucleus_0.95"]
    greedy = dec.iloc[0]
    assert greedy["repetition_pct"] == 100 and greedy["paper_repetition_pct"] == 73.66
    assert (dec["texts"] == 4).all()
    page = decoding_report.read_text()
    assert "Holtzman et al. 2020" in page


def test_paper_way_uses_evaluators(decoding_report):
    from hfsweep.evaluators.diversity import self_bleu, zipf
    from hfsweep.evaluators.repetition import loop_rate

    comp = pd.read_parquet(FIX / "report_decoding" / "completions.parquet")
    dec = pd.read_csv(decoding_report.parent / "tables" / "decoding.csv")
    for r in dec.itertuples():
        texts = comp[(comp["cell_id"] == r.cell_id) & (comp["sample_index"] == 0)]["text"].tolist()
        assert r.self_bleu4 == pytest.approx(self_bleu(texts, max_n=4), rel=1e-5)
        assert r.zipf == pytest.approx(zipf(texts), rel=1e-5)
        assert r.repetition_pct == pytest.approx(100 * loop_rate(texts), rel=1e-5)


def test_default_out_and_plots(tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(FIX / "report_sweep", sweep)
    for f in sweep.glob("*/*scores.parquet"):
        f.unlink()  # build_report scores unscored runs itself
    page = reports.build_report([sweep], options={"bootstrap_resamples": 200})
    assert page == sweep / "report" / "index.html"
    assert (sweep / "0" / "scores.parquet").is_file()
    svgs = sorted(p.name for p in (sweep / "report" / "plots").glob("*.svg"))
    assert "pareto.svg" in svgs and "lengths.svg" in svgs and "effects_temperature.svg" in svgs
    assert any(p.startswith("heatmap_") for p in svgs) and any(p.startswith("model_deltas_") for p in svgs)
    assert page.stat().st_size < 3_000_000


def test_two_reports_in_one_folder_keep_their_files_apart(tmp_path):
    opts = {"bootstrap_resamples": 200, "plots": False}
    a = reports.build_report(FIX / "report_decoding", out=tmp_path / "a.html", options=opts)
    b = reports.build_report(FIX / "report_sweep", out=tmp_path / "b.html", options=opts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a_files", "b.html", "b_files"]
    assert (tmp_path / "a_files" / "tables" / "decoding.csv").is_file()
    assert len(pd.read_csv(tmp_path / "b_files" / "tables" / "cells.csv")) == 12
    assert "Tables: a_files/tables/*.csv" in a.read_text() and "Tables: b_files/tables/*.csv" in b.read_text()
    index = reports.build_report(FIX / "report_decoding", out=tmp_path / "index.html", options=opts)
    assert (tmp_path / "tables" / "decoding.csv").is_file() and "Tables: tables/*.csv" in index.read_text()


def test_find_run_dirs_natural_order():
    dirs = reports.find_run_dirs(FIX / "report_sweep")
    assert [d.name for d in dirs] == ["0", "1", "2"]
    assert reports.find_run_dirs(FIX / "report_decoding") == [FIX / "report_decoding"]
    with pytest.raises(ReportError, match="does not exist"):
        reports.find_run_dirs(FIX / "nope")


def test_options_validation():
    with pytest.raises(ReportError, match="Did you mean: baseline"):
        resolve_options({"baseline_": "greedy"})
    with pytest.raises(ReportError, match="confidence"):
        resolve_options({"confidence": 95})
    with pytest.raises(ReportError, match="matches no setting_name"):
        reports.build_report(FIX / "report_decoding", out=Path("/tmp/unused/index.html"),
                             options={"baseline": "no_such", "plots": False})



def test_decoding_perplexity_pools_the_texts_log_probabilities():
    import math

    from hfsweep.reports.holtzman_table import _perplexity

    texts = pd.DataFrame({"logprob_sum": [-2.0, -4.0, None], "logprob_tokens": [2, 4, 3]})
    assert _perplexity(texts) == pytest.approx(math.exp(6.0 / 6))
    assert math.isnan(_perplexity(pd.DataFrame({"text": ["a"]})))
