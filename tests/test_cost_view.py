"""The dollar view: requests and tokens per cell and in total, their cost at the given prices,
and what the search and the greedy copies saved; ``search.budget.cost`` caps a search's cost.

The planted server reports 8 prompt tokens per request and one completion token per word, so
every request's cost is known in advance and each figure is checked against arithmetic."""

from __future__ import annotations

import json

import huggingface_hub.constants
import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.compose import compose_config
from tests.cli_helpers import run_cli
from tests.servers.planted import Planted, PlantedServer
from tests.sweep_helpers import sweep

PRICE_IN, PRICE_OUT = 2.0, 10.0
PRICES = [f"runner.price.input_per_mtok={PRICE_IN}", f"runner.price.output_per_mtok={PRICE_OUT}"]
PROMPTS, SAMPLES = 6, 3


def dollars(prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * PRICE_IN + completion_tokens * PRICE_OUT) / 1e6


def endpoint(url: str) -> list[str]:
    return ["model=endpoint", f"model.endpoint={url}", "model.id=planted", "model.server=llama.cpp", "runner.timeout_s=30",
            "runner.progress=false"]  # fmt: skip


def test_a_priced_run_prints_and_reports_requests_tokens_and_cost_per_cell(tmp_path):
    run_dir = tmp_path / "run"
    with PlantedServer(greedy_ignores_seed=True) as server:
        done = run_cli(["run", "--run-dir", str(run_dir), *endpoint(server.url), *PRICES, "sweep=single", "+sweep.grid.temperature=[0.0,1.0]",
                        f"prompts.limit={PROMPTS}", f"samples={SAMPLES}", "sampling.max_tokens=8", "evaluators=[chars,words]"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(run_dir / "completions.parquet")
    made, copies = frame[frame["copy_of"].isna()], frame[frame["copy_of"].notna()]
    assert len(made) == PROMPTS + 3 + PROMPTS * SAMPLES and len(copies) == PROMPTS * SAMPLES - PROMPTS - 3
    assert (frame["prompt_tokens"] == 8).all() and (frame["completion_tokens"] == 8).all()  # 12 words cut at max_tokens 8
    cost, saved = dollars(8 * len(made), 8 * len(made)), dollars(8 * len(copies), 8 * len(copies))
    usage = json.loads((run_dir / "summary.json").read_text())["usage"]
    assert usage["price"] == {"input_per_mtok": PRICE_IN, "output_per_mtok": PRICE_OUT}
    total = usage["total"]
    assert (total["requests"], total["sent"], total["copies"]) == (len(made), len(made), len(copies))
    assert total["prompt_tokens"] == total["completion_tokens"] == 8 * len(made)
    assert total["cost"] == pytest.approx(cost) and total["saved_by_copies"] == pytest.approx(saved)
    assert total["saved_by_search"] is None  # a grid: nothing left out
    greedy = next(c for c in usage["cells"] if c["setting"] == "temperature=0.0")
    assert (greedy["requests"], greedy["copies"], greedy["cost"]) == (PROMPTS + 3, len(copies), pytest.approx(dollars(72, 72)))

    out = done.stdout
    assert "requests and tokens per cell:" in out
    assert f"  temperature=0.0: 9 requests (+9 copies), 72 prompt + 72 completion tokens, ${dollars(72, 72):.4g}" in out
    assert f"  temperature=1.0: 18 requests, 144 prompt + 144 completion tokens, ${dollars(144, 144):.4g}" in out
    assert "total: 27 requests (+9 copies), 27 sent in this run, 216 prompt + 216 completion tokens" in out
    assert f"cost: ${cost:.4g} at $2 / $10 per million prompt / completion tokens; copies saved ${saved:.4g}" in out

    table = pd.read_csv(run_dir / "report" / "tables" / "usage.csv")
    assert {"requests", "copies", "prompt_tokens_paid", "completion_tokens_paid", "cost_usd", "saved_by_copies_usd"} <= set(table)
    assert table["cost_usd"].sum() == pytest.approx(cost) and table["copies"].sum() == len(copies)
    page = (run_dir / "report" / "index.html").read_text()
    assert "<dt>Cost</dt>" in page and f"copies saved ${saved:.4g}" in page


def prompts_file(tmp_path, n: int = 16) -> str:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i:02d}", "prompt": f"Question {i}?",
                                        "checks": [{"type": "contains", "value": "ANSWER"}]}) + "\n" for i in range(n)))  # fmt: skip
    return str(path)


# one clear best cell, so halving drops the others and leaves requests of the grid unmade
PLANTED = Planted(pass_prob=lambda p: 0.95 if (p["temperature"], p["top_p"]) == (0.7, 0.9) else 0.3)


def search(url: str, tmp_path, *extra: str) -> list[str]:
    return [*endpoint(url), *PRICES, f"prompts.file={prompts_file(tmp_path)}", "samples=3", "sampling.max_tokens=32",
            "+sweep.grid.temperature=[0.3,0.7,1.0,1.3]", "+sweep.grid.top_p=[0.5,0.9,1.0]", "search=halving",
            "evaluators=[check_pass,pass_rate]", *extra]  # fmt: skip


def test_the_cost_saved_by_the_search_is_the_full_grids_estimate_less_what_it_spent(tmp_path):
    per_request = dollars(8, 12)  # 12 words, under max_tokens 32
    with PlantedServer(PLANTED) as server:
        _, frame, summary = sweep(tmp_path / "run", search(server.url, tmp_path))
    full = 12 * 16 * 3
    assert summary["search"]["requests"] == len(frame) < full
    total = summary["usage"]["total"]
    assert total["cost"] == pytest.approx(len(frame) * per_request) == pytest.approx(summary["search"]["cost"])
    assert total["full_grid_cost"] == pytest.approx(full * per_request)  # every request costs the same: the estimate is exact
    assert total["saved_by_search"] == pytest.approx((full - len(frame)) * per_request)


@pytest.mark.parametrize("budget", [0.004, 0.012])  # below the 0.0163 the search spends unbudgeted
def test_a_cost_budget_is_never_exceeded(tmp_path, budget, capsys):
    """Before any prompt's tokens are known (round 1), a request is bounded by its bytes plus 64
    template tokens; once some are known, by its bytes plus the fewest seen, so a larger budget
    reaches later rounds and spends most of itself."""
    with PlantedServer(PLANTED) as server:
        assert main(["validate", "sweep=single", *search(server.url, tmp_path, f"search.budget.cost={budget}")]) == 0
        assert f"budget: ${budget:g} at runner.price" in capsys.readouterr().out
        result, frame, summary = sweep(tmp_path / "run", search(server.url, tmp_path, f"search.budget.cost={budget}"))
    assert summary["search"]["stopped"] == "budget" and 0 < summary["search"]["cost"] <= budget
    assert summary["usage"]["total"]["cost"] == pytest.approx(summary["search"]["cost"]) == pytest.approx(len(frame) * dollars(8, 12))
    assert len(frame) == summary["search"]["requests"] == result.requests
    if budget > 0.008:
        assert summary["search"]["rounds"] >= 2 and summary["search"]["cost"] > budget / 2


@pytest.mark.parametrize(("extra", "message"), [
    (["search.budget.cost=1"], "search.budget.cost = 1.0 needs the target's prices: set runner.price.input_per_mtok and runner.price.output_per_mtok"),
    (["runner.price.input_per_mtok=1"], "runner.price.input_per_mtok is set but runner.price.output_per_mtok is not: set both"),
    (["runner.price.output_per_mtok=-1", "runner.price.input_per_mtok=1"], "runner.price.output_per_mtok = -1.0 is out of range"),
])  # fmt: skip
def test_prices_and_a_cost_budget_are_checked(extra, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compose_config(["search=halving", "objective.metric=distinct_2", *extra])


def test_model_hf_shows_requests_and_tokens_per_cell_and_the_cost(tmp_path, monkeypatch, capsys):
    """model=hf through the Hugging Face router, here the planted server: the router's address
    and the Hub's (for the provider's model mapping) are huggingface_hub's own constants."""
    mapping = {"together": {"status": "live", "providerId": "org/name-served", "task": "conversational"}}
    with PlantedServer(greedy_ignores_seed=True, routes={"/api/models/org/name": {"id": "org/name", "inferenceProviderMapping": mapping}}) as server:
        monkeypatch.setattr(huggingface_hub.constants, "INFERENCE_PROXY_TEMPLATE", server.url + "/{provider}")
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", "hf_fakeToken")
        overrides = ["model=hf", "model.id=org/name", "model.provider=together", "runner.progress=false", "sweep=single",
                     "+sweep.grid.temperature=[0.0,1.0]", "prompts.limit=4", "samples=2", "sampling.max_tokens=8",
                     "evaluators=[chars]", "report.enabled=false"]  # fmt: skip
        assert main(["run", "--run-dir", str(tmp_path / "free"), *overrides]) == 0
        out = capsys.readouterr().out
        assert server.requests == 4 + 3 + 4 * 2  # greedy: sample 0 of 4 prompts and 3 check pairs
        assert "requests and tokens per cell:" in out and "  temperature=0.0: 7 requests (+1 copies), 56 prompt + 56 completion tokens\n" in out
        assert "total: 15 requests (+1 copies), 15 sent in this run, 120 prompt + 120 completion tokens" in out and "cost:" not in out
        assert main(["run", "--run-dir", str(tmp_path / "priced"), *overrides, *PRICES]) == 0  # the same requests, from the cache
        out = capsys.readouterr().out
        assert "total: 15 requests (+1 copies), 0 sent in this run" in out
        assert f"cost: ${dollars(120, 120):.4g} at $2 / $10 per million" in out and f"copies saved ${dollars(8, 8):.4g}" in out
