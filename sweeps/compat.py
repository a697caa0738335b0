"""Compatibility profiles: send exactly what another tool sends, to show what its settings do.

``langchain_hf`` is the workflow tool's Hugging Face node, which calls LangChain's
``HuggingFaceInference`` LLM. That LLM posts TGI's text route with
``{"inputs": prompt, "parameters": {return_full_text: false, temperature, max_new_tokens,
top_p, top_k, repetition_penalty: <frequency penalty>}}``: the frequency penalty goes out as
``repetition_penalty`` (a different scale: 1 = off, and 0 is refused by TGI), the presence
penalty is dropped, no seed and no neutral samplers are sent. A node option that is not set
is not sent; here a top_k or frequency_penalty of 0 means "not set". TGI refuses some node
values (``top_p`` 1, ``repetition_penalty`` 0): those requests become error rows of their
cell with TGI's message, and the run goes on.
"""

from __future__ import annotations

from typing import Any

from sweeps.backends import Completion, Request, _client, classify
from sweeps.capabilities import Capability
from sweeps.config import ModelTarget

LANGCHAIN_HF = Capability(
    "the workflow node through LangChain (TGI text route)",
    frozenset({"temperature", "top_k", "top_p", "max_tokens"}),
    translated={"frequency_penalty": "sent as repetition_penalty (1 = off; 0 is refused by TGI)"},
)


class LangChainHFBackend:
    """TGI's ``/generate`` with the node's parameter mapping, through ``text_generation``."""

    def __init__(self, target: ModelTarget, base_url: str | None, token: str | None, timeout_s: float):
        self.target = target
        self.client = _client(target, base_url, token, timeout_s)

    def body(self, request: Request) -> dict[str, Any]:
        p = request.params
        sent = {
            "return_full_text": False,
            "temperature": p["temperature"],
            "max_new_tokens": p["max_tokens"],
            "top_p": p["top_p"],
            "top_k": p["top_k"] or None,
            "repetition_penalty": p["frequency_penalty"] or None,
        }
        return {name: value for name, value in sent.items() if value is not None}

    async def complete(self, request: Request) -> Completion:
        try:
            model = self.target.id if self.target.kind == "hf" else None
            out = await self.client.text_generation(request.prompt, model=model, details=True, **self.body(request))
            details = out.details
            return Completion(out.generated_text, details.finish_reason if details else None, None,
                              details.generated_tokens if details else None)  # fmt: skip
        except Exception as error:  # noqa: BLE001 - classified; unknown errors re-raised
            raise classify(error) from error

    async def close(self) -> None:
        await self.client.close()
