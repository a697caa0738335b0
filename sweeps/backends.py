"""Backends: turn one request into one completion through huggingface_hub's AsyncInferenceClient.

One small protocol (``complete(request) -> Completion``), implemented by the chat backend, the
OpenAI and TGI text backends here, and the workflow node's profiles (sweeps/node_backends.py);
sweeps/dispatch.py picks the one a target's kind names. Every failure is raised as
:class:`RequestFailure`, which says whether a retry can help; the runner decides what to do
with it. What an answer holds is checked as it
is read (:mod:`hfsweep.sweeps.answers`): bad text is repaired, impossible token counts become
null (the completion's ``repairs`` says so), and a 2xx answer that is not what the protocol
promises is a ``malformed`` failure, retried once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import InferenceTimeoutError
from huggingface_hub.utils import hf_raise_for_status, set_async_client_factory
from huggingface_hub.utils._http import default_async_client_factory  # the client huggingface_hub makes; no public name

from hfsweep.core.errors import TargetError
from hfsweep.core.records import LATER_SAMPLERS
from hfsweep.sweeps.answers import (
    Completion,
    RequestFailure,
    answered,
    chat_completion,
    forget_answer,
    malformed,
    note_answer,
    read_json,
    text_completion,
    tgi_completion,
)
from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.credentials import http_client
from hfsweep.sweeps.servers import Capability

RETRYABLE_STATUS = {408, 409, 425, 429}  # and every 5xx


@dataclass(frozen=True)
class Request:
    """What to send: the prompt as chat messages or raw text, and the full parameter set."""

    prompt: str
    params: dict[str, Any]
    system_prompt: str | None = None
    options: tuple[str, ...] | None = None  # a client profile (compat): the options the setting names, which it sends
    compat: str = ""  # the profile that sends it, when not the run's (sweep.presets.NAME.compat)

    def messages(self) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": self.prompt}]


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _server_message(response: Any) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict):
                error = error.get("message", error)
            return str(error)[:500]
    except Exception:
        pass
    return (response.text or "")[:500] if response is not None else ""


def _response_of(error: BaseException) -> Any:
    """The HTTP response behind an error: ``HfHubHTTPError.response``, or for TGI's typed
    errors (``ValidationError``, ``OverloadedError``...) the response of their cause."""
    for candidate in (error, error.__cause__):
        response = getattr(candidate, "response", None)
        if response is not None and hasattr(response, "status_code"):
            return response
    return None


def classify(error: BaseException) -> RequestFailure:
    """Map an exception from the client to a :class:`RequestFailure`.

    Only what the network or the server did is retryable (docs/config.md, "Retries"): a body that is not JSON is
    ``malformed``; a ``ValueError`` the client raised before sending (a missing api_key, an
    unknown provider) is the user's to fix and stops the run (:class:`TargetError`); any other
    exception is a bug and keeps its traceback.
    """
    if isinstance(error, RequestFailure):
        return error
    if isinstance(error, (InferenceTimeoutError, httpx2.TimeoutException, TimeoutError)):
        return RequestFailure("timeout", f"timed out: {error}", retryable=True)
    response = _response_of(error)
    if response is not None:
        status = response.status_code
        message = _server_message(response) or str(error).splitlines()[0]
        return RequestFailure(f"http_{status}", message, status in RETRYABLE_STATUS or status >= 500, _retry_after(response), status)
    if isinstance(error, (httpx2.TransportError, ConnectionError)):
        return RequestFailure("connection", f"connection failed: {type(error).__name__}: {error}", retryable=True)
    if isinstance(error, json.JSONDecodeError):
        return malformed(error.doc, f"not JSON ({error.msg})")
    if type(error) is ValueError:
        raise TargetError(f"the client refused the request before sending it: {str(error).splitlines()[0]}") from error
    raise error


def _client_answer(error: Exception) -> Any:
    """What a huggingface_hub client could not read in a 2xx answer: the answer itself, when
    only its bytes were invalid UTF-8; otherwise the failure to raise (``malformed`` for any
    error the client raised reading an answer it got)."""
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
        return read_json(error.object)
    if answered() and isinstance(error, (ValueError, LookupError, TypeError, AttributeError)) and not isinstance(error, json.JSONDecodeError):
        raise malformed(None, f"the client could not read it ({type(error).__name__}: {error})") from error
    raise classify(error) from error


def sampler_fields(capability: Capability, params: dict[str, Any]) -> dict[str, Any]:
    """The body fields beyond the OpenAI ones: the capability's neutral values, then the cell's
    top_k, min_p, typical_p and top_n_sigma where the target honours them or the cell sets them
    (an explicit value goes out even if not promised; top_k 0 as the kind's "off")."""
    body = dict(capability.neutral)
    for name, off in LATER_SAMPLERS.items():
        value = params.get(name, off)
        if name in capability.honoured or value != off:
            body[name] = value
    if "top_k" in capability.honoured or params["top_k"]:
        body["top_k"] = params["top_k"] or capability.top_k_off
    return body


class Backend(Protocol):
    async def complete(self, request: Request) -> Completion: ...

    async def close(self) -> None: ...


def _answer_noting_client() -> httpx2.AsyncClient:
    """huggingface_hub's own async client, which also notes each answer's status and content type."""
    client = default_async_client_factory()
    client.event_hooks["response"].append(note_answer)
    return client


# huggingface_hub 2.x sends the saved token (HF_TOKEN, the login) to any base_url when ``token`` is
# None or "" (and refuses False); headers given to the client win over its own, and a None value
# drops the header: so a request that must carry no credential names authorization=None.
NO_CREDENTIAL = {"authorization": None}


def _client(target: ModelTarget, base_url: str | None, token: str | None, timeout_s: float) -> AsyncInferenceClient:
    """huggingface_hub's client with ``token`` as the credential, or none at all when it is None
    (sweeps/credentials.py decides; on a redirect to another origin httpx drops the header)."""
    headers = None if token else NO_CREDENTIAL
    set_async_client_factory(_answer_noting_client)  # a wrong 2xx answer is then named by its status and content type
    if target.kind == "hf":
        return AsyncInferenceClient(provider=target.provider or "auto", token=token, timeout=timeout_s, headers=headers)
    return AsyncInferenceClient(base_url=base_url, token=token, timeout=timeout_s, headers=headers)


class ChatBackend:
    """OpenAI-style chat through ``AsyncInferenceClient.chat_completion``; top_k and the
    neutral samplers go in ``extra_body``."""

    def __init__(self, target: ModelTarget, capability: Capability, base_url: str | None, token: str | None, timeout_s: float):
        self.target = target
        self.capability = capability
        self.client = _client(target, base_url, token, timeout_s)

    def body(self, request: Request) -> dict[str, Any]:
        """The keyword arguments sent for a request (also stored as ``request_params``)."""
        p = request.params
        extra = sampler_fields(self.capability, p)
        return {
            "temperature": p["temperature"],
            "top_p": p["top_p"],
            "frequency_penalty": p["frequency_penalty"],
            "presence_penalty": p["presence_penalty"],
            "max_tokens": p["max_tokens"],
            "seed": p["seed"],
            "logprobs": True if self.capability.logprobs else None,
            "extra_body": extra or None,
        }

    async def complete(self, request: Request) -> Completion:
        forget_answer()
        try:
            out = await self.client.chat_completion(request.messages(), model=self.target.id, **self.body(request))
        except Exception as error:  # noqa: BLE001 - every failure is classified, unknown ones re-raised
            out = _client_answer(error)
        return chat_completion(out)

    async def close(self) -> None:
        await self.client.close()


class OpenAITextBackend:
    """Raw prompt continuation through an OpenAI-compatible ``/v1/completions`` route."""

    def __init__(self, target: ModelTarget, capability: Capability, base_url: str, token: str | None, timeout_s: float):
        self.target = target
        self.capability = capability
        self.url = f"{base_url.rstrip('/')}/v1/completions"
        self.http = http_client(self.url, token, timeout_s)
        self.http.event_hooks["response"].append(note_answer)

    def body(self, request: Request) -> dict[str, Any]:
        p = request.params
        body = {name: p[name] for name in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "seed")}
        body.update(sampler_fields(self.capability, p))
        if self.capability.logprobs:
            body["logprobs"] = 1
        return body

    async def complete(self, request: Request) -> Completion:
        forget_answer()
        try:
            response = await self.http.post(self.url, json={"model": self.target.id, "prompt": request.prompt, **self.body(request)})
            hf_raise_for_status(response)
        except Exception as error:
            raise classify(error) from error
        return text_completion(read_json(response.content))

    async def close(self) -> None:
        await self.http.aclose()


class TGITextBackend:
    """TGI's ``/generate`` through ``AsyncInferenceClient.text_generation`` (top_k native).

    TGI wants temperature > 0 and top_p < 1: temperature 0 is sent as greedy (no sampling),
    top_p 1 and top_k 0 are sent as "off" (omitted). A greedy request carries no top_k or
    top_p at all: TGI samples whenever either is set (``sampling = do_sample or has_warpers``),
    whatever ``do_sample`` says.
    """

    def __init__(self, target: ModelTarget, capability: Capability, base_url: str, token: str | None, timeout_s: float):
        self.target = target
        self.capability = capability
        self.client = _client(target, base_url, token, timeout_s)

    def body(self, request: Request) -> dict[str, Any]:
        p = request.params
        greedy = p["temperature"] == 0
        return {
            "max_new_tokens": p["max_tokens"],
            "do_sample": not greedy,
            "temperature": None if greedy else p["temperature"],
            "top_k": None if greedy else p["top_k"] or None,
            "top_p": None if greedy or p["top_p"] >= 1 else p["top_p"],
            "frequency_penalty": p["frequency_penalty"] or None,
            "seed": p["seed"],
            "details": True,
        }

    async def complete(self, request: Request) -> Completion:
        forget_answer()
        try:
            model = self.target.id if self.target.kind == "hf" else None
            out = await self.client.text_generation(request.prompt, model=model, **self.body(request))
        except Exception as error:  # noqa: BLE001 - every failure is classified, unknown ones re-raised
            out = _client_answer(error)
        return tgi_completion(out)

    async def close(self) -> None:
        await self.client.close()
