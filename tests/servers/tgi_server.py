"""TGI's `/generate` format: request validation and response bodies, plus a TGI-flavoured server.

What `huggingface_hub` 2.4 sends (read from `inference/_generated/_async_client.py` and
`inference/_providers/hf_inference.py`): `text_generation(prompt, ...)` with a URL as model posts
to **that URL itself** (base URL `http://h:p` -> `POST /`, TGI's compat route; `http://h:p/generate`
-> `POST /generate`) the body ``{"inputs": prompt, "parameters": {...non-None kwargs...}}``
(`"stream"` only when passed). With `details=True` it expects ``{"generated_text": ..., "details":
{"finish_reason": "length" | "eos_token" | "stop_sequence", "generated_tokens": n, "seed": s,
"prefill": [], "tokens": [...]}}`` (a list of such objects is accepted too).

Validation follows TGI's router (`router/src/validation.rs`, same order, same messages; on
`/v1/completions` after `tgi_completions_parameters`, as `router/src/server.rs` does); a
failure is HTTP 422 with ``{"error": "<message>", "error_type": "validation"}``, which the client
turns into `huggingface_hub.errors.ValidationError`.

>>> tgi_validation_error({"top_p": 1.0})
'`top_p` must be > 0.0 and < 1.0'
>>> tgi_validation_error({"top_p": 0.9, "repetition_penalty": 0})
'`repetition_penalty` must be strictly positive'
>>> tgi_validation_error({"top_k": 40, "temperature": 0.7}) is None
True

Run it alone: ``python -m tests.servers.tgi_server --port 0`` (same options as the fault server,
with TGI-style error bodies on every route).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .textgen import canonical_digest, count_tokens, fake_generation

if TYPE_CHECKING:
    from .fault_server import FaultServer

# Body keys that change the output of a real server (everything else is presentation).
_PRESENTATION_KEYS = {"details", "decoder_input_details", "return_full_text", "top_n_tokens"}


def tgi_validation_error(parameters: dict[str, Any], inputs: str = "x") -> str | None:
    """Return TGI's validation message for `parameters`, or None when TGI would accept them."""
    p = parameters
    if (p.get("best_of") or 1) > 1 and p.get("seed") is not None:
        return "`seed` must not be set when `best_of` > 1"
    if p.get("temperature") is not None and p["temperature"] <= 0.0:
        return "`temperature` must be strictly positive"
    if p.get("repetition_penalty") is not None and p["repetition_penalty"] <= 0.0:
        return "`repetition_penalty` must be strictly positive"
    if p.get("frequency_penalty") is not None and not -2.0 <= p["frequency_penalty"] <= 2.0:
        return "`frequency_penalty` must be >= -2.0 and <= 2.0"
    if p.get("top_p") is not None and not 0.0 < p["top_p"] < 1.0:
        return "`top_p` must be > 0.0 and < 1.0"
    if p.get("typical_p") is not None and not 0.0 < p["typical_p"] < 1.0:
        return "`typical_p` must be > 0.0 and < 1.0"
    if p.get("top_k") is not None and p["top_k"] <= 0:
        return "`top_k` must be strictly positive"
    if p.get("max_new_tokens") == 0:
        return "`max_new_tokens` must be strictly positive"
    if not inputs:
        return "`inputs` cannot be empty"
    return None


def tgi_completions_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The generation parameters TGI's ``/v1/completions`` builds from an OpenAI-style body
    (``router/src/server.rs``, ``completions``), which it then validates as ``/generate``'s:
    temperature 0 is greedy (no temperature, ``do_sample`` false), anything else samples;
    ``max_tokens`` is ``max_new_tokens``; ``top_k`` is not a field of its ``CompletionRequest``.

    >>> tgi_completions_parameters({"temperature": 0, "top_k": 0.5, "top_p": 1.0})
    {'temperature': None, 'do_sample': False, 'top_p': 1.0, 'repetition_penalty': None, 'frequency_penalty': None, 'max_new_tokens': None, 'seed': None}
    """
    temperature = body.get("temperature")
    greedy = temperature == 0
    return {"temperature": None if greedy else temperature, "do_sample": not greedy, "top_p": body.get("top_p"),
            "repetition_penalty": body.get("repetition_penalty"), "frequency_penalty": body.get("frequency_penalty"),
            "max_new_tokens": body.get("max_tokens"), "seed": body.get("seed")}


def tgi_generate_response(body: dict[str, Any], default_max_new_tokens: int = 100) -> dict[str, Any]:
    """The success body TGI's `/generate` returns for a (valid) request body."""
    inputs = body.get("inputs", "")
    params = dict(body.get("parameters") or {})
    key = {"inputs": inputs, **{k: v for k, v in params.items() if k not in _PRESENTATION_KEYS}}
    max_new = params.get("max_new_tokens") or default_max_new_tokens
    gen = fake_generation(key, max_new, params.get("stop"))
    text = f"{inputs}{gen.text}" if params.get("return_full_text") else gen.text
    out: dict[str, Any] = {"generated_text": text}
    if params.get("details"):
        if gen.stopped_by is not None:
            finish = "stop_sequence"
        else:
            finish = "length" if gen.hit_limit else "eos_token"
        digest = canonical_digest(key)
        out["details"] = {
            "finish_reason": finish,
            "generated_tokens": len(gen.tokens),
            "seed": params.get("seed"),
            "prefill": [],
            "tokens": [
                {
                    "id": int(digest[(i % 28) * 2 : (i % 28) * 2 + 8], 16) % 32000,
                    "text": (" " if i else "") + word,
                    "logprob": -round(0.1 + (i % 7) * 0.13, 4),
                    "special": False,
                }
                for i, word in enumerate(gen.tokens)
            ],
            "top_tokens": None,
            "best_of_sequences": None,
        }
    return out


def tgi_usage(body: dict[str, Any], response: dict[str, Any]) -> tuple[int, int]:
    """(prompt tokens, generated tokens) for the counters."""
    return count_tokens(str(body.get("inputs", ""))), count_tokens(response["generated_text"])


def start_tgi_server(**config: Any) -> FaultServer:
    """Start an in-process server whose errors all use TGI's JSON (no faults unless configured).

    Args:
        **config: `FaultConfig` fields, e.g. `latency=0.05`.

    Returns:
        The started server; call `.stop()` (or use it as a context manager).
    """
    from .fault_server import FaultServer

    config.setdefault("error_style", "tgi")
    return FaultServer(**config).start()


if __name__ == "__main__":
    from .fault_server import main

    raise SystemExit(main(default_error_style="tgi"))
