"""compat=langchain_hf sends exactly what the workflow node sends through LangChain to a TGI
endpoint, and emulates it on llama.cpp; a value TGI refuses becomes an error row of its cell.
compat=langchain_hf_4_13 does the same with the newer client, through TGI's /v1/completions.
(tests/test_node_clients.py compares both with the real JS clients.)"""

from __future__ import annotations

import json
import urllib.request

import pytest

from hfsweep.cli import main
from hfsweep.core.errors import ConfigError
from hfsweep.core.node import BY_PARAM, node_value_refusal, tgi_refusal, tgi_samples
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.plan import make_plan
from tests.servers.tgi_server import tgi_completions_parameters, tgi_validation_error
from tests.sweep_helpers import endpoint, sweep

NODE = ["compat=langchain_hf", "+sweep.grid.top_p=[0.9,1.0]", "+sweep.grid.frequency_penalty=[0.0,1.2]", "prompts.limit=2", "samples=2"]


def test_node_mapping_reaches_tgi_and_refusals_are_per_cell(tmp_path, tgi_server):
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi"), *NODE])
    assert len(frame) == 4 * 2 * 2
    accepted = (frame["top_p"] == 0.9) & (frame["frequency_penalty"] == 1.2)
    assert frame[accepted]["error"].isna().all()
    refused = frame[~accepted]
    assert (refused["error"] == "http_422").all() and (refused["retries"] == 0).all()
    assert refused[refused["frequency_penalty"] == 0.0]["error_message"].str.contains("repetition_penalty").all()  # the router's order
    assert refused[refused["frequency_penalty"] == 1.2]["error_message"].str.contains("top_p").all()
    assert summary["errors"] == 12

    bodies = [r["body"] for r in tgi_server.requests]
    assert len(bodies) == 16 and all(set(b) == {"inputs", "parameters"} for b in bodies)
    for body in bodies:
        params = body["parameters"]
        # the options the grid names (top_p, frequency penalty), the token limit, nothing else of the node's
        assert set(params) == {"return_full_text", "max_new_tokens", "top_p", "repetition_penalty", "details"}
        assert params["return_full_text"] is False and params["max_new_tokens"] == 8
    penalties = sorted({b["parameters"]["repetition_penalty"] for b in bodies})
    assert penalties == [0.0, 1.2]  # the frequency penalty goes out as repetition_penalty, 0 included (which TGI refuses)


def test_an_option_a_setting_does_not_name_is_not_sent(tmp_path, tgi_server):
    presets = ["+sweep.presets.base={}", "+sweep.presets.fp={frequency_penalty:1.5}", "+sweep.presets.pp={presence_penalty:2.0}"]
    _, frame, _ = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi"), "compat=langchain_hf", "prompts.limit=1", "samples=1",
                                           "runner.allow_ignored=true", *presets])  # fmt: skip
    assert frame["error"].isna().all()
    sent = {r["body"]["parameters"].get("repetition_penalty"): r["body"]["parameters"] for r in tgi_server.requests}
    assert sent[None] == {"return_full_text": False, "max_new_tokens": 8, "details": True}  # base and presence penalty: the same body
    assert sent[1.5] == {"return_full_text": False, "max_new_tokens": 8, "repetition_penalty": 1.5, "details": True}
    assert len(tgi_server.requests) == 3


def test_node_defaults_are_the_nodes():
    config, _ = compose_config(["compat=langchain_hf", "model=endpoint", "model.endpoint=http://127.0.0.1:1", "model.server=tgi"])
    assert (config.sampling.max_tokens, config.sampling.temperature, config.sampling.top_p) == (128, 1.0, 1.0)
    assert config.model.mode == "text"


def test_presence_penalty_is_dropped_so_sweeping_it_is_refused(capsys):
    overrides = ["compat=langchain_hf", "model=endpoint", "model.endpoint=http://127.0.0.1:1", "model.server=tgi"]
    assert main(["validate", *overrides, "+sweep.grid.presence_penalty=[0,1]", "~sweep.grid.temperature", "~sweep.grid.top_p"]) == 2
    assert "sweeps presence_penalty, which the workflow node (@n8n/n8n-nodes-langchain 2.41.1 with its pinned @huggingface/inference 4.0.5) through LangChain" in capsys.readouterr().err


@pytest.mark.parametrize("server", ["vllm", "ollama", "openai", "llama-cpp-python"])
def test_a_server_it_can_neither_reach_nor_emulate_is_refused(capsys, server):
    assert main(["validate", "compat=langchain_hf", "model=endpoint", "model.endpoint=http://127.0.0.1:1", f"model.server={server}"]) == 2
    assert (f"compat = 'langchain_hf' cannot be sent to model.server = '{server}' as the workflow node does, nor emulated on it "
            "exactly: accepted model.server=llama.cpp or tgi, the embedded model (llama.cpp), or model=hf") in capsys.readouterr().err


def test_the_embedded_default_is_emulated_and_says_so():
    plan = make_plan(compose_config(["compat=langchain_hf", "prompts.limit=1"])[0])
    assert "emulated on llama.cpp" in plan.capability.name
    assert any(w.startswith("compat=langchain_hf is emulated on llama.cpp, not sent to a TGI endpoint") for w in plan.warnings)


# --- TGI's rules (hfsweep.core.node, cited from router/src/validation.rs) ------------------------


def test_the_rules_refuse_what_tgis_router_refuses():
    """Every value of the node's UI, through hfsweep's rules and through the test TGI server (which
    follows router/src/validation.rs line by line): refused by both or by neither."""
    for param in ("temperature", "top_p", "frequency_penalty"):
        field = {"frequency_penalty": "repetition_penalty"}.get(param, param)
        for value in BY_PARAM[param].ui_values():
            assert (node_value_refusal(param, value) is None) == (tgi_validation_error({field: value}) is None), (param, value)
    for value in (0, 1, 2, 40):
        assert (tgi_refusal("top_k", value) is None) == (tgi_validation_error({"top_k": value}) is None)


def test_the_refusals_say_which_value_and_which_rule():
    assert tgi_refusal("top_p", 1.0).startswith("a TGI endpoint refuses top_p = 1.0: it must be < 1")
    assert tgi_refusal("top_p", 0.0).startswith("a TGI endpoint refuses top_p = 0.0: it must be > 0")
    assert tgi_refusal("temperature", 0.0).startswith("a TGI endpoint refuses temperature = 0.0: it must be > 0")
    assert tgi_refusal("top_k", 0).startswith("a TGI endpoint refuses top_k = 0: it must be > 0")
    assert tgi_refusal("top_k", 0.3).startswith("a TGI endpoint refuses top_k = 0.3: it must be an integer")
    assert "`repetition_penalty` must be strictly positive" in node_value_refusal("frequency_penalty", -0.5)
    assert node_value_refusal("presence_penalty", -2.0) is None  # never sent, so never refused
    assert [v for v in BY_PARAM["top_p"].ui_values() if node_value_refusal("top_p", v)] == [0.0, 1.0]
    assert next(v for v in BY_PARAM["frequency_penalty"].ui_values() if not node_value_refusal("frequency_penalty", v)) == 0.1


def test_tgi_samples_only_when_a_sampler_is_set():
    assert not tgi_samples({"return_full_text": False, "max_new_tokens": 5})
    assert not tgi_samples({"temperature": 1.0, "repetition_penalty": 1.3})  # the node's default temperature: greedy
    assert tgi_samples({"temperature": 0.9}) and tgi_samples({"top_k": 1}) and tgi_samples({"top_p": 0.5})


# --- the emulation on llama.cpp, against the real embedded server --------------------------------


def _sent(frame) -> list[dict]:
    return [json.loads(body) for body in frame["request_params"]]


def _llama(smollm2_endpoint, *extra):
    return [*smollm2_endpoint, "model.mode=text", "compat=langchain_hf", "prompts.limit=3", "sampling.max_tokens=24", "runner.timeout_s=120", *extra]


def test_the_node_is_translated_onto_llama_cpp(tmp_path, smollm2_server, smollm2_endpoint):
    presets = ["+sweep.presets.base={}", "+sweep.presets.fp={frequency_penalty:1.5}", "+sweep.presets.fp0={frequency_penalty:0.0}",
               "+sweep.presets.t={temperature:0.7}", "+sweep.presets.k={top_k:1}", "+sweep.presets.p={top_p:1.0}"]
    _, frame, summary = sweep(tmp_path / "run", [*_llama(smollm2_endpoint), "samples=2", *presets])
    by = {name: group for name, group in frame.groupby("setting_name")}
    for name in ("fp0", "p"):  # refused before sending: an error row that says why
        assert (by[name]["error"] == "tgi_refused").all() and all(b["sent"] is None for b in _sent(by[name]))
    assert by["p"]["error_message"].iloc[0].startswith("a TGI endpoint refuses top_p = 1.0: it must be < 1")
    assert by["fp0"]["error_message"].iloc[0].startswith("a TGI endpoint refuses repetition_penalty = 0.0")
    with urllib.request.urlopen(f"{smollm2_server.url}/props") as answer:
        context = json.load(answer)["default_generation_settings"]["n_ctx"]
    fp = _sent(by["fp"])[0]
    assert fp["node"] == {"return_full_text": False, "max_new_tokens": 24, "repetition_penalty": 1.5}
    assert (fp["sent"]["repeat_penalty"], fp["sent"]["repeat_last_n"], fp["sent"]["temperature"]) == (1.5, context, 0.0)
    assert fp["sent"]["samplers"] == ["penalties", "temperature", "top_k", "top_p"] and fp["sent"]["min_p"] == 0.0
    assert _sent(by["t"])[0]["sent"]["temperature"] == 0.7
    assert frame[frame["setting_name"].isin(["base", "fp", "t", "k"])]["error"].isna().all()
    assert summary["errors"] == 2 * 3 * 2


def test_the_emulation_decodes_as_tgi_does(tmp_path, smollm2_endpoint):
    """TGI decodes greedily unless a sampler is set (the node's Temperature 1 and Top K 1 are greedy),
    and repetition_penalty 1 is no penalty."""
    presets = ["+sweep.presets.base={}", "+sweep.presets.t1={temperature:1.0}", "+sweep.presets.k1={top_k:1}",
               "+sweep.presets.rp1={frequency_penalty:1.0}", "+sweep.presets.t9={temperature:0.9}",
               "+sweep.presets.rp05={frequency_penalty:0.5}"]  # fmt: skip
    _, frame, _ = sweep(tmp_path / "run", [*_llama(smollm2_endpoint, "prompts.limit=6"), "samples=2", *presets])
    texts = {name: group.sort_values(["prompt_id", "sample_index"])["text"].tolist() for name, group in frame.groupby("setting_name")}
    assert texts["base"] == texts["t1"] == texts["k1"] == texts["rp1"]
    assert texts["base"][0::2] == texts["base"][1::2]  # two seeds, one text: greedy
    assert texts["t9"][0::2] != texts["t9"][1::2]  # a sampler set: sampling
    assert sum(map(len, texts["rp05"])) > 2 * sum(map(len, texts["base"]))  # below 1 the penalty favours repeating the context


def test_plain_presets_go_the_plain_way_beside_the_nodes(tmp_path, smollm2_endpoint):
    presets = ["+sweep.presets.node_pp={presence_penalty:1.5}", "+sweep.presets.plain_pp={presence_penalty:1.5,compat:none}"]
    _, frame, _ = sweep(tmp_path / "run", [*_llama(smollm2_endpoint), "samples=1", "runner.allow_ignored=true", *presets])
    bodies = {name: _sent(group)[0] for name, group in frame.groupby("setting_name")}
    assert "presence_penalty" not in bodies["node_pp"]["node"] and bodies["node_pp"]["sent"]["presence_penalty"] == 0.0
    assert bodies["plain_pp"]["presence_penalty"] == 1.5 and "node" not in bodies["plain_pp"]  # hfsweep's own mapping
    assert frame["cell_id"].nunique() == 2 and frame["error"].isna().all()


def test_a_preset_compat_is_checked():
    with pytest.raises(ConfigError, match="sweep.presets.x.compat = 'langchian' is not accepted: choose one of none, langchain_hf"):
        make_plan(compose_config(["+sweep.presets.x={compat:langchian}"])[0])


# --- compat=langchain_hf_4_13: the newer client, through TGI's /v1/completions -------------------

NEWER = "compat=langchain_hf_4_13"


def test_the_completions_rules_are_tgis():
    """Every value of the node's UI, through hfsweep's rules for the completions route and through
    the test TGI server's reading of router/src/server.rs: refused by both or by neither."""
    for param in ("temperature", "top_p", "frequency_penalty", "top_k"):
        field = {"frequency_penalty": "repetition_penalty"}.get(param, param)
        for value in BY_PARAM[param].ui_values():
            expected = tgi_validation_error(tgi_completions_parameters({field: value})) is None
            assert (node_value_refusal(param, value, "completions") is None) == expected, (param, value)
    assert node_value_refusal("temperature", 0.0, "completions") is None and node_value_refusal("top_k", 0.5, "completions") is None
    assert node_value_refusal("top_p", 1.0, "completions").startswith("a TGI endpoint refuses top_p = 1.0")


def test_the_newer_client_reaches_tgis_completions_route(tmp_path, tgi_server):
    presets = ["+sweep.presets.base={}", "+sweep.presets.t0={temperature:0.0}", "+sweep.presets.p1={top_p:1.0}",
               "+sweep.presets.k={top_k:1}", "+sweep.presets.fp={frequency_penalty:1.2}"]  # fmt: skip
    _, frame, _ = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi", mode="text"), NEWER, "prompts.limit=2", "samples=1",
                                           "runner.allow_ignored=true", *presets])  # fmt: skip
    by = {name: group for name, group in frame.groupby("setting_name")}
    assert (by["p1"]["error"] == "http_422").all() and by["p1"]["error_message"].str.contains("top_p").all()
    assert frame[frame["setting_name"] != "p1"]["error"].isna().all()  # temperature 0 is greedy there, top_k is dropped
    assert {r["path"] for r in tgi_server.requests} == {"/v1/completions"} and len(tgi_server.requests) == 10
    bodies = [r["body"] for r in tgi_server.requests]
    assert all(b["model"] == "fault-server-model" and b["max_tokens"] == 8 and b["return_full_text"] is False for b in bodies)
    assert sorted(b.get("top_k", 0) for b in bodies) == [0] * 8 + [1, 1]  # sent, though TGI's route drops it
    assert sorted(b["repetition_penalty"] for b in bodies if "repetition_penalty" in b) == [1.2, 1.2]


def test_the_newer_client_is_emulated_as_tgis_completions_route(tmp_path, smollm2_endpoint):
    """On /v1/completions TGI samples unless temperature is 0 and drops top_k: with no option the
    samples differ, at Temperature 0 they are one text, and Top K 1 changes nothing."""
    presets = ["+sweep.presets.base={}", "+sweep.presets.t0={temperature:0.0}", "+sweep.presets.k1={top_k:1}",
               "+sweep.presets.p1={top_p:1.0}"]  # fmt: skip
    overrides = [*smollm2_endpoint, "model.mode=text", NEWER, "prompts.limit=4", "sampling.max_tokens=24", "runner.timeout_s=120",
                 "runner.allow_ignored=true", "samples=2", *presets]  # fmt: skip
    _, frame, _ = sweep(tmp_path / "run", overrides)
    texts = {name: group.sort_values(["prompt_id", "sample_index"])["text"].tolist() for name, group in frame.groupby("setting_name")}
    assert texts["base"][0::2] != texts["base"][1::2]  # sampling at temperature 1
    assert texts["t0"][0::2] == texts["t0"][1::2]  # greedy
    assert texts["k1"] == texts["base"]  # top_k dropped: the same request to llama.cpp
    refused = frame[frame["setting_name"] == "p1"]
    assert (refused["error"] == "tgi_refused").all() and refused["error_message"].iloc[0].startswith("a TGI endpoint refuses top_p = 1.0")
    k1 = _sent(frame[frame["setting_name"] == "k1"])[0]
    assert k1["node"] == {"max_tokens": 24, "return_full_text": False, "top_k": 1} and k1["sent"]["top_k"] == 0
    assert k1["sent"]["temperature"] == 1.0


def test_validate_counts_the_newer_clients_refusals(capsys):
    assert main(["validate", "sweep=node_claims", NEWER]) == 0
    out = capsys.readouterr().out
    assert "816 requests (96 refused by TGI rules: answered without sending)" in out  # Frequency Penalty <= 0 and Top P 1
    assert "compat=langchain_hf_4_13 is emulated on llama.cpp" in out


def test_the_newer_client_does_not_reach_the_hub_router(capsys):
    assert main(["validate", NEWER, "model=hf", "model.id=a/b"]) == 2
    assert "compat = 'langchain_hf_4_13' cannot be sent to model.server = 'hf_router'" in capsys.readouterr().err
