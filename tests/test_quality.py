"""The quality axis end to end: planted pass rates and log-probabilities come back out of the
report, the recommendation is the planted best feasible cell, and on the embedded Gemma-3 the
decoding strategies order by perplexity as in Holtzman et al."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from hfsweep.pipeline import run_score_report
from hfsweep.sweeps.compose import compose_config
from tests.servers.planted import Planted, PlantedServer
from tests.sweep_helpers import QUIET

PASS = {0.3: 0.95, 0.7: 0.85, 1.0: 0.6, 1.3: 0.3}  # planted pass probability by temperature
LOGPROB = {0.3: -0.2, 0.7: -0.6, 1.0: -1.1, 1.3: -1.7}  # planted per-token log-probability


def prompts_file(tmp_path, n: int) -> str:
    path = tmp_path / "prompts.jsonl"
    lines = [json.dumps({"id": f"q{i:02d}", "prompt": f"Question {i}?", "checks": [{"type": "contains", "value": "ANSWER"}]})
             for i in range(n)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_planted_pass_rates_perplexity_and_the_best_feasible_cell(tmp_path):
    planted = Planted(pass_prob=lambda p: PASS[p["temperature"]], logprob=lambda p: LOGPROB[p["temperature"]],
                      loops=lambda p: p["temperature"] == 0.3)  # fmt: skip
    with PlantedServer(planted) as server:
        overrides = [*QUIET, "++report.enabled=true", "report.plots=false", "model=endpoint", f"model.endpoint={server.url}",
                     "model.id=planted", "model.server=llama.cpp", f"prompts.file={prompts_file(tmp_path, 30)}", "samples=4",
                     "sampling.max_tokens=32",
                     "+sweep.grid.temperature=[0.3,0.7,1.0,1.3]", 'objective.constraints=["loop_rate <= 0.1"]']  # fmt: skip
        config, mapping = compose_config(overrides)
        _, page = run_score_report(config, mapping, tmp_path / "run")
    run = tmp_path / "run"
    scores = pd.read_parquet(run / "scores.parquet")
    groups = pd.read_parquet(run / "group_scores.parquet")
    for temperature, p in PASS.items():
        n = len(groups[groups["temperature"] == temperature]) * 4
        rate = groups.loc[groups["temperature"] == temperature, "pass_rate"].mean()
        assert abs(rate - p) < 3.5 * math.sqrt(p * (1 - p) / n) + 1e-9, (temperature, rate, p)
        perplexity = scores.loc[scores["temperature"] == temperature, "perplexity"]
        assert perplexity.round(9).eq(round(math.exp(-LOGPROB[temperature]), 9)).all()
    recommendation = pd.read_csv(page.parent / "tables" / "recommendation.csv")
    # 0.3 passes most but loops (infeasible); 0.7 is the planted best feasible cell.
    assert recommendation["temperature"].tolist() == [0.7] and recommendation["metric"].tolist() == ["pass_rate"]
    assert bool(recommendation["constraints_met"].iloc[0])


def test_no_quality_measure_means_no_recommendation(tmp_path):
    with PlantedServer() as server:
        overrides = [*QUIET, "++report.enabled=true", "report.plots=false", "model=endpoint", f"model.endpoint={server.url}",
                     "model.id=planted", "model.server=llama.cpp", "prompts.limit=4", "samples=2",
                     "+sweep.grid.temperature=[0.5,1.0]", "evaluators=[distinct_2,seq_rep_4,perplexity]"]  # fmt: skip
        config, mapping = compose_config(overrides)
        _, page = run_score_report(config, mapping, tmp_path / "run")
    assert pd.read_csv(page.parent / "tables" / "recommendation.csv").empty
    assert "needs a quality measure" in page.read_text()


@pytest.mark.slow
def test_gemma_decoding_orders_perplexity_as_the_paper(tmp_path, isolated_cache):
    overrides = [*QUIET, "sweep=decoding", "prompts.limit=4", "samples=1", "sampling.max_tokens=32",
                 "evaluators=[perplexity]", "runner.timeout_s=120"]  # fmt: skip
    config, mapping = compose_config(overrides)
    run_score_report(config, mapping, tmp_path / "run")
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    by = scores.groupby("setting_name")["perplexity"].mean()
    assert by["greedy"] < by["top_k_40_t_0.7"] < by["pure"], by.to_dict()
