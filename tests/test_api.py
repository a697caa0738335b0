"""The Python API (hfsweep.run / hfsweep.load / Run), used as a notebook would: on the real
embedded model, on the local fault server, and on synthetic run directories."""

from __future__ import annotations

import html
import uuid

import pandas as pd
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

import hfsweep
from hfsweep.api import hydra_value, overrides
from hfsweep.core.errors import ReportError, RunFailedError
from hfsweep.sweeps.compose import compose_config
from tests.run_dirs import completion, write_run
from tests.servers.fault_server import Rule
from tests.sweep_helpers import endpoint

QUIET = ["runner.progress=false", "report.plots=false"]


@pytest.mark.parametrize("value", ["plain", "org/name", "it's", "two words", "a\\b", "ends\\", "q\\'", "true", "1.5", "", "[x]"])
def test_a_string_reads_back_through_hydras_parser_as_itself(value):
    assert OverridesParser.create().parse_override(f"key={hydra_value(value)}").value() == value


def test_keyword_settings_compose_like_the_command_line():
    items = overrides(["sweep=single"], samples=3, prompts__limit=2, sampling__temperature=0.5,
                      objective__constraints=["pass_rate >= 0.5"], **{"model.id": "smollm2"})  # fmt: skip
    config, _ = compose_config(items)
    assert config.samples == 3 and config.prompts.limit == 2 and config.sampling.temperature == 0.5
    assert list(config.objective.constraints) == ["pass_rate >= 0.5"] and config.model.id == "smollm2"
    assert overrides("samples=2") == ["samples=2"]


@pytest.mark.slow
def test_a_notebook_runs_a_sweep_on_the_embedded_model_and_reads_its_tables(tmp_path):
    run = hfsweep.run(["sweep.grid.temperature=[0.0,1.0]", "~sweep.grid.top_p", *QUIET], run_dir=tmp_path / "run",
                      samples=2, prompts__limit=3, sampling__max_tokens=16, model__id=f"smol-{uuid.uuid4().hex[:8]}")
    assert isinstance(run, hfsweep.Run) and run.result is not None and run.result.requests == 2 * 3 * 2
    frames = [run.completions, run.scores, run.group_scores, run.estimates, run.cells, run.paired_baseline,
              run.setting_pairs, run.model_pairs, run.recommendation, run.leaderboard]  # fmt: skip
    assert all(isinstance(frame, pd.DataFrame) for frame in frames)
    assert len(run.completions) == 12 and run.completions["error"].isna().all()
    assert {"cell_id", "metric", "mean", "ci_low", "ci_high", "n"} <= set(run.estimates.columns)
    pass_rate = run.estimates[run.estimates["metric"] == "pass_rate"]
    assert len(pass_rate) == 2 and (pass_rate["ci_low"] <= pass_rate["mean"]).all() and (pass_rate["mean"] <= pass_rate["ci_high"]).all()
    assert len(run.cells) == 2 and len(run.paired_baseline) > 0 and "p_adj" in run.setting_pairs and run.model_pairs.empty
    assert len(run.recommendation) == 1  # one target: one row, whatever its columns
    board = run.leaderboard
    assert list(board.columns[:4]) == ["cell_id", "setting", "pass_rate", "pass_rate_ci_low"]  # ranked on the objective
    assert board["pass_rate"].is_monotonic_decreasing
    page = run._repr_html_()
    assert run.verdict and all(html.escape(line.strip())[:60] in page for line in run.verdict)
    assert "<table" in page and board["setting"].iloc[0] in page
    again = hfsweep.load(run.path)
    pd.testing.assert_frame_equal(again.completions, run.completions)
    pd.testing.assert_frame_equal(again.estimates, run.estimates)
    assert again.verdict == run.verdict
    other = run.report(tmp_path / "other.html", confidence=0.9)
    assert other.is_file() and (tmp_path / "other_files" / "tables" / "cell_metrics.csv").is_file()
    narrower = run.estimates[run.estimates["metric"] == "pass_rate"]
    assert (narrower["ci_high"] - narrower["ci_low"]).sum() <= (pass_rate["ci_high"] - pass_rate["ci_low"]).sum()


def test_a_run_whose_every_request_failed_raises_with_its_directory(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=422, message="no sampler like that")])
    with pytest.raises(RunFailedError, match="every request failed: 4 http_422") as raised:
        hfsweep.run([*endpoint(fault_server.url), "sweep=single", *QUIET], run_dir=tmp_path / "run", samples=2, prompts__limit=2)
    assert raised.value.run_dir == tmp_path / "run" and (tmp_path / "run" / "completions.parquet").is_file()


def test_some_failed_requests_warn_and_the_run_is_returned(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=422, message="no", match={"seed": 1})])
    with pytest.warns(UserWarning, match="2 of 4 requests failed"):
        run = hfsweep.run([*endpoint(fault_server.url), "sweep=single", *QUIET, "evaluators=[chars,words]"],
                          run_dir=tmp_path / "run", samples=2, prompts__limit=2)  # fmt: skip
    assert run.result.errors == 2 and run.completions["error"].notna().sum() == 2


def test_the_inline_view_escapes_setting_names_and_builds_a_missing_report(tmp_path):
    name = "<script>alert('x')</script>"
    rows = [completion(cell_id=cell, setting_id=cell, setting_name=name if cell == "c1" else "plain", temperature=t,
                       prompt_id=f"p{p}", sample_index=s, text=f"{name} words {cell} {p} {s} " * (s + 1))
            for cell, t in (("c1", 0.5), ("c2", 1.0)) for p in range(3) for s in range(2)]  # fmt: skip
    run_dir = write_run(tmp_path / "run", rows, config={"report": {"plots": False}})
    run = hfsweep.load(run_dir)
    assert not (run_dir / "report").exists()
    page = run._repr_html_()  # builds the report first
    assert (run_dir / "report" / "index.html").is_file() and (run_dir / "report" / "verdict.json").is_file()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "No recommendation" in page  # no quality measure: the verdict says so, and the board ranks on distinct_2
    assert run.leaderboard.columns[2] == "distinct_2"
    with pytest.raises(KeyError, match="has no table 'nope'"):
        run.table("nope")


def test_load_refuses_a_directory_that_holds_no_run(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        hfsweep.load(tmp_path / "missing")
