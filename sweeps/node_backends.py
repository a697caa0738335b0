"""The workflow node's backends (compat=langchain_hf): its body to a TGI endpoint, and that body emulated on llama.cpp.

What each sends is sweeps/node_mapping.py's; TGI's rules are hfsweep.core.node's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
from huggingface_hub.utils import hf_raise_for_status

from hfsweep.core.node import PROFILES
from hfsweep.sweeps.answers import read_json, text_completion
from hfsweep.sweeps.backends import (
    Completion,
    OpenAITextBackend,
    Request,
    RequestFailure,
    TGITextBackend,
    classify,
)
from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.node_mapping import client_request, completions_body, llama_cpp_body, node_parameters
from hfsweep.sweeps.servers import Capability

#: What hfsweep adds to the node's ``/generate`` parameters: TGI's details (the finish reason and
#: the token count; presentation only, no token changes). tests/test_node_clients.py allows exactly this.
MEASURING = {"details": True}
PROPS_TIMEOUT_S = 3.0  # the whole /props answer, as detection bounds its GETs


class LangChainHFBackend(TGITextBackend):
    """What the workflow tool's Hugging Face node sends through LangChain's ``HuggingFaceInference``
    to a TGI endpoint, exactly (sweeps/node_mapping.py ``node_parameters``), posted to the URL
    itself: the options the setting names, the frequency penalty as ``repetition_penalty``, no
    presence penalty, no seed, no neutral sampler; and :data:`MEASURING`. Values TGI refuses
    become error rows of their cell with TGI's message.
    """

    def body(self, request: Request) -> dict[str, Any]:
        return {**node_parameters(request.params, request.options), **MEASURING}


class LangChainHFCompletionsBackend(OpenAITextBackend):
    """The node's LangChain with the newer client (compat=langchain_hf_4_13, hfsweep.core.node
    ``PROFILES``) to a TGI endpoint, exactly: ``model`` (the target's id: the node's Model), the
    OpenAI-style body of sweeps/node_mapping.py ``completions_body`` and ``prompt``, posted to
    ``{endpoint}/v1/completions`` (``{endpoint}/completions`` when it ends in /v1; the URL as
    given when it ends in /completions), as the client's ``HFInferenceTextGenerationTask`` does.
    Nothing is added: TGI's completions answer carries the finish reason and the token counts."""

    def __init__(self, target: ModelTarget, capability: Capability, base_url: str, token: str | None, timeout_s: float):
        super().__init__(target, capability, base_url, token, timeout_s)
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/completions") else f"{base}/completions" if base.endswith("/v1") else f"{base}/v1/completions"

    def body(self, request: Request) -> dict[str, Any]:
        return completions_body(request.params, request.options)


class LangChainHFOnLlamaCppBackend(OpenAITextBackend):
    """The node's requests emulated on llama-server (sweeps/node_mapping.py): TGI's validation
    before sending (a refused value is an error row ``tgi_refused`` with the rule it breaks, and
    nothing is sent), then the same decoding through ``/v1/completions``. The record holds the
    client's body (``node``) beside what llama-server was sent (``sent``). ``route``: the TGI
    route the client posts to (``generate``: the node's client; ``completions``: the newer one)."""

    route = PROFILES["langchain_hf"].route

    def __init__(self, target: ModelTarget, capability: Capability, base_url: str, token: str | None, timeout_s: float):
        super().__init__(target, capability, base_url, token, timeout_s)
        self.context = _slot_context(base_url, target.ctx_per_slot)

    def body(self, request: Request) -> dict[str, Any]:
        client, view, refused = client_request(self.route, request.params, request.options)
        sent = None if refused else {**llama_cpp_body(view, request.params["seed"], self.context), "logprobs": 1}
        return {"node": client, "sent": sent, **({"refused": refused} if refused else {})}

    async def complete(self, request: Request) -> Completion:
        body = self.body(request)
        if body["sent"] is None:
            raise RequestFailure("tgi_refused", body["refused"], retryable=False, status=422)
        try:
            response = await self.http.post(self.url, json={"model": self.target.id, "prompt": request.prompt, **body["sent"]})
            hf_raise_for_status(response)
        except Exception as error:
            raise classify(error) from error
        return text_completion(read_json(response.content))


class LangChainHFCompletionsOnLlamaCppBackend(LangChainHFOnLlamaCppBackend):
    """The newer client's requests emulated on llama-server: TGI's completions route (greedy only at
    temperature 0, top_k dropped), then the same validation and decoding."""

    route = PROFILES["langchain_hf_4_13"].route


def _slot_context(base_url: str, fallback: int) -> int:
    """llama-server's context per slot (``/props`` ``default_generation_settings.n_ctx``): the
    repetition penalty's window. This server refuses ``repeat_last_n = -1`` (0 .. 2^31-1), so the
    whole context is asked for by its size; ``fallback`` (model.ctx_per_slot) if /props does not say."""
    try:
        props = json.loads(_bounded_get(f"{base_url.rstrip('/')}/props", PROPS_TIMEOUT_S))
        return int(props["default_generation_settings"]["n_ctx"])
    except (httpx2.HTTPError, TimeoutError, ValueError, KeyError, TypeError):
        return fallback


def _bounded_get(url: str, seconds: float) -> bytes:
    """A GET's body within ``seconds`` in all (a server that trickles its answer a byte at a time
    is a TimeoutError, not a hang: httpx's own timeout is per read)."""
    deadline = time.monotonic() + seconds
    body = b""
    with httpx2.stream("GET", url, timeout=seconds) as response:
        for chunk in response.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise TimeoutError(f"GET {url}: no complete answer within {seconds:g} s")
    return body
