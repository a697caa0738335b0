"""sweep=node_claims: the node's sentences, checked. The design's cells, every verdict path on a
planted server (the node emulated on a server playing llama.cpp, and a TGI-style server), and the
sweep end to end on the real embedded llama-server."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hfsweep.core.node import BY_PARAM, OPTIONS
from hfsweep.pipeline import validate
from hfsweep.reports import build_report
from hfsweep.reports.node_claims import COLUMNS, PREDICTED, VERDICTS
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.plan import make_plan
from tests.servers.planted import Planted, PlantedServer
from tests.sweep_helpers import endpoint, sweep

N_PROMPTS = 12
PROPS = {"/props": {"default_generation_settings": {"n_ctx": 512, "params": {}}}}  # what llama-server's /props says


def _prompts(tmp_path: Path) -> str:
    path = tmp_path / "prompts.jsonl"
    lines = [{"id": f"q{i:02d}", "text": f"Question {i}: say the answer.", "checks": [{"type": "contains", "value": "ANSWER"}]}
             for i in range(N_PROMPTS)]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def _claims(run_dir: Path) -> pd.DataFrame:
    build_report([run_dir])
    table = pd.read_csv(run_dir / "report" / "tables" / "node_claims.csv")
    assert list(table.columns) == COLUMNS and table["option"].tolist() == [o.label for o in OPTIONS]
    assert table["claim"].tolist() == [o.sentence for o in OPTIONS] and table["verdict"].isin(VERDICTS).all()
    page = (run_dir / "report" / "index.html").read_text()
    assert "The node&#39;s options, checked" in page and "fall in pass_rate on the prompts with a known answer" in page
    return table.set_index("option")


def _planted_run(tmp_path: Path, planted: Planted, server: str = "llama.cpp", routes: dict | None = None, *extra: str) -> pd.DataFrame:
    with PlantedServer(planted, routes=PROPS if routes is None else routes) as srv:
        sweep(tmp_path / "run", [*endpoint(srv.url, server=server, mode="text", model_id="planted"), "sweep=node_claims",
                                 f"prompts.file={_prompts(tmp_path)}", "prompts.limit=null", "runner.timeout_s=30", "sampling.max_tokens=32",
                                 *extra])  # fmt: skip
    return _claims(tmp_path / "run")


def test_the_design_covers_each_option_over_its_ui_range():
    plan = make_plan(compose_config(["sweep=node_claims"])[0])
    swept: dict[str, set] = {}
    for cell in plan.cells:
        for name in cell.setting.options or ():
            swept.setdefault(name, set()).add(getattr(cell.setting.params, name))
            assert BY_PARAM[name].in_range(getattr(cell.setting.params, name)), cell.setting.name
    for param in ("frequency_penalty", "presence_penalty", "temperature", "top_p", "top_k"):
        values = swept[param]
        assert min(values) == (0.1 if param == "top_p" else BY_PARAM[param].low), param  # the low end (top_p 0: not an hfsweep value) ...
        assert max(values) == BY_PARAM[param].high, param  # ... and the high end of the UI
    assert {cell.setting.compat for cell in plan.cells} == {"", "none"}  # the node's way, and the plain way beside it
    lines = validate(["sweep=node_claims"])
    assert lines[-1].startswith("34 cells x 12 prompts x 2 samples = 816 requests (144 refused by TGI rules: answered without sending)")


def test_each_verdict_path_on_a_planted_server(tmp_path):
    """Planted: loops below repetition_penalty 1, log-probabilities falling with top_p; nothing on temperature."""
    planted = Planted(loops=lambda p: p["repeat_penalty"] < 1.0, logprob=lambda p: -3.0 * p["top_p"], words=40)  # 40 words: cut at 32
    claims = _planted_run(tmp_path, planted)
    verdicts = claims["verdict"].to_dict()
    assert verdicts == {
        "Model": "not testable here", "Custom Inference Endpoint": "not testable here",
        "Frequency Penalty": "reversed in part of the range", "Maximum Number of Tokens": "fails", "Presence Penalty": "not sent",
        "Sampling Temperature": "fails", "Top K": "refused by the server", "Top P": "holds",
    }  # fmt: skip
    assert "Frequency Penalty 0.1 vs Frequency Penalty not added: seq_rep_4 +" in claims.loc["Frequency Penalty", "evidence"]
    assert "made the model repeat itself" in claims.loc["Frequency Penalty", "advice"]
    assert "a TGI endpoint refuses top_p = 1.0: it must be < 1" in claims.loc["Top P", "evidence"]
    assert "Top K can only be 1 in the node's UI" in claims.loc["Top K", "advice"]
    assert "emulated on llama.cpp" in claims.loc["Custom Inference Endpoint", "evidence"]
    assert "counts tokens, not characters: at 32 this model wrote up to" in claims.loc["Maximum Number of Tokens", "advice"]


def _spread(p) -> int:  # diversity rising with the temperature over 0.1 .. 0.9; greedy (0) as diverse as 0.9
    t = p["temperature"] or 0.9
    return 2 + int(40 * t)


def _pass(p) -> float:  # known answers lost as the temperature rises
    t = p["temperature"] or 0.9
    return 1.0 - t


def test_temperature_holds_when_higher_is_more_diverse_and_riskier(tmp_path):
    claims = _planted_run(tmp_path, Planted(spread=_spread, pass_prob=_pass))
    assert claims.loc["Sampling Temperature", "verdict"] == "holds"
    assert claims.loc["Maximum Number of Tokens", "verdict"] == "not testable here"  # 12 words: no completion reaches a limit
    assert "pass_rate on known answers fell by" in claims.loc["Sampling Temperature", "advice"]


def test_temperature_1_is_greedy_so_the_claim_is_reversed(tmp_path):
    """Diversity planted on the temperature sent: the node's Temperature 1 goes out as greedy (0)."""
    claims = _planted_run(tmp_path, Planted(spread=lambda p: 2 + int(40 * p["temperature"])))
    assert claims.loc["Sampling Temperature", "verdict"] == "reversed in part of the range"
    assert "vs Sampling Temperature 1: distinct_2 +" in claims.loc["Sampling Temperature", "evidence"]


def test_a_presence_penalty_sent_as_named_shows_in_the_advice(tmp_path):
    claims = _planted_run(tmp_path, Planted(spread=lambda p: 4 + 10 * (p["presence_penalty"] or 0)))
    assert claims.loc["Presence Penalty", "verdict"] == "not sent"
    assert "sent as named (another client), presence_penalty 2 raised distinct_2 by" in claims.loc["Presence Penalty", "advice"]


def test_on_a_tgi_endpoint_the_server_refuses_and_the_url_is_used(tmp_path, tgi_server):
    sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi", mode="text"), "sweep=node_claims", "prompts.limit=3",
                             "runner.timeout_s=30"])  # fmt: skip
    claims = _claims(tmp_path / "run")
    assert claims.loc["Custom Inference Endpoint", "verdict"] == "holds"
    assert "measured at 1: `top_p` must be > 0.0 and < 1.0" in claims.loc["Top P", "evidence"]  # TGI's own 422
    assert claims.loc["Top K", "verdict"] == "refused by the server" and claims.loc["Presence Penalty", "verdict"] == "not sent"
    assert all(b["body"]["parameters"].get("presence_penalty") is None for b in tgi_server.requests)


def test_the_sweep_end_to_end_on_the_embedded_server(tmp_path, smollm2_endpoint):
    """The whole design on the real llama-server, smaller (6 prompts, 24 tokens): 8 rows, and the
    verdicts the mapping predicts that no sample size can change."""
    _, frame, summary = sweep(tmp_path / "run", [*smollm2_endpoint, "sweep=node_claims", "prompts.limit=6", "sampling.max_tokens=24",
                                                 "runner.timeout_s=120"])  # fmt: skip
    assert summary["cells"] == 34 and (frame["error"].isna() | (frame["error"] == "tgi_refused")).all()
    claims = _claims(tmp_path / "run")
    assert claims.loc["Presence Penalty", "verdict"] == "not sent" and claims.loc["Top K", "verdict"] == "refused by the server"
    assert claims.loc["Maximum Number of Tokens", "verdict"] == "fails" and claims.loc["Model", "verdict"] == "not testable here"


def _page(tmp_path: Path) -> str:
    return (tmp_path / "run" / "report" / "index.html").read_text()


def test_the_newer_clients_verdicts_on_a_planted_server(tmp_path):
    """compat=langchain_hf_4_13 emulated: TGI's /v1/completions samples at Temperature 1 (so the
    sentence holds over the whole range, 0 being greedy) and drops Top K; the page names the release."""
    planted = Planted(spread=lambda p: 2 + int(40 * p["temperature"]), pass_prob=lambda p: 1.0 - p["temperature"],
                      logprob=lambda p: -3.0 * p["top_p"])  # fmt: skip
    claims = _planted_run(tmp_path, planted, "llama.cpp", None, "compat=langchain_hf_4_13")
    assert claims.loc["Sampling Temperature", "verdict"] == "holds"
    assert "0 decodes greedily with this client" in claims.loc["Sampling Temperature", "advice"]
    assert claims.loc["Sampling Temperature", "evidence"].startswith("more diverse = distinct_2")  # no value refused on this route
    assert claims.loc["Top K", "verdict"] == "not sent"
    assert "the client sent top_k in 2 of 2 Top K cells" in claims.loc["Top K", "evidence"]
    assert "48 of 48 completions equal the no-option cell's" in claims.loc["Top K", "evidence"]
    assert claims.loc["Top P", "verdict"] == "holds" and "refuses top_p = 1.0" in claims.loc["Top P", "evidence"]
    assert "this client's route then samples at temperature 1" in claims.loc["Top P", "advice"]
    page = _page(tmp_path)
    assert "compat=langchain_hf_4_13, @n8n/n8n-nodes-langchain 2.41.1 with @huggingface/inference 4.13.30 in place of its pinned 4.0.5" in page
    assert "the client sends top_k and TGI&#39;s completions route drops it" in page  # the prediction for this client


def test_a_measurement_against_the_prediction_stands(tmp_path):
    """An endpoint that applies top_k on /v1/completions (planted: Top K 1 narrows the words): the
    measurement says Top K holds, against the prediction from TGI's source, and the page says they differ."""
    claims = _planted_run(tmp_path, Planted(spread=lambda p: 2 if p["top_k"] == 1 else 40), "tgi", {}, "compat=langchain_hf_4_13")
    assert claims.loc["Top K", "verdict"] == "holds"
    assert "the measurement shows Top K applied, against the route's source" in claims.loc["Top K", "evidence"]
    assert "Top K 1 vs Top K not added: distinct_2 -" in claims.loc["Top K", "evidence"]
    page = _page(tmp_path)
    differ = page.split("The measurement differs from what the node's mapping predicts for ")[1].split(":")[0]
    assert "Top K" in differ.split(", ")


def test_every_option_has_a_prediction():
    assert set(PREDICTED) == {o.label for o in OPTIONS} and all(verdict in VERDICTS for verdict, _ in PREDICTED.values())
