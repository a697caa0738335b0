"""Every server kind hfsweep knows, one entry each: how detection recognises it, what it honours,
and which backend sends its requests.

A kind is one :class:`ServerKind`, registered below where it is defined; adding a kind is one
entry here (and, when it has a probe, its place in :data:`DETECTION_ORDER`). The config accepts
the registered kinds as ``model.server`` values, detection (sweeps/detect.py) runs their probes,
sweeps/capabilities.py picks a target's kind, and sweeps/backends.py builds the backend the kind
names.

A server fills in its own value for every sampler a request omits (llama-server: top_k 40,
top_p 0.95, min_p 0.05). So every request states every sampler the target knows: the cell's
values, and the kind's neutral values for the rest.

This module is a leaf: it imports nothing of the engine, so the config can read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hfsweep.core.errors import ConfigError
from hfsweep.core.node import PROFILES
from hfsweep.core.records import LATER_SAMPLERS

GENERIC = "openai"  # the kind of a server detection did not identify


@dataclass(frozen=True)
class Capability:
    """What one target kind does with each parameter.

    ``honoured``: parameters that change the output as asked. ``translated``: parameters the
    target maps to something else (the note says what). ``neutral``: extra body fields sent on
    every request to switch off the server's own samplers. ``logprobs``: whether the generated
    tokens' log-probabilities are asked for and what they are: ``raw`` (the model's own
    distribution, what perplexity needs), ``server`` (as the server computes them, which may
    include its penalties), or None (not available: perplexity is NaN).
    """

    name: str
    honoured: frozenset[str]
    translated: dict[str, str] = field(default_factory=dict)
    neutral: dict[str, float] = field(default_factory=dict)
    logprobs: str | None = None
    top_k_off: int = 0  # how this server spells "top_k off" (vLLM before 0.9 refuses 0: -1)
    hidden_defaults: str = ""  # what the server applies that no request can switch off (a warning)

    def ignored(self, params: list[str]) -> list[str]:
        return [p for p in params if p not in self.honoured and p not in self.translated and p != "seed"]


ALL = frozenset({"temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "seed"})
NO_TOP_K = ALL - {"top_k"}
# the later samplers (hfsweep.core.records LATER_SAMPLERS), honoured only where a kind names them
MIN_P, TYPICAL_P, TOP_N_SIGMA = LATER_SAMPLERS

# the sampler settings detection reads from a server's reported defaults
SAMPLER_KEYS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "repeat_last_n",
                "presence_penalty", "frequency_penalty", "dry_multiplier", "xtc_probability", "mirostat", "mirostat_mode",
                "n_predict")  # fmt: skip


def _no_defaults(answer: dict) -> dict[str, Any]:
    return {}


def _no_template(answer: dict) -> str | None:
    return None


@dataclass(frozen=True)
class Probe:
    """How detection recognises a kind: one GET of ``path`` (a discovery route, never a
    completion). ``matches`` says whether the JSON answer (any JSON value, or None when the
    route failed) is this kind's; ``version``, ``defaults`` (the sampler settings the server
    applies to what a request omits) and ``chat_template`` read a matching answer."""

    path: str
    matches: Callable[[Any], bool]
    version: Callable[[dict], Any]
    defaults: Callable[[dict], dict[str, Any]] = _no_defaults
    chat_template: Callable[[dict], str | None] = _no_template


@dataclass(frozen=True)
class ServerKind:
    """One kind of server (or route) and everything hfsweep does differently for it.

    ``name``: its ``model.server`` value (when ``server_option``), and the kind detection
    reports. ``capability``: what its chat route honours, and its text route's unless
    ``text_capability`` differs. ``chat_backend``, ``text_backend``: the names of the backends
    (sweeps/backends.py ``BACKENDS``) that send each mode. ``text_refused``: set for a kind
    without a text route, the reason model.mode=text is refused. ``probe``: how detection
    recognises it (None: never detected). ``target_kind``: a model kind that always uses this
    kind (model=embedded runs llama.cpp). ``compat``: the compatibility profile that selects it;
    ``serves``: the kinds of server that profile sends to as is, or ``emulated_on``: the kind it
    is emulated on.
    """

    name: str
    capability: Capability
    text_capability: Capability | None = None
    chat_backend: str = "chat"
    text_backend: str = "openai_text"
    text_refused: str = ""
    probe: Probe | None = None
    server_option: bool = True
    target_kind: str | None = None
    compat: str | None = None
    serves: tuple[str, ...] = ()
    emulated_on: str = ""

    def capability_for(self, mode: str) -> Capability:
        """The capability of the route a mode (chat or text) goes through."""
        self._check_mode(mode)
        return (self.text_capability or self.capability) if mode == "text" else self.capability

    def backend_for(self, mode: str) -> str:
        """The name of the backend that sends a mode's requests."""
        self._check_mode(mode)
        return self.text_backend if mode == "text" else self.chat_backend

    def _check_mode(self, mode: str) -> None:
        if mode == "text" and self.text_refused:
            raise ConfigError(self.text_refused)


KINDS: dict[str, ServerKind] = {}


def register(kind: ServerKind) -> ServerKind:
    """Add a kind to the registry (its name must be new)."""
    if kind.name in KINDS:
        raise ValueError(f"server kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind
    return kind


def server_kind(target_kind: str, server: str, compat: str = "none") -> ServerKind:
    """The kind a target uses: its compatibility profile's, else its model kind's (embedded,
    hf), else the one ``model.server`` names, else the generic OpenAI-compatible server.

    >>> server_kind("embedded", "auto").name, server_kind("endpoint", "vllm").name, server_kind("endpoint", "auto").name
    ('llama.cpp', 'vllm', 'openai')
    >>> server_kind("hf", "auto").name, server_kind("hf", "auto", compat="langchain_hf").name
    ('hf_router', 'langchain_hf')
    >>> server_kind("embedded", "auto", compat="langchain_hf").name
    'langchain_hf_llama.cpp'

    """
    by_target = next((kind for kind in KINDS.values() if kind.target_kind == target_kind), None)
    plain = by_target or KINDS.get(server) or KINDS[GENERIC]
    if compat == "none":
        return plain
    profiles = [kind for kind in KINDS.values() if kind.compat == compat]
    chosen = next((kind for kind in profiles if plain.name in kind.serves or kind.emulated_on == plain.name), None)
    if chosen is None and target_kind == "endpoint" and server == "auto":  # detection decides before the run
        chosen = next(kind for kind in profiles if kind.serves)
    if chosen is None:
        accepted = sorted({name for kind in profiles for name in (*kind.serves, kind.emulated_on) if name in KINDS
                           and KINDS[name].server_option})  # fmt: skip
        hub = ", or model=hf" if any("hf_router" in kind.serves for kind in profiles) else ""
        raise ConfigError(f"compat = {compat!r} cannot be sent to model.server = {plain.name!r} as the workflow node does, "
                          f"nor emulated on it exactly: accepted model.server={' or '.join(accepted)}, the embedded model "
                          f"(llama.cpp){hub}")  # fmt: skip
    return chosen


# --- how the kinds' answers are read ------------------------------------------------------------


def _llama_cpp_version(props: dict) -> str | None:
    version = props.get("build_info") or props.get("version")
    return str(version) if version else None


def _llama_cpp_defaults(props: dict) -> dict[str, Any]:
    """The sampler settings of llama-server's ``/props`` (``default_generation_settings``).

    >>> _llama_cpp_defaults({"default_generation_settings": {"params": {"top_k": 40, "seed": 1}}})
    {'top_k': 40}
    """
    settings = props.get("default_generation_settings") or {}
    params = settings.get("params") if isinstance(settings.get("params"), dict) else settings
    return {key: params[key] for key in SAMPLER_KEYS if key in params}


def _openapi_title(openapi: Any) -> str:
    return (openapi or {}).get("info", {}).get("title", "") if isinstance(openapi, dict) else ""


def _openapi_defaults(openapi: dict) -> dict[str, Any]:
    """The sampler defaults of llama-cpp-python's request schemas (each sampler field's
    ``default``, which its server fills in for what a request omits); chat's win where the
    chat and completions schemas differ."""
    schemas = (openapi.get("components") or {}).get("schemas") or {}
    defaults: dict[str, Any] = {}
    for name in ("CreateCompletionRequest", "CreateChatCompletionRequest"):
        properties = (schemas.get(name) or {}).get("properties") or {}
        for key in SAMPLER_KEYS:
            if isinstance(properties.get(key), dict) and properties[key].get("default") is not None:
                defaults[key] = properties[key]["default"]
    return defaults


# --- the kinds ------------------------------------------------------------------------------------

# llama.cpp's llama-server (the embedded target runs it), chat or /v1/completions: honours
# everything, min_p, typical_p and top_n_sigma (-1 = off) too; top_k in the body. GET /props
# answers default_generation_settings.
register(ServerKind(
    "llama.cpp",
    Capability(
        "embedded llama.cpp (llama-server)",
        ALL | {MIN_P, TYPICAL_P, TOP_N_SIGMA},
        neutral={"min_p": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0, "repeat_penalty": 1.0, "xtc_probability": 0.0,
                 "dry_multiplier": 0.0},
        logprobs="raw",  # post_sampling_probs is false by default: the model's own distribution
    ),
    probe=Probe("/props", lambda props: isinstance(props, dict) and "default_generation_settings" in props,
                _llama_cpp_version, _llama_cpp_defaults, lambda props: props.get("chat_template")),
    target_kind="embedded",
))  # fmt: skip

# TGI: its OpenAI chat route has no top_k and turns presence_penalty p into repetition_penalty
# p + 2; its own /generate (text mode) has top_k and repetition_penalty native, no
# presence_penalty. GET /info answers model_id with max_input_tokens or max_best_of.
register(ServerKind(
    "tgi",
    Capability(
        "TGI chat route (/v1/chat/completions)",
        NO_TOP_K - {"presence_penalty"},
        translated={"presence_penalty": "TGI turns presence_penalty p into repetition_penalty p + 2"},
    ),
    text_capability=Capability("TGI text route (/generate)", ALL - {"presence_penalty"}, logprobs="server"),
    text_backend="tgi_text",
    probe=Probe("/info", lambda info: isinstance(info, dict) and "model_id" in info and ("max_input_tokens" in info or "max_best_of" in info),
                lambda info: info.get("version")),
))  # fmt: skip

# vLLM: top_k, min_p (honoured, also swept) and repetition_penalty in the body; its defaults may come from the model's
# generation_config.json (--generation-config), so the neutral values go out. GET /version
# answers {"version": ...} and nothing else (vLLM's own route).
register(ServerKind(
    "vllm",
    Capability("vLLM", ALL | {MIN_P}, neutral={"min_p": 0.0, "repetition_penalty": 1.0}, logprobs="server", top_k_off=-1),
    probe=Probe("/version", lambda answer: isinstance(answer, dict) and set(answer) == {"version"},
                lambda answer: str(answer["version"])),
))  # fmt: skip

# Ollama's OpenAI route: the OpenAI parameters only; the Modelfile's defaults stay.
# GET /api/version answers {"version": ...}.
register(ServerKind(
    "ollama",
    Capability(
        "Ollama (OpenAI route)",
        NO_TOP_K,
        logprobs="server",
        hidden_defaults="Ollama applies its Modelfile's defaults (often top_k 40, repeat_penalty 1.1) and its OpenAI route cannot switch them off",
    ),
    probe=Probe("/api/version", lambda answer: isinstance(answer, dict) and "version" in answer,
                lambda answer: str(answer["version"])),
))  # fmt: skip

# llama-cpp-python's own server: honours everything, and min_p (its request schemas have no
# typical_p or top_n_sigma); its defaults (top_k 40, min_p 0.05, repeat_penalty 1.1) apply to
# whatever a request omits, so the neutral values go out. GET /openapi.json: its title is
# "llama.cpp Python API"; its request schemas give the defaults.
register(ServerKind(
    "llama-cpp-python",
    Capability(
        "llama-cpp-python server",
        ALL | {MIN_P},
        neutral={"min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0, "mirostat_mode": 0},
        logprobs="server",
    ),
    probe=Probe("/openapi.json", lambda openapi: "llama.cpp python" in _openapi_title(openapi).lower(),
                lambda openapi: (openapi.get("info") or {}).get("version"), _openapi_defaults),
))  # fmt: skip

# Any other OpenAI-compatible server (and one detection did not identify): the OpenAI
# parameters; top_k is sent in the body but only some servers (vLLM, llama.cpp) honour it, so it
# is not promised.
register(ServerKind(
    GENERIC,
    Capability(
        "generic OpenAI-compatible server",
        NO_TOP_K,
        logprobs="server",
        hidden_defaults="an unidentified server may apply sampler defaults of its own (top_k, min_p, repetition penalty) "
        "to whatever a request omits: `hfsweep probe` measures them; model.server=KIND sends the neutral values",
    ),
))  # fmt: skip

# The HF Inference Providers router (model=hf): OpenAI-compatible chat, drops top_k.
register(ServerKind(
    "hf_router",
    Capability("HF Inference Providers router", NO_TOP_K),
    text_refused="model.mode = 'text' is not accepted with model=hf: accepted chat (use model=endpoint model.server=tgi for TGI's /generate)",
    server_option=False,
    target_kind="hf",
))  # fmt: skip

# The workflow tool's node through LangChain (compat=langchain_hf, the release and client
# hfsweep.core.node PROFILES names): TGI's text route, in either mode, to a TGI endpoint or the HF
# router as the node sends it ...
NODE = PROFILES["langchain_hf"].release
NODE_4_13 = PROFILES["langchain_hf_4_13"].release
NODE_HONOURS = frozenset({"temperature", "top_k", "top_p", "max_tokens"})
NODE_TRANSLATES = {"frequency_penalty": "sent as repetition_penalty (1 = off, below 1 favours repetition; TGI refuses <= 0)"}
register(ServerKind(
    "langchain_hf",
    Capability(
        f"the workflow node ({NODE}) through LangChain (TGI text route)",
        NODE_HONOURS,
        translated=NODE_TRANSLATES,
        logprobs="server",  # from details=true, which the profile sends for the finish reason
    ),
    chat_backend="langchain_hf",
    text_backend="langchain_hf",
    server_option=False,
    compat="langchain_hf",
    serves=("tgi", "hf_router"),
))  # fmt: skip

# ... and emulated on llama.cpp (sweeps/node_mapping.py): TGI's validation, its choice between
# sampling and greedy decoding, its sampler order, repetition_penalty over the whole context.
register(ServerKind(
    "langchain_hf_llama.cpp",
    Capability(
        f"the workflow node ({NODE}) through LangChain, emulated on llama.cpp (TGI's validation, "
        "greedy unless a sampler is set, repetition_penalty as repeat_penalty over the whole context)",
        NODE_HONOURS,
        translated=NODE_TRANSLATES,
        logprobs="raw",
    ),
    chat_backend="langchain_hf_llama_cpp",
    text_backend="langchain_hf_llama_cpp",
    server_option=False,
    compat="langchain_hf",
    emulated_on="llama.cpp",
))  # fmt: skip

# The node's LangChain with the newer client (compat=langchain_hf_4_13): an OpenAI-style body to
# TGI's /v1/completions, which samples unless temperature is 0 and drops top_k; and emulated on llama.cpp.
NODE_4_13_HONOURS = frozenset({"temperature", "top_p", "max_tokens"})
register(ServerKind(
    "langchain_hf_4_13",
    Capability(f"the workflow node ({NODE_4_13}) through LangChain (TGI's /v1/completions)", NODE_4_13_HONOURS,
               translated=NODE_TRANSLATES),
    chat_backend="langchain_hf_completions",
    text_backend="langchain_hf_completions",
    server_option=False,
    compat="langchain_hf_4_13",
    serves=("tgi",),
))  # fmt: skip
register(ServerKind(
    "langchain_hf_4_13_llama.cpp",
    Capability(f"the workflow node ({NODE_4_13}) through LangChain, emulated on llama.cpp (TGI's /v1/completions: "
               "greedy only at temperature 0, top_k dropped; repetition_penalty as repeat_penalty over the whole context)",
               NODE_4_13_HONOURS, translated=NODE_TRANSLATES, logprobs="raw"),
    chat_backend="langchain_hf_completions_llama_cpp",
    text_backend="langchain_hf_completions_llama_cpp",
    server_option=False,
    compat="langchain_hf_4_13",
    emulated_on="llama.cpp",
))  # fmt: skip

# The order detection tries the probes in (each one GET): the most specific answer first
# (FastAPI servers, vLLM and TGI among them, also answer /openapi.json).
# Every kind with a probe is named here once (tests/test_server_kinds.py checks it).
DETECTION_ORDER = ("llama.cpp", "tgi", "ollama", "vllm", "llama-cpp-python")

SERVER_OPTIONS = tuple(kind.name for kind in KINDS.values() if kind.server_option)  # accepted model.server values
COMPAT_PROFILES = tuple(dict.fromkeys(kind.compat for kind in KINDS.values() if kind.compat))  # accepted compat values
