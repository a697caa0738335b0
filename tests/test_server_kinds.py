"""The registry of server kinds (sweeps/servers.py): each kind is one entry, and detection, the
config, the capabilities and the backends all read it."""

from __future__ import annotations

import asyncio

import pytest

from hfsweep.cli import main
from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.backends import ChatBackend, OpenAITextBackend, TGITextBackend
from hfsweep.sweeps.capabilities import capability_for
from hfsweep.sweeps.config import COMPATS, SERVER_KINDS, ModelTarget
from hfsweep.sweeps.detect import detect
from hfsweep.sweeps.dispatch import BACKENDS, make_backend
from hfsweep.sweeps.node_backends import (
    LangChainHFBackend,
    LangChainHFCompletionsBackend,
    LangChainHFCompletionsOnLlamaCppBackend,
    LangChainHFOnLlamaCppBackend,
)
from hfsweep.sweeps.servers import DETECTION_ORDER, KINDS, SERVER_OPTIONS, ServerKind, register
from tests.servers.kinds import KINDS as ANSWERS
from tests.servers.planted import PlantedServer

ROUTES = ["/props", "/info", "/api/version", "/version", "/openapi.json"]
LLAMA_SERVER = {"/props": {"default_generation_settings": {"params": {"top_k": 40, "seed": 7}}, "build_info": "b6000",
                           "chat_template": "{{ messages }}"}}  # fmt: skip


@pytest.mark.parametrize("kind,asked", [("unknown", ROUTES), ("llama.cpp", ROUTES[:1]), ("tgi", ROUTES[:2]),
                                        ("ollama", ROUTES[:3]), ("vllm", ROUTES[:4]), ("llama-cpp-python", ROUTES)])  # fmt: skip
def test_detection_asks_at_most_five_routes_in_the_same_order(kind, asked):
    with PlantedServer(routes={**ANSWERS, "llama.cpp": LLAMA_SERVER}.get(kind, {})) as server:
        info = detect(server.url + "/v1")  # an OpenAI base URL: the routes sit beside /v1
    assert info.kind == kind
    assert server.gets == asked


def test_llama_server_props_give_version_defaults_and_template():
    with PlantedServer(routes=LLAMA_SERVER) as server:
        info = detect(server.url)
    assert info.as_dict() == {"kind": "llama.cpp", "version": "b6000", "defaults": {"top_k": 40}, "chat_template": "{{ messages }}"}


def test_every_kind_with_a_probe_is_in_the_detection_order_once():
    probed = [name for name, kind in KINDS.items() if kind.probe is not None]
    assert sorted(DETECTION_ORDER) == sorted(probed) and len(set(DETECTION_ORDER)) == len(DETECTION_ORDER)
    assert DETECTION_ORDER == ("llama.cpp", "tgi", "ollama", "vllm", "llama-cpp-python")


def test_every_kind_names_backends_that_exist():
    for kind in KINDS.values():
        assert kind.chat_backend in BACKENDS, kind.name
        assert kind.text_refused or kind.text_backend in BACKENDS, kind.name


def test_the_config_accepts_the_registered_kinds(capsys):
    assert SERVER_KINDS == ("auto", *SERVER_OPTIONS) == ("auto", "llama.cpp", "tgi", "vllm", "ollama", "llama-cpp-python", "openai")
    assert COMPATS == ("none", "langchain_hf", "langchain_hf_4_13")
    assert main(["validate", "model=endpoint", "model.endpoint=http://127.0.0.1:9", "model.server=sglang"]) == 2
    assert ("model.server = 'sglang' is not accepted: choose one of auto, llama.cpp, tgi, vllm, ollama, llama-cpp-python, openai"
            in capsys.readouterr().err)  # fmt: skip


def test_a_kind_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        register(ServerKind("vllm", KINDS["vllm"].capability))
    assert KINDS["vllm"].capability.name == "vLLM"


# (model kind, model.server, mode, compat) -> the capability's name, as the capability table had it
NODE = "@n8n/n8n-nodes-langchain 2.41.1 with its pinned @huggingface/inference 4.0.5"
NODE_4_13 = "@n8n/n8n-nodes-langchain 2.41.1 with @huggingface/inference 4.13.30 in place of its pinned 4.0.5"
CAPABILITIES = [
    ("embedded", "llama.cpp", "chat", "none", "embedded llama.cpp (llama-server)"),
    ("embedded", "auto", "text", "none", "embedded llama.cpp (llama-server)"),
    ("endpoint", "llama.cpp", "text", "none", "embedded llama.cpp (llama-server)"),
    ("endpoint", "tgi", "chat", "none", "TGI chat route (/v1/chat/completions)"),
    ("endpoint", "tgi", "text", "none", "TGI text route (/generate)"),
    ("endpoint", "vllm", "text", "none", "vLLM"),
    ("endpoint", "ollama", "chat", "none", "Ollama (OpenAI route)"),
    ("endpoint", "llama-cpp-python", "chat", "none", "llama-cpp-python server"),
    ("endpoint", "openai", "chat", "none", "generic OpenAI-compatible server"),
    ("endpoint", "auto", "chat", "none", "generic OpenAI-compatible server"),
    ("hf", "auto", "chat", "none", "HF Inference Providers router"),
    ("hf", "auto", "text", "langchain_hf", f"the workflow node ({NODE}) through LangChain (TGI text route)"),
    ("endpoint", "tgi", "chat", "langchain_hf", f"the workflow node ({NODE}) through LangChain (TGI text route)"),
    ("endpoint", "auto", "text", "langchain_hf", f"the workflow node ({NODE}) through LangChain (TGI text route)"),
    ("embedded", "auto", "text", "langchain_hf", (f"the workflow node ({NODE}) through LangChain, emulated on "
     "llama.cpp (TGI's validation, greedy unless a sampler is set, repetition_penalty as repeat_penalty over the whole context)")),
    ("endpoint", "tgi", "text", "langchain_hf_4_13", f"the workflow node ({NODE_4_13}) through LangChain (TGI's /v1/completions)"),
    ("embedded", "auto", "text", "langchain_hf_4_13", (f"the workflow node ({NODE_4_13}) through LangChain, emulated on llama.cpp "
     "(TGI's /v1/completions: greedy only at temperature 0, top_k dropped; repetition_penalty as repeat_penalty over the whole context)")),
]


@pytest.mark.parametrize("target_kind,server,mode,compat,name", CAPABILITIES)
def test_each_target_gets_its_kinds_capability(target_kind, server, mode, compat, name):
    target = ModelTarget(kind=target_kind, id="m", server=server, mode=mode, endpoint="http://127.0.0.1:9")
    assert capability_for(target, compat).name == name


def test_text_mode_is_refused_for_the_router():
    with pytest.raises(ConfigError, match="model.mode = 'text' is not accepted with model=hf: accepted chat"):
        capability_for(ModelTarget(kind="hf", id="a/b", mode="text"))


@pytest.mark.parametrize("server,mode,compat,backend", [
    ("tgi", "text", "none", TGITextBackend), ("vllm", "text", "none", OpenAITextBackend), ("openai", "text", "none", OpenAITextBackend),
    ("tgi", "chat", "none", ChatBackend), ("llama.cpp", "chat", "none", ChatBackend), ("tgi", "chat", "langchain_hf", LangChainHFBackend),
    ("llama.cpp", "text", "langchain_hf", LangChainHFOnLlamaCppBackend), ("tgi", "text", "langchain_hf_4_13", LangChainHFCompletionsBackend),
    ("llama.cpp", "text", "langchain_hf_4_13", LangChainHFCompletionsOnLlamaCppBackend),
])  # fmt: skip
def test_each_kind_gets_its_backend(server, mode, compat, backend):
    target = ModelTarget(kind="endpoint", id="m", server=server, mode=mode, endpoint="http://127.0.0.1:9")
    made = make_backend(target, capability_for(target, compat), target.endpoint, None, 5.0, compat)
    asyncio.run(made.close())
    assert type(made) is backend
