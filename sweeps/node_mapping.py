"""The workflow node's requests (compat=langchain_hf): the body it sends, and that body emulated on llama.cpp.

:func:`node_parameters` is the ``parameters`` object of TGI's ``/generate`` body the node sends
for a request: ``return_full_text: false``, ``max_new_tokens`` (hfsweep always sets the
Maximum Number of Tokens, 128 by default), and each option the setting names (added to the
node's collection), whatever its value: temperature, top_p, top_k, and the Frequency Penalty
as ``repetition_penalty``. The Presence Penalty and the seed are never sent. An option the
setting does not name is not sent, so TGI's defaults apply to it (temperature 1, no top_k, no
top_p, no repetition penalty, and greedy decoding unless some sampler is set).

:func:`completions_body` is what the newer client (compat=langchain_hf_4_13) posts instead, to
TGI's ``/v1/completions``; :func:`tgi_view` is what TGI acts on for either route (on the
completions route: greedy only at temperature 0, top_k dropped), and :func:`client_request`
gives both with TGI's refusal.

:func:`llama_cpp_body` is that request on llama-server's ``/v1/completions`` with the same
meaning (hfsweep.core.node cites TGI's source for each rule): TGI's validation first (a value it
refuses is not sent), greedy decoding (temperature 0) where TGI would not sample,
``repetition_penalty`` as ``repeat_penalty`` over the whole context (``repeat_last_n`` = the
slot's context; llama.cpp's penalty window holds the prompt's tokens too, as TGI's ``input_ids``
do, and the formula is the same: a seen token's logit divided by the penalty if positive,
multiplied if negative), TGI's sampler order (penalty, temperature, top_k, top_p), and every
other llama.cpp sampler off. The seed is sent: TGI draws a random one, which gives the same
distribution; a seeded request can be replayed.
"""

from __future__ import annotations

from typing import Any

from hfsweep.core.node import tgi_body_refusal, tgi_samples

# What llama-server applies unless told otherwise, switched off (TGI has none of them).
LLAMA_CPP_OFF = {"min_p": 0.0, "typical_p": 1.0, "xtc_probability": 0.0, "dry_multiplier": 0.0, "top_n_sigma": -1.0,
                 "presence_penalty": 0.0, "frequency_penalty": 0.0, "mirostat": 0}  # fmt: skip
TGI_ORDER = ["penalties", "temperature", "top_k", "top_p"]  # tokens.py: repetition penalty, then the warpers in this order
LEGACY_OPTIONS = ("temperature", "top_p", "top_k", "frequency_penalty")  # a request that names none: probe and old callers


def node_parameters(params: dict[str, Any], options: tuple[str, ...] | None) -> dict[str, Any]:
    """The node's ``/generate`` parameters for hfsweep's ``params``; ``options``: the node options
    the setting names (None: the old profile's rule, temperature and top_p always, top_k and the
    frequency penalty when not 0).

    >>> node_parameters({"temperature": 1.0, "top_k": 0, "top_p": 1.0, "frequency_penalty": 0.0, "max_tokens": 128}, ("frequency_penalty",))
    {'return_full_text': False, 'max_new_tokens': 128, 'repetition_penalty': 0.0}
    """
    if options is None:
        options = tuple(name for name in LEGACY_OPTIONS if name in ("temperature", "top_p") or params[name])
    sent: dict[str, Any] = {"return_full_text": False}
    if "temperature" in options:
        sent["temperature"] = params["temperature"]
    sent["max_new_tokens"] = params["max_tokens"]
    for name, field in (("top_p", "top_p"), ("top_k", "top_k"), ("frequency_penalty", "repetition_penalty")):
        if name in options:
            sent[field] = params[name]
    return sent


def completions_body(params: dict[str, Any], options: tuple[str, ...] | None) -> dict[str, Any]:
    """What the newer client (compat=langchain_hf_4_13) posts to ``{endpoint}/v1/completions`` for
    the same LangChain parameters, but ``model`` and ``prompt``: ``max_new_tokens`` as
    ``max_tokens``, the rest as is (@huggingface/inference 4.13's ``HFInferenceTextGenerationTask.preparePayload``).

    >>> completions_body({"temperature": 0.5, "top_k": 1, "top_p": 1.0, "frequency_penalty": 0.0, "max_tokens": 16}, ("top_k",))
    {'max_tokens': 16, 'return_full_text': False, 'top_k': 1}
    """
    parameters = node_parameters(params, options)
    return {"max_tokens": parameters.pop("max_new_tokens"), **parameters}


def tgi_view(route: str, body: dict[str, Any]) -> dict[str, Any]:
    """The generation parameters TGI acts on for a client body on ``route``: ``generate`` (its own
    ``parameters``) or ``completions`` (router/src/server.rs ``completions``: temperature 0 greedy,
    else sampling; top_k dropped; max_tokens as max_new_tokens).

    >>> tgi_view("completions", {"max_tokens": 8, "temperature": 0.0, "top_k": 1})
    {'do_sample': False, 'max_new_tokens': 8}
    """
    if route == "generate":
        return body
    temperature = body.get("temperature")
    view = {"do_sample": temperature != 0, "max_new_tokens": body.get("max_tokens"),
            "temperature": temperature if temperature not in (None, 0) else None,
            "top_p": body.get("top_p"), "repetition_penalty": body.get("repetition_penalty")}  # fmt: skip
    return {key: value for key, value in view.items() if value is not None}


def client_request(route: str, params: dict[str, Any], options: tuple[str, ...] | None) -> tuple[dict, dict, str | None]:
    """(the client's body, what TGI acts on, TGI's refusal or None) for a request on ``route``."""
    client = (node_parameters if route == "generate" else completions_body)(params, options)
    view = tgi_view(route, client)
    return client, view, tgi_body_refusal(view)


def llama_cpp_body(node: dict[str, Any], seed: int, context: int) -> dict[str, Any]:
    """The llama-server ``/v1/completions`` fields (all but the prompt) that do what TGI does with
    the node's ``parameters``; ``context``: the slot's context size (the penalty's window).

    >>> body = llama_cpp_body({"return_full_text": False, "temperature": 1.0, "max_new_tokens": 16, "repetition_penalty": 1.2}, 3, 1024)
    >>> body["temperature"], body["repeat_penalty"], body["repeat_last_n"], body["samplers"]
    (0.0, 1.2, 1024, ['penalties', 'temperature', 'top_k', 'top_p'])
    """
    samples = tgi_samples(node)
    return {
        "max_tokens": node["max_new_tokens"],
        "temperature": node.get("temperature", 1.0) if samples else 0.0,  # llama.cpp: temperature 0 keeps only the best token
        "top_k": node.get("top_k") or 0,
        "top_p": node.get("top_p", 1.0),
        "repeat_penalty": node.get("repetition_penalty", 1.0),
        "repeat_last_n": context,
        "samplers": TGI_ORDER,
        **LLAMA_CPP_OFF,
        "seed": seed,
    }

