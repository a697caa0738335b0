"""Which parameters each kind of target honours, and the neutral values its hidden defaults need.

A server fills in its own value for every sampler a request omits (llama-server: top_k 40,
top_p 0.95, min_p 0.05). So every request states every sampler the target knows: the cell's
values, and the neutral values below for the rest (DESIGN.md, "Neutral samplers").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hfsweep.sweeps.config import ModelTarget


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

CAPABILITIES = {
    # llama.cpp's llama-server, chat or /v1/completions: honours everything; top_k in the body.
    "llama.cpp": Capability(
        "embedded llama.cpp (llama-server)",
        ALL,
        neutral={"min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0, "xtc_probability": 0.0, "dry_multiplier": 0.0},
        logprobs="raw",  # post_sampling_probs is false by default: the model's own distribution
    ),
    # llama-cpp-python's own server: honours everything; its defaults (top_k 40, min_p 0.05,
    # repeat_penalty 1.1) apply to whatever a request omits, so the neutral values go out.
    "llama-cpp-python": Capability(
        "llama-cpp-python server",
        ALL,
        neutral={"min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0, "mirostat_mode": 0},
        logprobs="server",
    ),
    # vLLM: top_k, min_p and repetition_penalty in the body; its defaults may come from the
    # model's generation_config.json (--generation-config), so the neutral values go out.
    "vllm": Capability("vLLM", ALL, neutral={"min_p": 0.0, "repetition_penalty": 1.0}, logprobs="server", top_k_off=-1),
    # Ollama's OpenAI route: the OpenAI parameters only; the Modelfile's defaults stay.
    "ollama": Capability(
        "Ollama (OpenAI route)",
        NO_TOP_K,
        logprobs="server",
        hidden_defaults="Ollama applies its Modelfile's defaults (often top_k 40, repeat_penalty 1.1) and its OpenAI route cannot switch them off",
    ),
    # TGI's OpenAI chat route: no top_k; presence_penalty p is turned into repetition_penalty p + 2.
    "tgi_chat": Capability(
        "TGI chat route (/v1/chat/completions)",
        NO_TOP_K - {"presence_penalty"},
        translated={"presence_penalty": "TGI turns presence_penalty p into repetition_penalty p + 2"},
    ),
    # TGI's own /generate: top_k and repetition_penalty native, no presence_penalty.
    "tgi_text": Capability("TGI text route (/generate)", ALL - {"presence_penalty"}, logprobs="server"),
    # HF Inference Providers router: OpenAI-compatible, drops top_k.
    "hf_router": Capability("HF Inference Providers router", NO_TOP_K),
    # Any other OpenAI-compatible server: the OpenAI parameters; top_k is sent in the body but
    # only some servers (vLLM, llama.cpp) honour it, so it is not promised.
    "openai": Capability(
        "generic OpenAI-compatible server",
        NO_TOP_K,
        logprobs="server",
        hidden_defaults="an unidentified server may apply sampler defaults of its own (top_k, min_p, repetition penalty) "
        "to whatever a request omits: `hfsweep probe` measures them; model.server=KIND sends the neutral values",
    ),
    # The workflow tool's node through LangChain (compat=langchain_hf): TGI's text route.
    "langchain_hf": Capability(
        "the workflow node through LangChain (TGI text route)",
        frozenset({"temperature", "top_k", "top_p", "max_tokens"}),
        translated={"frequency_penalty": "sent as repetition_penalty (1 = off; TGI refuses 0)"},
        logprobs="server",  # from details=true, which the profile sends for the finish reason
    ),
}


def capability_for(target: ModelTarget, compat: str = "none") -> Capability:
    """The capability entry for a target (kind, server software and mode) and compat profile."""
    if compat == "langchain_hf":
        return CAPABILITIES["langchain_hf"]
    if target.kind == "embedded" or target.server == "llama.cpp":
        return CAPABILITIES["llama.cpp"]
    if target.kind == "hf":
        return CAPABILITIES["hf_router"]
    if target.server == "tgi":
        return CAPABILITIES["tgi_text" if target.mode == "text" else "tgi_chat"]
    if target.server in ("llama-cpp-python", "vllm", "ollama"):
        return CAPABILITIES[target.server]
    return CAPABILITIES["openai"]
