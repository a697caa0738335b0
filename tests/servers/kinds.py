"""What each server kind answers on its discovery route (the shapes of the real servers' answers),
for local look-alikes (``PlantedServer(routes=KINDS[kind])``)."""

from __future__ import annotations


def _field(default, kind="number", optional=False):
    """One property of a request schema, as pydantic writes it into llama-cpp-python's /openapi.json."""
    typed = {"anyOf": [{"type": kind}, {"type": "null"}]} if optional else {"type": kind}
    return {**typed, "default": default, "description": "..."}


# llama-cpp-python 0.3.36's chat request schema (the sampler fields and a few others).
LLAMA_CPP_PYTHON_CHAT_SCHEMA = {"properties": {
    "messages": {"type": "array", "default": []}, "max_tokens": _field(None, "integer", optional=True),
    "temperature": _field(0.8), "top_p": _field(0.95), "min_p": _field(0.05), "top_k": _field(40, "integer"),
    "repeat_penalty": _field(1.1), "presence_penalty": _field(0.0, optional=True), "frequency_penalty": _field(0.0, optional=True),
    "mirostat_mode": _field(0, "integer"), "mirostat_tau": _field(5.0), "seed": _field(None, "integer", optional=True),
}}  # fmt: skip


def llama_cpp_python_openapi(version: str = "0.3.36", schema: dict = LLAMA_CPP_PYTHON_CHAT_SCHEMA) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "🦙 llama.cpp Python API", "version": version},
            "components": {"schemas": {"CreateChatCompletionRequest": schema}}}  # fmt: skip


KINDS = {
    "tgi": {"/info": {"model_id": "org/name", "version": "3.3.4", "max_input_tokens": 4095, "max_best_of": 2}},
    "ollama": {"/api/version": {"version": "0.12.3"}},
    "vllm": {"/version": {"version": "0.11.0"}},
    "llama-cpp-python": {"/openapi.json": llama_cpp_python_openapi()},
}
# What llama-cpp-python's server applies to samplers a request omits.
LLAMA_CPP_PYTHON_DEFAULTS = {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}
