"""No paid duplicates: greedy cells on a target shown deterministic send one request per prompt
and copy the other samples; a target not shown deterministic still gets every sample."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest

from hfsweep.cli import main
from tests.cli_helpers import run_cli
from tests.servers.planted import PlantedServer
from tests.sweep_helpers import sweep

PROMPTS, SAMPLES = 6, 3
GRID = ["+sweep.grid.temperature=[0.0,1.0]", f"prompts.limit={PROMPTS}", f"samples={SAMPLES}"]


def planted(url: str) -> list[str]:
    return ["model=endpoint", f"model.endpoint={url}", "model.id=planted", "model.server=llama.cpp", "runner.timeout_s=30", *GRID]


def greedy_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["temperature"] == 0.0]


def test_a_deterministic_target_gets_one_request_per_greedy_prompt_and_copies(tmp_path):
    with PlantedServer(greedy_ignores_seed=True) as server:
        result, frame, summary = sweep(tmp_path / "run", planted(server.url))
        # the greedy cell: sample 0 of every prompt, and sample 1 of the first 3 prompts to show determinism
        sent_greedy = PROMPTS + 3
        copies = PROMPTS * SAMPLES - sent_greedy
        assert server.requests == sent_greedy + PROMPTS * SAMPLES  # the temperature 1 cell: every sample
        assert result.stats.sent == server.requests and result.stats.copies == copies == summary["copies"]
        assert summary["cache_hits"] == copies  # copies count as cache hits, not as sent requests
        greedy = greedy_rows(frame)
        assert int(greedy["copy_of"].notna().sum()) == copies and frame[frame["temperature"] == 1.0]["copy_of"].isna().all()
        assert (greedy[greedy["copy_of"].notna()]["copy_of"] == 0).all() and greedy["cached"].sum() == copies
        assert (greedy.groupby("prompt_id")["text"].nunique() == 1).all()
        assert sorted(greedy["seed"]) == sorted(list(range(SAMPLES)) * PROMPTS)  # each sample keeps its own seed
        assert summary["greedy"] == {"cells": 1, "enabled": True, "shown_by": "run", "probe": None, "pairs_agreed": 3,
                                     "pairs_differed": 0, "copies": copies}  # fmt: skip
        assert not any("greedy" in w for w in summary["warnings"])

        before = server.requests
        again, frame2, summary2 = sweep(tmp_path / "again", planted(server.url))  # the cache holds the pairs: no check
        assert server.requests == before and again.stats.sent == 0 and summary2["copies"] == copies
        assert len(frame2) == len(frame)


@pytest.mark.parametrize("kind", ["seeded", "jitter"])
def test_a_target_not_deterministic_for_greedy_decoding_gets_every_sample(tmp_path, kind):
    """The planted server's greedy text changes with the seed (seeded), or changes from one
    request to the next whatever it asks (jitter): every sample is sent, and the run says so."""
    with PlantedServer(greedy_ignores_seed=kind == "jitter", jitter=kind == "jitter") as server:
        result, frame, summary = sweep(tmp_path / "run", planted(server.url))
        assert server.requests == result.stats.sent == 2 * PROMPTS * SAMPLES
        assert summary["copies"] == 0 and frame["copy_of"].isna().all()
        assert summary["greedy"]["pairs_differed"] == 3 and summary["greedy"]["shown_by"] is None
        assert any("3 of 3 sample pairs differed, so the target is not deterministic for greedy decoding: every sample was sent" in w
                   for w in summary["warnings"])  # fmt: skip


def test_copy_greedy_false_sends_every_sample(tmp_path):
    with PlantedServer(greedy_ignores_seed=True) as server:
        _, _, summary = sweep(tmp_path / "run", [*planted(server.url), "runner.copy_greedy=false"])
        assert server.requests == 2 * PROMPTS * SAMPLES and summary["copies"] == 0
        assert "runner.copy_greedy=false" in " ".join(summary["warnings"])


def test_probe_records_greedy_determinism_for_the_runs_that_follow(tmp_path, capsys):
    """Once `hfsweep probe` has shown the target deterministic, a run sends no check pair: one
    request per greedy prompt. A probe that found greedy answers differ makes runs send every sample."""
    for ignores, expected in ((True, PROMPTS), (False, PROMPTS * SAMPLES)):
        with PlantedServer(greedy_ignores_seed=ignores) as server:
            target = ["model=endpoint", f"model.endpoint={server.url}", "model.id=planted", "model.server=llama.cpp", "runner.timeout_s=30"]
            assert main(["probe", *target, "prompts.limit=2"]) == 0
            verdict = "the same outputs" if ignores else "different outputs"
            assert f"greedy decoding (temperature 0, two seeds): {verdict}" in capsys.readouterr().out
            probed = server.requests
            result, _, summary = sweep(tmp_path / f"run-{ignores}", [*target, "+sweep.grid.temperature=[0.0]", *GRID[1:]])
            assert server.requests - probed == result.stats.sent == expected
            assert summary["greedy"]["probe"] is ignores and summary["greedy"]["shown_by"] == ("probe" if ignores else None)
            if not ignores:
                assert any("`hfsweep probe` found greedy answers change with the seed" in w for w in summary["warnings"])


@pytest.mark.slow
def test_greedy_cells_on_the_embedded_server_send_one_request_per_prompt(tmp_path):
    """The real llama-server decodes temperature 0 the same whatever the seed: after 3 check
    pairs, every other sample of the greedy cell is a copy, and the run prints the saving."""
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), "sweep.grid.temperature=[0.0]", "~sweep.grid.top_p", f"prompts.limit={PROMPTS}",
                    f"samples={SAMPLES}", "sampling.max_tokens=16", f"model.id=smol-{uuid.uuid4().hex[:8]}", "report.enabled=false",
                    "runner.progress=false", "runner.timeout_s=600", "evaluators=[chars,self_bleu]"], timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    copies = PROMPTS * SAMPLES - (PROMPTS + 3)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["sent"] - summary["retries"] == PROMPTS + 3 and summary["copies"] == copies  # retries: a loaded machine
    assert f"{PROMPTS * SAMPLES} completions ({copies} from cache, {copies} of them copies of sample 0, {summary['sent']} requests sent" in done.stdout
    assert (f"greedy cells (temperature 0 or top_k 1): deterministic, all 3 sample pairs compared gave the same text; {copies} "
            "samples copied from sample 0 instead of sent") in done.stdout  # fmt: skip
    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert (frame.groupby("prompt_id")["text"].nunique() == 1).all()
    groups = pd.read_parquet(run_dir / "group_scores.parquet")
    assert (groups["n_samples"] == SAMPLES).all() and (groups["self_bleu"] == 1.0).all()  # copies are identical outputs
