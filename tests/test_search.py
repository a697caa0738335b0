"""Adaptive search: finds the planted best feasible cell for a fraction of the grid, respects
its budget exactly, resumes after SIGKILL with the same decisions, and reuses the cache."""

from __future__ import annotations

import json
import signal
import time
from html import unescape

import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.reports import build_report
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps import search
from hfsweep.sweeps.runner import run_sweep
from hfsweep.sweeps.search import SearchState, widths
from tests.cli_helpers import run_cli, start_cli
from tests.servers.planted import Planted, PlantedServer

BEST = (0.7, 0.9)


def pass_prob(params: dict) -> float:
    if params["temperature"] == 0.3:
        return 0.95  # passes most, but loops: infeasible under loop_rate <= 0.1
    return 0.95 if (params["temperature"], params["top_p"]) == BEST else 0.4


PLANTED = Planted(pass_prob=pass_prob, loops=lambda p: p["temperature"] == 0.3)


def prompts_file(tmp_path, n: int = 16) -> str:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i:02d}", "prompt": f"Question {i}?",
                                        "checks": [{"type": "contains", "value": "ANSWER"}]}) + "\n" for i in range(n)))  # fmt: skip
    return str(path)


def overrides(url: str, tmp_path, *extra: str) -> list[str]:
    return ["model=endpoint", f"model.endpoint={url}", "model.id=planted", "model.server=llama.cpp", "runner.progress=false",
            f"prompts.file={prompts_file(tmp_path)}", "samples=3", "sampling.max_tokens=32",
            "sweep.grid.temperature=[0.3,0.7,1.0,1.3]", "sweep.grid.top_p=[0.5,0.9,1.0]",
            'objective.constraints=["loop_rate <= 0.1"]', "evaluators=[loop,loop_rate,check_pass,pass_rate]", *extra]  # fmt: skip


def run(url, tmp_path, name, *extra):
    config, mapping = compose_config(overrides(url, tmp_path, *extra))
    run_sweep(config, tmp_path / name, mapping)
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    log = (tmp_path / name / "search.jsonl").read_text() if (tmp_path / name / "search.jsonl").exists() else ""
    return summary, log


def params_of(tmp_path, name, cell_id):
    frame = pd.read_parquet(tmp_path / name / "completions.parquet")
    row = frame[frame["cell_id"] == cell_id].iloc[0]
    return row["temperature"], row["top_p"]


@pytest.mark.parametrize("strategy", ["halving", "sequential"])
def test_search_finds_the_planted_best_for_less_than_the_grid(tmp_path, strategy):
    with PlantedServer(PLANTED) as server:
        summary, log = run(server.url, tmp_path, strategy, f"search={strategy}")
        search = summary["search"]
        assert params_of(tmp_path, strategy, search["leader"]) == BEST
        assert search["requests"] < 0.75 * search["full_grid_requests"] and server.requests == search["requests"]
        rounds = [json.loads(line) for line in log.splitlines()]
        assert len(rounds) == search["rounds"] >= (2 if strategy == "halving" else 1)  # sequential may decide at once
        dropped = {cell: why for r in rounds for cell, why in r["dropped"].items()}
        assert any("loop_rate" in why for why in dropped.values())  # the looping cells, on evidence
        # the same command again: every round comes back from the cache, with the same decisions
        again, again_log = run(server.url, tmp_path, f"{strategy}-again", f"search={strategy}")
        assert server.requests == search["requests"] and again_log == log


def test_budget_is_respected_exactly(tmp_path):
    with PlantedServer(PLANTED) as server:
        summary, _ = run(server.url, tmp_path, "requests", "search=halving", "search.budget.requests=100")
        assert summary["search"]["requests"] == 100 == server.requests and summary["search"]["stopped"] == "budget"
        summary, _ = run(server.url, tmp_path, "tokens", "search=halving", "search.budget.tokens=1000", "runner.cache=false")
        assert summary["search"]["tokens"] <= 1000 and summary["search"]["stopped"] == "budget"
        frame = pd.read_parquet(tmp_path / "tokens" / "completions.parquet")
        assert frame["completion_tokens"].sum() == summary["search"]["tokens"]


def test_a_wider_grid_after_a_search_sends_only_what_is_new(tmp_path):
    with PlantedServer(PLANTED) as server:
        summary, _ = run(server.url, tmp_path, "search", "search=halving")
        run(server.url, tmp_path, "grid")
        assert server.requests == summary["search"]["full_grid_requests"]  # the search's requests were not sent twice


def test_kill_and_resume_gives_the_same_choices(tmp_path, isolated_cache):
    with PlantedServer(PLANTED, latency=0.02) as server:
        clean, clean_log = run(server.url, tmp_path, "clean", "search=halving", f"runner.cache_path={tmp_path / 'other.sqlite'}")
        args = ["run", "--run-dir", str(tmp_path / "killed"), *overrides(server.url, tmp_path, "search=halving"), "report.enabled=false"]
        proc = start_cli(args)
        start = server.requests
        while server.requests < start + clean["search"]["requests"] // 2 and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        resumed = run_cli(args, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
    log = (tmp_path / "killed" / "search.jsonl").read_text()
    assert log == clean_log


@pytest.mark.parametrize("bad,message", [
    ("search=halfing", "Did you mean search=halving?"),
    ("search.eta=1", "search.eta = 1 is out of range: accepted an integer >= 2"),
    ("search.budget.requests=0", "search.budget.requests = 0 is out of range"),
    ("search.confidence=1.5", "search.confidence = 1.5 is out of range"),
    ("+search.rounds=3", "search.rounds is not a known config key"),
])
def test_bad_search_values_stop_validate(bad, message, capsys):
    assert main(["validate", bad]) == 2
    assert message in capsys.readouterr().err


def test_search_without_an_objective_stops_before_any_request(tmp_path, capsys):
    plain = tmp_path / "plain.txt"  # prompts without checks: no pass_rate to optimise
    plain.write_text("Tell a story.\nDescribe a city.\n")
    with PlantedServer(PLANTED) as server:
        args = ["model=endpoint", f"model.endpoint={server.url}", "model.server=llama.cpp", f"prompts.file={plain}", "search=halving"]
        assert main(["validate", *args]) == 2
        assert server.requests == 0
    assert "needs an objective" in capsys.readouterr().err


def test_report_shows_the_allocation_and_recommends_only_what_the_search_kept(tmp_path):
    with PlantedServer(PLANTED) as server:
        summary, log = run(server.url, tmp_path, "halving", "search=halving")
    search, rounds = summary["search"], [json.loads(line) for line in log.splitlines()]
    page = build_report([tmp_path / "halving"])
    alloc = pd.read_csv(page.parent / "tables" / "search.csv")
    # requests per cell per round add up to the round's requests and to the search's total
    for entry in rounds:
        assert alloc[f"round {entry['round']}"].sum() == entry["requests"]
    assert alloc["requests"].sum() == search["requests"] == len(pd.read_parquet(tmp_path / "halving" / "completions.parquet"))
    status = alloc.set_index("cell_id")["status"]
    assert status[search["leader"]] == "leader"
    assert {c for c, s in status.items() if s.startswith("dropped")} == set(search["dropped"])
    # cells far behind the best wait: fewer prompts, still candidates, named as such
    assert search["waiting"] and not set(search["waiting"]) & set(search["dropped"])
    assert {c for c, s in status.items() if s.startswith("waiting")} == set(search["waiting"])
    assert alloc.set_index("cell_id").loc[list(search["waiting"]), "requests"].max() < alloc["requests"].max()
    # the recommendation is the search's leader, never a dropped cell (fewer prompts, dropped on evidence)
    rec = pd.read_csv(page.parent / "tables" / "recommendation.csv")
    cells = pd.read_csv(page.parent / "tables" / "cells.csv")
    chosen = cells[cells["setting_id"] == rec["setting_id"].iloc[0]]["cell_id"].iloc[0]
    assert chosen == search["leader"]
    html = page.read_text()
    share = search["share_of_grid"]
    assert 'id="search"' in html and f"{search['requests']} of the full grid's {search['full_grid_requests']} requests" in unescape(html)
    assert f"{100 * share:.3g}%" in html and "dropped in round 1" in html
    assert f"{len(search['dropped'])} cell(s) the adaptive search dropped on evidence were not candidates" in html


def test_a_grid_run_has_no_search_section(tmp_path):
    with PlantedServer(PLANTED) as server:
        run(server.url, tmp_path, "grid", "sweep.grid.temperature=[0.7,1.0]", "sweep.grid.top_p=[0.9]")
    page = build_report([tmp_path / "grid"])
    assert 'id="search"' not in page.read_text() and not (page.parent / "tables" / "search.csv").exists()


def test_one_search_per_job_under_multirun(tmp_path):
    """`hfsweep run -m`: each job (here two model ids on one server) runs its own search."""
    sweep_dir = tmp_path / "multi"
    with PlantedServer(PLANTED) as server:
        args = [a for a in overrides(server.url, tmp_path, "search=halving") if not a.startswith("model.id=")]
        done = run_cli(["run", "-m", *args, "model.id=a,b", f"hydra.sweep.dir={sweep_dir}", "report.enabled=false"],
                       timeout=600)
        assert done.returncode == 0, done.stderr
        searches = [json.loads((sweep_dir / job / "summary.json").read_text())["search"] for job in ("0", "1")]
        assert server.requests == sum(s["requests"] for s in searches)
    for job, search in zip(("0", "1"), searches):
        assert (sweep_dir / job / "search.jsonl").is_file()
        assert search["requests"] < search["full_grid_requests"] and params_of(sweep_dir, job, search["leader"]) == BEST


def test_each_look_samples_a_third_as_many_cells_as_the_one_before(tmp_path):
    """12 tied cells (every one passes at 0.6): none is dropped and few wait, yet after the first
    look each look samples at most 1/eta as many cells as the one before (eta 3: 12, 4, 3, 3)."""
    with PlantedServer(Planted(pass_prob=lambda p: 0.6)) as server:
        summary, log = run(server.url, tmp_path, "flat", "search=halving")
    rounds = [json.loads(line) for line in log.splitlines()]
    sampled = [sum(n > 0 for n in r["cell_requests"].values()) for r in rounds]
    most = widths(12, summary["search"]["looks"], 3)
    assert most == [12, 4, 3, 3] and len(rounds) == 4 and sampled[0] == 12
    assert all(0 < n <= w for n, w in zip(sampled[1:], most[1:])), sampled
    assert len(summary["search"]["alive"]) > 4  # the cells left out are not dropped: they stay candidates


def test_a_cut_round_serves_the_most_promising_cell_first(tmp_path):
    """Round 1 takes 2 prompts of the 12 cells (72 requests); a budget of 78 leaves round 2 six
    requests: the two new prompts of the cell with the best chance, not the first cells of the grid."""
    with PlantedServer(PLANTED) as server:
        summary, log = run(server.url, tmp_path, "cut", "search=halving", "search.budget.requests=78")
    first, second = [json.loads(line) for line in log.splitlines()][:2]
    assert first["requests"] == 72 and second["requests"] == 6 and summary["search"]["stopped"] == "budget"
    chance = first["chance"]
    favourite = max(chance, key=chance.get)
    assert chance[favourite] == 1.0 and sorted(chance.values())[-2] < 1.0  # the best cell of round 1, alone at the top
    assert {cell: n for cell, n in second["cell_requests"].items() if n} == {favourite: 6}


def test_a_waiting_cell_is_sampled_again_when_its_chance_of_beating_the_best_returns():
    prompts = [f"q{i}" for i in range(8)]
    state = SearchState("pass_rate", "max", [], prompts, ["A", "B"])
    lead = dict(zip(prompts[:4], [1.0, 2 / 3, 1.0, 1.0]))
    behind = dict(zip(prompts[:4], [1 / 3, 2 / 3, 1 / 3, 2 / 3]))  # behind on 4 prompts, not significantly at 0.05 / 48
    search.decide(state, {"pass_rate": {"A": lead, "B": behind}}, prompts[:4], 0.95, looks=2, cells=48, complexity={"A": 0, "B": 0})
    assert list(state.waiting) == ["B"] and state.alive == ["A", "B"] and not state.dropped  # behind, not shown worse
    assert "not sampled further, not shown worse" in state.waiting["B"]
    # A's next prompts fail: B's chance of beating it is back above 5%, so B is sampled again
    fallen = {**lead, **{p: 0.0 for p in prompts[4:]}}
    search.decide(state, {"pass_rate": {"A": fallen, "B": behind}}, prompts, 0.95, looks=2, cells=48, complexity={"A": 0, "B": 0})
    assert state.waiting == {}
