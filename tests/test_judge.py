"""The judge: completions scored by another target through the same runner (cache, resume),
fixed and malformed verdicts parsed or counted."""

from __future__ import annotations

import json
import math

import pandas as pd

from hfsweep.pipeline import run_score_report
from hfsweep.sweeps.compose import compose_config
from hfsweep.core.records import JUDGMENTS
from tests.servers.planted import PlantedServer
from tests.sweep_helpers import QUIET, SCORE_LIGHT


def verdict(prompt: str) -> str:
    """7 for an answer that holds ANSWER, an unparseable reply otherwise."""
    answer = prompt.split("Answer:")[-1]
    return "7" if "ANSWER" in answer else "I cannot tell."


def test_judge_scores_every_completion_and_counts_unparseable(tmp_path):
    with PlantedServer() as main, PlantedServer(reply=verdict) as judge:
        overrides = [*QUIET, *SCORE_LIGHT, "model=endpoint", f"model.endpoint={main.url}", "model.id=planted", "model.server=llama.cpp",
                     "prompts.limit=4", "samples=3", "judge=endpoint", f"judge.model.endpoint={judge.url}",
                     "judge.model.id=judge", "judge.model.server=llama.cpp"]  # fmt: skip
        config, mapping = compose_config(overrides)
        run_score_report(config, mapping, tmp_path / "run")
        judged = pd.read_parquet(tmp_path / "run" / JUDGMENTS)
        completions = pd.read_parquet(tmp_path / "run" / "completions.parquet")
        assert len(judged) == len(completions) == 12 and judge.requests == 12
        passed = completions["text"].str.contains("ANSWER")
        merged = completions.merge(judged, on=["cell_id", "prompt_id", "sample_index"])
        assert (merged.loc[merged["text"].str.contains("ANSWER"), "judge_score"] == 7).all()
        assert merged.loc[~merged["text"].str.contains("ANSWER"), "judge_score"].isna().all()
        scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
        assert scores["judge_score"].notna().sum() == passed.sum()
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        assert summary["judge"]["unparseable"] == int((~passed).sum()) and summary["judge"]["judged"] == 12
        assert any("could not be parsed" in w for w in summary["warnings"])
        # a second run of the same command asks the judge nothing new
        run_score_report(config, mapping, tmp_path / "again")
        assert judge.requests == 12 and main.requests == 12


def test_parse_rules():
    from hfsweep.sweeps.judge import parse_judgment

    assert parse_judgment("Score: 10", "score_1_10") == 10 and parse_judgment("PASS", "pass_fail") == 1
    assert math.isnan(parse_judgment("0", "score_1_10")) and math.isnan(parse_judgment(None, "pass_fail"))
    assert math.isnan(parse_judgment("3.5 out of 10", "score_1_10")) and parse_judgment("7/10", "score_1_10") == 7
