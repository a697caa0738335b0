"""Custom endpoints without hidden defaults: the server kind is detected from its discovery
routes, its capability entry sends the neutral values that switch its own samplers off, and
an unidentified server is measured (validate warns, probe names the hidden defaults)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.sweeps.detect import detect
from tests.servers.kinds import KINDS, LLAMA_CPP_PYTHON_DEFAULTS
from tests.servers.planted import PlantedServer
from tests.sweep_helpers import SCORE_LIGHT, sweep


@pytest.mark.parametrize("kind,version", [("tgi", "3.3.4"), ("ollama", "0.12.3"), ("vllm", "0.11.0"), ("llama-cpp-python", "0.3.36")])
def test_each_kind_is_detected_from_its_route(kind, version):
    with PlantedServer(routes=KINDS[kind]) as server:
        info = detect(server.url)
    assert (info.kind, info.version) == (kind, version)


def test_llama_cpp_python_defaults_come_from_its_request_schema():
    with PlantedServer(routes=KINDS["llama-cpp-python"]) as server:
        defaults = detect(server.url).defaults
    assert defaults == {"temperature": 0.8, "top_p": 0.95, "min_p": 0.05, "top_k": 40, "repeat_penalty": 1.1,
                        "presence_penalty": 0.0, "frequency_penalty": 0.0, "mirostat_mode": 0}  # fmt: skip


def test_an_unknown_server_is_unknown():
    with PlantedServer() as server:
        assert detect(server.url).kind == "unknown"


def test_the_real_llama_server_shows_its_defaults_and_template(smollm2_server):
    info = detect(smollm2_server.url)
    assert info.kind == "llama.cpp"
    assert info.defaults["top_k"] == 40 and 0 < info.defaults["min_p"] <= 0.1  # what a request that omits them gets
    assert info.chat_template and "im_start" in info.chat_template


def test_decoding_against_llama_cpp_python_like_server_has_no_identical_cells(tmp_path):
    """As measured on llama-cpp-python's own server: with model.server=openai (nothing neutral
    sent) pure sampling and top-k 40 were identical; detected, they differ."""
    common = [*SCORE_LIGHT, "sweep=decoding", "model.mode=chat", "prompts.limit=4", "samples=1", "runner.allow_ignored=true"]
    with PlantedServer(routes=KINDS["llama-cpp-python"], hidden=LLAMA_CPP_PYTHON_DEFAULTS) as server:
        target = ["model=endpoint", f"model.endpoint={server.url}", "model.id=smollm2"]
        _, frame, summary = sweep(tmp_path / "auto", [*target, *common])
        _, blind, _ = sweep(tmp_path / "blind", [*target, "model.server=openai", *common])
    texts = lambda f, name: f[f["setting_name"] == name].sort_values("prompt_id")["text"].tolist()  # noqa: E731
    assert texts(blind, "pure") == texts(blind, "top_k_40")  # the server's top_k 40 applied to "pure"
    assert texts(frame, "pure") != texts(frame, "top_k_40")
    assert summary["server"]["kind"] == "llama-cpp-python" and summary["capability"] == "llama-cpp-python server"
    assert summary["server"]["defaults"]["top_k"] == 40 and summary["server"]["defaults"]["repeat_penalty"] == 1.1
    sent = json.loads(frame["request_params"].iloc[0])["extra_body"]
    assert sent["min_p"] == 0.0 and sent["repeat_penalty"] == 1.0 and "top_k" in sent


def test_unknown_server_with_a_hidden_top_k_is_warned_and_probed(capsys):
    with PlantedServer(hidden={"top_k": 40}) as server:
        target = ["model=endpoint", f"model.endpoint={server.url}", "model.id=x", "prompts.limit=2"]
        assert main(["validate", *target]) == 0
        out = capsys.readouterr().out
        assert "server: not identified" in out and "may apply sampler defaults of its own" in out
        assert main(["probe", *target]) == 0
        out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "default" in line}
    assert "applies a default of its own" in lines["top_k"]
    assert "no default applied" in lines["min_p"] and "no default applied" in lines["repeat_penalty"]


def test_a_run_against_an_unknown_server_records_the_probe(tmp_path):
    with PlantedServer(hidden={"top_k": 40, "min_p": 0.05}) as server:
        _, _, summary = sweep(tmp_path / "run", ["model=endpoint", f"model.endpoint={server.url}", "model.id=x",
                                                 "prompts.limit=2", "samples=1"])  # fmt: skip
        requests = server.requests
        sweep(tmp_path / "again", ["model=endpoint", f"model.endpoint={server.url}", "model.id=x", "prompts.limit=2", "samples=1"])
        assert server.requests == requests  # the probe's findings and the completions both come back from the cache
    assert summary["server"]["kind"] == "unknown"
    warning = next(w for w in summary["warnings"] if "not identified" in w)
    assert "top_k, min_p" in warning


def test_chat_on_a_gguf_without_a_template_is_warned(capsys):
    assert main(["validate", "model=gemma3", "model.mode=chat", "prompts.limit=1"]) == 0
    assert "ships no chat template" in capsys.readouterr().out
    assert main(["validate", "model=gemma3", "prompts.limit=1"]) == 0  # text mode by default: no warning
    assert "ships no chat template" not in capsys.readouterr().out


def test_template_tokens_in_outputs_are_counted():
    from hfsweep.reports.run_facts import errors_table

    comp = pd.DataFrame({"cell_id": ["a", "a", "b"], "text": ["<|im_start|>user hi", "fine", "ok"], "error": [None] * 3,
                         "finish_reason": ["stop"] * 3, "error_message": [None] * 3})  # fmt: skip
    cells = pd.DataFrame({"cell_id": ["a", "b"], "target": ["m", "m"], "setting": ["x", "y"]})
    table = errors_table(comp, cells).set_index("cell_id")
    assert table.loc["a", "template_tokens_rate"] == 0.5 and table.loc["b", "template_tokens_rate"] == 0
