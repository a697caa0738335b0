"""Text mode: TGI's /generate through text_generation, and /v1/completions (fault server and the
real llama-server), with the parameters each route really receives."""

from __future__ import annotations

import pytest

from tests.servers.fault_server import Rule
from tests.sweep_helpers import endpoint, sweep

GRID = ["+sweep.grid.temperature=[0.0,0.7]", "+sweep.grid.top_k=[0,40]", "+sweep.grid.top_p=[0.9,1.0]"]


def test_tgi_generate_receives_tgis_own_parameters(tmp_path, tgi_server):
    _, frame, _ = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi", mode="text"), *GRID, "prompts.limit=2", "samples=1"])
    assert len(frame) == 16 and frame["error"].isna().all(), frame["error_message"].dropna().tolist()
    received = tgi_server.requests
    assert {r["path"] for r in received} <= {"/", "/generate"} and len(received) == 16
    prompts = set(frame["prompt"])
    for request in received:
        body, params = request["body"], request["body"]["parameters"]
        assert body["inputs"] in prompts  # the raw prompt, no chat template
        assert params["max_new_tokens"] == 8 and params["details"] is True and "seed" in params
        assert "presence_penalty" not in params and "frequency_penalty" not in params  # 0 = off = omitted
        if params["do_sample"]:
            assert params["temperature"] == 0.7
            assert params.get("top_k", 40) == 40 and params.get("top_p", 0.9) == 0.9  # top_k 0 / top_p 1: omitted
        else:  # greedy: nothing that would make TGI sample anyway
            assert not {"temperature", "top_k", "top_p"} & set(params), params
    sampled = [r["body"]["parameters"] for r in received if r["body"]["parameters"]["do_sample"]]
    assert sum("top_k" in p for p in sampled) == 4 and sum("top_p" in p for p in sampled) == 4
    # The four greedy cells sent the same request, so they give the same text for each prompt.
    greedy = frame[frame["temperature"] == 0]
    assert greedy.groupby("prompt_id")["text"].nunique().eq(1).all()
    assert frame[frame["temperature"] == 0.7].groupby("prompt_id")["text"].nunique().eq(4).all()
    assert frame["finish_reason"].notna().all() and frame["completion_tokens"].le(8).all()


def test_tgi_422_is_an_error_row_per_cell_not_a_crash(tmp_path, tgi_server):
    message = "Input validation error: `top_k` must be <= 20"
    tgi_server.configure(rules=[Rule(status=422, message=message, match={"parameters.top_k": 40})])
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi", mode="text"), *GRID, "prompts.limit=2", "samples=1"])
    rejected = frame[(frame["top_k"] == 40) & (frame["temperature"] > 0)]
    assert len(rejected) == 4 and (rejected["error"] == "http_422").all() and (rejected["retries"] == 0).all()
    assert rejected["error_message"].eq(message).all()
    assert frame.drop(rejected.index)["error"].isna().all()
    assert summary["errors"] == 4 and len(tgi_server.requests) == 16


def test_tgi_overload_and_incomplete_generation_are_retried(tmp_path, tgi_server):
    tgi_server.configure(fault_rate=0.3, faults=("rate_limit", "server_error", "drop", "malformed"), retry_after=0)
    result, frame, summary = sweep(tmp_path / "run", [*endpoint(tgi_server.url, server="tgi", mode="text"), "prompts.limit=10", "samples=2",
                                                      "runner.max_attempts=12"])  # fmt: skip
    faulted = sum(tgi_server.stats["faults"].values())
    assert faulted > 0 and len(frame) == 20 and frame["error"].isna().all(), frame["error_message"].dropna().tolist()
    assert frame["retries"].sum() == summary["retries"] == faulted


@pytest.mark.parametrize("server", ["openai", "llama.cpp"])
def test_v1_completions_against_the_fault_server(tmp_path, fault_server, server):
    fault_server.configure(fault_rate=0.3, faults=("rate_limit", "unavailable", "drop", "malformed"), retry_after=0)
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(fault_server.url, server=server, mode="text"), "prompts.limit=5", "samples=2",
                                                 "sampling.top_k=5", "runner.max_attempts=12"])  # fmt: skip
    assert len(frame) == 10 and frame["error"].isna().all(), frame["error_message"].dropna().tolist()
    assert frame["retries"].sum() == summary["retries"] == sum(fault_server.stats["faults"].values())
    received = fault_server.requests
    assert {r["path"] for r in received} == {"/v1/completions"}
    for request in received:
        body = request["body"]
        assert body["prompt"] in set(frame["prompt"]) and "messages" not in body
        assert body["model"] == "fault-server-model" and body["max_tokens"] == 8
        if server == "llama.cpp":  # honours top_k; neutral samplers switch off its own defaults
            assert body["top_k"] == 5 and body["min_p"] == 0.0 and body["repeat_penalty"] == 1.0
        else:  # not promised by a generic server, but sent because the user set it (vLLM honours it)
            assert body["top_k"] == 5 and "min_p" not in body


@pytest.mark.slow
def test_v1_completions_against_the_real_llama_server(tmp_path, smollm2_endpoint):
    continuations = tmp_path / "continuations.txt"  # text to continue, not questions (which a raw model may end at once)
    continuations.write_text("The capital of France is\nOnce upon a time, in a small village,\n")
    overrides = [*smollm2_endpoint, "model.mode=text", f"prompts.file={continuations}", "samples=2", "runner.timeout_s=60",
                 "runner.cache=false"]  # fmt: skip
    _, greedy, _ = sweep(tmp_path / "greedy", [*overrides, "sampling.temperature=0"])
    assert greedy["error"].isna().all(), greedy["error_message"].dropna().tolist()
    # a raw continuation (no chat template): SmolLM2 may stop at once (EOS, empty text), but it generated
    assert greedy["completion_tokens"].between(1, 8).all() and greedy["text"].str.len().gt(0).any()
    assert greedy["prompt_tokens"].ge(5).all()
    assert greedy.groupby("prompt_id")["text"].nunique().eq(1).all()  # greedy: the seed does not matter
    _, again, _ = sweep(tmp_path / "again", [*overrides, "sampling.temperature=0"])
    assert again["text"].tolist() == greedy["text"].tolist()
