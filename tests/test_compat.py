"""compat=langchain_hf sends exactly what the workflow node sends through LangChain, and a
value the server refuses becomes an error row of its cell, not a crash."""

from __future__ import annotations

from hfsweep.cli import main
from tests.sweep_helpers import endpoint, sweep

NODE = ["compat=langchain_hf", "+sweep.grid.top_p=[0.9,1.0]", "+sweep.grid.frequency_penalty=[0.0,1.2]", "prompts.limit=2", "samples=2"]


def test_node_mapping_reaches_tgi_and_refusals_are_per_cell(tmp_path, tgi_server):
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi"), *NODE])
    assert len(frame) == 4 * 2 * 2
    refused = frame[frame["top_p"] == 1.0]
    assert (refused["error"] == "http_422").all() and (refused["retries"] == 0).all()
    assert refused["error_message"].str.contains("top_p").all()
    assert frame[frame["top_p"] == 0.9]["error"].isna().all()
    assert summary["errors"] == 8

    bodies = [r["body"] for r in tgi_server.requests]
    assert len(bodies) == 16 and all(set(b) == {"inputs", "parameters"} for b in bodies)
    for body in bodies:
        params = body["parameters"]
        assert params["return_full_text"] is False and params["max_new_tokens"] == 8 and params["temperature"] == 1.0
        assert "seed" not in params and "presence_penalty" not in params and "frequency_penalty" not in params
        assert "top_k" not in params  # top_k 0 = the node option is not set
    penalties = sorted({b["parameters"].get("repetition_penalty") for b in bodies}, key=str)
    assert penalties == [1.2, None]  # frequency penalty 1.2 goes out as repetition_penalty 1.2; 0 = not sent


def test_node_defaults_are_the_nodes():
    from hfsweep.sweeps.compose import compose_config

    config, _ = compose_config(["compat=langchain_hf", "model=endpoint", "model.endpoint=http://127.0.0.1:1", "model.server=tgi"])
    assert (config.sampling.max_tokens, config.sampling.temperature, config.sampling.top_p) == (128, 1.0, 1.0)
    assert config.model.mode == "text"


def test_presence_penalty_is_dropped_so_sweeping_it_is_refused(capsys):
    overrides = ["compat=langchain_hf", "model=endpoint", "model.endpoint=http://127.0.0.1:1", "model.server=tgi"]
    assert main(["validate", *overrides, "+sweep.grid.presence_penalty=[0,1]", "~sweep.grid.temperature", "~sweep.grid.top_p"]) == 2
    assert "sweeps presence_penalty, which the workflow node through LangChain (TGI text route) ignores" in capsys.readouterr().err


def test_compat_needs_a_tgi_style_target(capsys):
    assert main(["validate", "compat=langchain_hf"]) == 2
    assert "compat = 'langchain_hf' sends TGI's text route" in capsys.readouterr().err
