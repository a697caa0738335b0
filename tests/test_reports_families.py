"""Sampler families (sweep.families, sweep=samplers): each family's best picked on one half of the
prompts, the bests compared on the other half, Holm over the family pairs.

Planted runs (a local server whose effects are known) check that the report finds the family
planted better, claims no difference between families planted equal, and that the bests are
picked on the selection half and measured on the held-out half; the last test runs the preset
through the CLI on the real llama-server.
"""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.reports import build_report
from hfsweep.reports.families import split_prompts
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.runner import run_sweep
from tests.cli_helpers import run_cli
from tests.servers.planted import Planted, PlantedServer
from tests.test_search import prompts_file

FAMILIES = ["top_p", "min_p", "top_k", "top_n_sigma"]
MIN_P_BETTER = Planted(pass_prob=lambda p: 0.95 if p["min_p"] > 0 else 0.35)
ALL_EQUAL = Planted(pass_prob=lambda p: 0.5)


def _families_run(tmp_path, planted: Planted, name: str, *extra: str) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame, str]:
    """sweep=samplers at one temperature on the planted server: (families.csv, family_pairs.csv,
    verdict.json, group_scores.parquet, the page)."""
    with PlantedServer(planted) as server:
        overrides = ["sweep=samplers", "sweep.grid.temperature=[1.0]", "model=endpoint", f"model.endpoint={server.url}",
                     "model.id=planted", "model.server=llama.cpp", "runner.progress=false", f"prompts.file={prompts_file(tmp_path, 24)}",
                     "samples=3", "sampling.max_tokens=16", "evaluators=[check_pass,pass_rate]", *extra]  # fmt: skip
        config, mapping = compose_config(overrides)
        run_sweep(config, tmp_path / name, mapping)
    page = build_report([tmp_path / name])
    tables = page.parent / "tables"
    return (pd.read_csv(tables / "families.csv"), pd.read_csv(tables / "family_pairs.csv", keep_default_na=False),
            json.loads((page.parent / "verdict.json").read_text()), pd.read_parquet(tmp_path / name / "group_scores.parquet"),
            page.read_text())  # fmt: skip


def test_the_split_is_fixed_disjoint_and_balanced():
    prompts = [f"q{i:02d}" for i in range(25)]
    select, held = split_prompts(prompts)
    shuffled = prompts[:]
    random.Random(0).shuffle(shuffled)
    assert split_prompts(shuffled) == (select, held)  # the order of the prompts does not move them
    assert set(select).isdisjoint(held) and set(select) | set(held) == set(prompts)
    assert (len(select), len(held)) == (13, 12)


def test_the_planted_family_is_found_and_tied_families_are_not_separated(tmp_path):
    bests, pairs, verdict, groups, page = _families_run(tmp_path, MIN_P_BETTER, "min_p")
    assert bests["family"].tolist() == FAMILIES and (bests["cells"] == 3).all()  # an equal budget: 3 cells each
    by_family = bests.set_index("family")
    assert by_family.loc["min_p", "value"] > 0.8 and (by_family.drop("min_p")["value"] < 0.6).all()
    with_min_p = pairs[(pairs["family_a"] == "min_p") | (pairs["family_b"] == "min_p")]
    assert len(pairs) == 6 and len(with_min_p) == 3
    assert (with_min_p["decided"] == "min_p").all() and (with_min_p["p_holm"].astype(float) < 0.05).all()
    tied = pairs.drop(with_min_p.index)
    assert (tied["decided"] == "").all(), tied  # families planted equal: no difference claimed
    said = "\n".join(verdict["lines"])
    assert "min_p is best, ahead of every other family" in said
    assert "Sampler families" in page

    # pick on one half, compare on the other: the figures are those halves' means of the best cell
    select, held = split_prompts(sorted(groups["prompt_id"].unique()))
    rates = groups.pivot_table(index="cell_id", columns="prompt_id", values="pass_rate")
    for row in bests.itertuples():
        assert row.selection_prompts == len(select) == 12 and row.n == len(held) == 12  # every prompt has a check
        assert row.selection_mean == pytest.approx(rates.loc[row.cell_id, select].mean(), abs=1e-5)
        assert row.value == pytest.approx(rates.loc[row.cell_id, held].mean(), abs=1e-5)
        family_cells = groups.loc[groups["setting_name"] == row.family, "cell_id"].unique()
        assert row.selection_mean == pytest.approx(rates.loc[family_cells, select].mean(axis=1).max(), abs=1e-5)


def test_equal_families_the_data_cannot_decide(tmp_path):
    _, pairs, verdict, _, _ = _families_run(tmp_path, ALL_EQUAL, "equal")
    assert (pairs["decided"] == "").all()
    said = "\n".join(verdict["lines"])
    assert "the data cannot decide between top_p, min_p, top_k, top_n_sigma" in said and "unequal budgets" not in said


def test_unequal_budgets_are_said(tmp_path):
    bests, _, verdict, _, _ = _families_run(tmp_path, ALL_EQUAL, "unequal", "sweep.families.top_k.top_k=[10,20]")
    assert bests.set_index("family")["cells"].to_dict() == {"top_p": 3, "min_p": 3, "top_k": 2, "top_n_sigma": 3}
    assert "(unequal budgets: top_p 3 cells, min_p 3 cells, top_k 2 cells, top_n_sigma 3 cells)" in "\n".join(verdict["lines"])


@pytest.mark.slow
def test_sweep_samplers_through_the_cli_on_llama_server(tmp_path, smollm2_endpoint):
    run_dir = tmp_path / "samplers"
    done = run_cli(["run", "--run-dir", str(run_dir), "sweep=samplers", *smollm2_endpoint, "prompts.limit=6", "samples=1",
                    "sampling.max_tokens=8", "runner.progress=false", "evaluators=[check_pass,pass_rate,distinct_2]"],
                   timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sampler families on pass_rate" in done.stdout
    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert frame["error"].isna().all() and len(frame) == 24 * 6
    sent = [json.loads(params) for params in frame["request_params"]]
    assert {body["extra_body"]["top_n_sigma"] for body in sent} == {-1.0, 0.5, 1.0, 2.0}
    assert {body["extra_body"]["min_p"] for body in sent} == {0.0, 0.05, 0.1, 0.2}
    bests = pd.read_csv(run_dir / "report" / "tables" / "families.csv")
    assert bests["family"].tolist() == FAMILIES and (bests["cells"] == 6).all()


def test_validate_refuses_a_sampler_the_detected_server_ignores(tmp_path, capsys):
    """model.server=auto: the detected kind decides (llama.cpp's /props: accepted; an unknown
    OpenAI server: refused, before any completion)."""
    props = {"/props": {"default_generation_settings": {"params": {"top_k": 40, "min_p": 0.05}}, "build_info": "b1"}}
    for routes, accepted in ((props, True), ({}, False)):
        with PlantedServer(routes=routes) as server:
            code = main(["validate", "sweep=samplers", "model=endpoint", f"model.endpoint={server.url}", "model.id=planted",
                         f"prompts.file={prompts_file(tmp_path, 4)}"])  # fmt: skip
            assert server.requests == 0  # no completion
        err = capsys.readouterr().err
        if accepted:
            assert code == 0, err
        else:
            assert code == 2 and "sweeps top_k, min_p, top_n_sigma, which generic OpenAI-compatible server ignores" in err
