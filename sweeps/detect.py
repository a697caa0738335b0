"""What software serves an endpoint, found from the routes it exposes, before any completion.

Each server kind answers a discovery route of its own; a few GETs (never a completion) tell
them apart, give the version, and where the server exposes them, its default generation
settings and chat template:

==================  =============================  ==========================================
kind                route                          what identifies it
==================  =============================  ==========================================
llama.cpp           ``GET /props``                 ``default_generation_settings``
tgi                 ``GET /info``                  ``model_id`` with ``max_input_tokens`` or ``max_best_of``
ollama              ``GET /api/version``           ``{"version": ...}``
vllm                ``GET /version``               ``{"version": ...}`` (vLLM's own route)
llama-cpp-python    ``GET /openapi.json``          its title, "llama.cpp Python API"
==================  =============================  ==========================================

Defaults: llama.cpp's come from ``/props``; llama-cpp-python's from the request schema in its
``/openapi.json`` (each sampler field's ``default``, which its server fills in for what a
request omits). The sampler keys only (``SAMPLER_KEYS``).

Nothing answering: the kind is ``unknown`` and the sweep must not assume anything about the
server's own sampler defaults (``hfsweep probe`` measures them).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DETECTABLE = ("llama.cpp", "tgi", "ollama", "vllm", "llama-cpp-python")


@dataclass(frozen=True)
class ServerInfo:
    """What detection found: kind (one of DETECTABLE, or ``unknown``), version, the server's
    default generation settings and the chat template in use, where it says."""

    kind: str
    version: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    chat_template: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "defaults": self.defaults, "chat_template": self.chat_template}


def _get_json(url: str, token: str | None, timeout_s: float) -> Any:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if response.status != 200:
                return None
            return json.loads(response.read(2_000_000) or b"null")
    except (urllib.error.URLError, OSError, ValueError):
        return None


SAMPLER_KEYS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "repeat_last_n",
                "presence_penalty", "frequency_penalty", "dry_multiplier", "xtc_probability", "mirostat", "mirostat_mode",
                "n_predict")  # fmt: skip


def _llama_cpp_defaults(props: dict) -> dict[str, Any]:
    settings = props.get("default_generation_settings") or {}
    params = settings.get("params") if isinstance(settings.get("params"), dict) else settings
    return {key: params[key] for key in SAMPLER_KEYS if key in params}


def _openapi_defaults(openapi: dict) -> dict[str, Any]:
    """The sampler defaults of llama-cpp-python's request schemas (chat first, then completions)."""
    schemas = (openapi.get("components") or {}).get("schemas") or {}
    defaults: dict[str, Any] = {}
    for name in ("CreateCompletionRequest", "CreateChatCompletionRequest"):  # chat's win where they differ
        properties = (schemas.get(name) or {}).get("properties") or {}
        for key in SAMPLER_KEYS:
            if isinstance(properties.get(key), dict) and properties[key].get("default") is not None:
                defaults[key] = properties[key]["default"]
    return defaults


def detect(endpoint: str, token: str | None = None, timeout_s: float = 3.0) -> ServerInfo:
    """Identify the server at ``endpoint`` (a base URL) with at most five GETs."""
    base = endpoint.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    props = _get_json(f"{base}/props", token, timeout_s)
    if isinstance(props, dict) and "default_generation_settings" in props:
        version = props.get("build_info") or props.get("version")
        return ServerInfo("llama.cpp", str(version) if version else None, _llama_cpp_defaults(props), props.get("chat_template"))
    info = _get_json(f"{base}/info", token, timeout_s)
    if isinstance(info, dict) and "model_id" in info and ("max_input_tokens" in info or "max_best_of" in info):
        return ServerInfo("tgi", info.get("version"))
    ollama = _get_json(f"{base}/api/version", token, timeout_s)
    if isinstance(ollama, dict) and "version" in ollama:
        return ServerInfo("ollama", str(ollama["version"]))
    vllm = _get_json(f"{base}/version", token, timeout_s)
    if isinstance(vllm, dict) and set(vllm) == {"version"}:
        return ServerInfo("vllm", str(vllm["version"]))
    openapi = _get_json(f"{base}/openapi.json", token, timeout_s)
    title = (openapi or {}).get("info", {}).get("title", "") if isinstance(openapi, dict) else ""
    if "llama.cpp python" in title.lower():
        return ServerInfo("llama-cpp-python", (openapi.get("info") or {}).get("version"), _openapi_defaults(openapi))
    return ServerInfo("unknown")
