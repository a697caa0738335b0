"""The workflow tool's Hugging Face Inference Model node, and what the TGI server it talks to accepts.

The node (``LmOpenHuggingFaceInference.node.ts`` in ``@n8n/n8n-nodes-langchain``) documents each
option in one sentence (:data:`OPTIONS`, verbatim), offers it in a UI range (the node's
``typeOptions``: min, max, ``numberPrecision`` 1 = steps of 0.1) and passes its options as they
are to LangChain's ``HuggingFaceInference`` (``new HuggingFaceInference({model, apiKey, ...options})``),
whose Hugging Face JS client sends them (:data:`PROFILES`: which client, which TGI route). An
option the user has not added to the node's collection is not sent at all; an added option is
sent with its value, whatever it is.

TGI's rules (:func:`tgi_refusal`, :func:`tgi_samples`) are read from its source,
``huggingface/text-generation-inference`` at commit db931fcf (January 2026):

- ``router/src/validation.rs``, ``Validation::validate``: ``temperature <= 0.0`` ->
  "`temperature` must be strictly positive"; ``repetition_penalty <= 0.0`` ->
  "`repetition_penalty` must be strictly positive"; ``top_p <= 0.0 || top_p >= 1.0`` ->
  "`top_p` must be > 0.0 and < 1.0"; ``top_k <= 0`` -> "`top_k` must be strictly positive";
  ``max_new_tokens == Some(0)`` -> "`max_new_tokens` must be strictly positive". Each is
  HTTP 422.
- ``router/src/lib.rs``, ``GenerateParameters``: ``top_k: Option<i32>``, so a fractional top_k
  (the node's UI offers 0.1 .. 0.9) does not deserialize (HTTP 422); ``do_sample`` defaults to
  false when ``parameters`` is given, and the node never sends it.
- ``router/src/server.rs``, ``completions`` (the route the newer client posts to): temperature 0
  is greedy (``do_sample`` false, no temperature), any other temperature or none samples
  (``do_sample`` true); ``max_tokens`` is ``max_new_tokens``; ``top_p`` and
  ``repetition_penalty`` pass as given; then the same ``validate``. ``CompletionRequest``
  (``router/src/lib.rs``) has no ``top_k`` and no ``return_full_text``, and serde ignores
  unknown fields, so both are dropped (a fractional top_k is no error there); its ``model`` becomes
  the request's ``adapter_id``, and an adapter the server has not loaded is the base model
  (``server/text_generation_server/models/flash_causal_lm.py``: ``ADAPTER_TO_INDEX.get(adapter_id, 0)``).
- ``server/text_generation_server/utils/tokens.py``, ``NextTokenChooser`` and
  ``HeterogeneousNextTokenChooser``: ``sampling = do_sample or has_warpers`` with warpers
  temperature != 1, top_k != 0, top_p < 1, typical_p < 1; otherwise the next token is the
  argmax (greedy). The logits go through the repetition penalty (over every token of the
  context, prompt included: ``input_ids``), then temperature, top_k, top_p, in that order.

This module is a leaf of the core: it imports nothing of hfsweep.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The node release measured before, whose requests compat=langchain_hf reproduces.
NODE_RELEASE = "@n8n/n8n-nodes-langchain 2.41.1"
#: The LangChain that release pins: its ``HuggingFaceInference`` builds the request the client sends.
NODE_LANGCHAIN = "@langchain/community 1.1.27"


@dataclass(frozen=True)
class ClientProfile:
    """A ``compat`` profile of the node: the Hugging Face JS client under the node's LangChain,
    the TGI route that client posts to (``generate``: TGI's ``{inputs, parameters}`` body to the
    Custom Inference Endpoint URL itself; ``completions``: an OpenAI-style body to
    ``{endpoint}/v1/completions``), and the words the report names it by. tests/js/package.json
    pins each client; tests/test_node_clients.py sends through the real ones and compares."""

    compat: str
    client: str
    route: str
    release: str


#: The node's profiles by ``compat`` value. 4.13.17 is the first client release that posts
#: textGeneration to ``/v1/completions`` (read in the packages' dist: 4.13.16 and earlier post to the URL itself).
PROFILES = {profile.compat: profile for profile in (
    ClientProfile("langchain_hf", "@huggingface/inference 4.0.5", "generate",
                  f"{NODE_RELEASE} with its pinned @huggingface/inference 4.0.5"),
    ClientProfile("langchain_hf_4_13", "@huggingface/inference 4.13.30", "completions",
                  f"{NODE_RELEASE} with @huggingface/inference 4.13.30 in place of its pinned 4.0.5"),
)}  # fmt: skip


@dataclass(frozen=True)
class NodeOption:
    """One option of the node: its UI label, its key, the sentence its documentation gives, the hfsweep
    parameter it maps to (None: not a sampling parameter), its UI range and step, and the value
    the UI puts in when the option is added."""

    label: str
    key: str  # the option's ``name`` in the node's source, the field LangChain's HuggingFaceInference reads
    sentence: str
    param: str | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    default: float | None = None

    def ui_values(self) -> list[float]:
        """Every value the UI offers (the range in its steps).

        >>> OPTIONS[6].ui_values()[:3], len(OPTIONS[2].ui_values())
        ([0.0, 0.1, 0.2], 41)
        """
        if self.step is None or self.low is None or self.high is None:
            return []
        count = round((self.high - self.low) / self.step)
        return [round(self.low + i * self.step, 10) for i in range(count + 1)]

    def in_range(self, value: float) -> bool:
        """Whether the node's UI can express ``value`` (in range, on a step)."""
        if self.low is None or self.high is None:
            return False
        on_step = self.step is None or abs(value / self.step - round(value / self.step)) < 1e-9
        return self.low - 1e-9 <= value <= self.high + 1e-9 and on_step


#: The node's eight options, in its UI's order, with the documentation's sentences verbatim.
OPTIONS = (
    NodeOption("Model", "model", "the model to use to generate the completion."),
    NodeOption("Custom Inference Endpoint", "endpointUrl", "endpoint URL."),
    NodeOption("Frequency Penalty", "frequencyPenalty", "increase this to reduce the chance of the model repeating itself.",
               "frequency_penalty", -2.0, 2.0, 0.1, 0.0),
    NodeOption("Maximum Number of Tokens", "maxTokens", "the completion length, in characters.", "max_tokens", 1, 32768, None, 128),
    NodeOption("Presence Penalty", "presencePenalty", "increase this to increase the chance of the model talking about new topics.",
               "presence_penalty", -2.0, 2.0, 0.1, 0.0),
    NodeOption("Sampling Temperature", "temperature", "controls the randomness of the sampling process. A higher temperature creates "
               "more diverse sampling, but increases the risk of hallucinations.", "temperature", 0.0, 1.0, 0.1, 1.0),
    NodeOption("Top K", "topK", "the number of token choices the model uses to generate the next token.", "top_k", 0.0, 1.0, 0.1, 1.0),
    NodeOption("Top P", "topP", "use a lower value to ignore less probable options.", "top_p", 0.0, 1.0, 0.1, 1.0),
)  # fmt: skip
BY_PARAM = {option.param: option for option in OPTIONS if option.param}

#: The hfsweep parameter -> the field of TGI's body the node sends it as (presence_penalty: dropped).
TGI_FIELDS = {"temperature": "temperature", "max_tokens": "max_new_tokens", "top_p": "top_p", "top_k": "top_k",
              "frequency_penalty": "repetition_penalty"}  # fmt: skip


def _show(value: float) -> str:
    return str(int(value)) if isinstance(value, (int, float)) and float(value).is_integer() and abs(value) < 1e15 else str(value)


def tgi_refusal(field: str, value: float) -> str | None:
    """Why a TGI endpoint refuses a field of ``/generate``'s parameters (None: accepted), as the
    message of the error row: which value, and the rule of TGI's router it breaks.

    >>> tgi_refusal("top_p", 1.0)
    'a TGI endpoint refuses top_p = 1.0: it must be < 1 (TGI router/src/validation.rs: `top_p` must be > 0.0 and < 1.0)'
    >>> tgi_refusal("top_k", 0.5)
    'a TGI endpoint refuses top_k = 0.5: it must be an integer (TGI router/src/lib.rs: top_k is an i32; the body does not deserialize)'
    >>> tgi_refusal("repetition_penalty", 1.2) is None
    True
    """
    shown = repr(float(value)) if field in ("top_p", "temperature", "repetition_penalty") else _show(value)
    source = "TGI router/src/validation.rs"
    if field == "temperature" and value <= 0:
        return f"a TGI endpoint refuses temperature = {shown}: it must be > 0 ({source}: `temperature` must be strictly positive)"
    if field == "repetition_penalty" and value <= 0:
        return (f"a TGI endpoint refuses repetition_penalty = {shown} (the node's Frequency Penalty): it must be > 0 "
                f"({source}: `repetition_penalty` must be strictly positive)")  # fmt: skip
    if field == "top_p" and not 0 < value < 1:
        bound = "< 1" if value >= 1 else "> 0"
        return f"a TGI endpoint refuses top_p = {shown}: it must be {bound} ({source}: `top_p` must be > 0.0 and < 1.0)"
    if field == "top_k" and not float(value).is_integer():
        return (f"a TGI endpoint refuses top_k = {shown}: it must be an integer "
                "(TGI router/src/lib.rs: top_k is an i32; the body does not deserialize)")  # fmt: skip
    if field == "top_k" and value <= 0:
        return f"a TGI endpoint refuses top_k = {shown}: it must be > 0 ({source}: `top_k` must be strictly positive)"
    if field == "max_new_tokens" and value <= 0:
        return f"a TGI endpoint refuses max_new_tokens = {shown}: it must be > 0 ({source}: `max_new_tokens` must be strictly positive)"
    return None


def tgi_body_refusal(parameters: dict) -> str | None:
    """The first refusal of a ``/generate`` parameters object, in the router's order (None: accepted)."""
    for field in ("temperature", "repetition_penalty", "top_p", "top_k", "max_new_tokens"):
        value = parameters.get(field)
        if value is not None:
            reason = tgi_refusal(field, value)
            if reason:
                return reason
    return None


def tgi_samples(parameters: dict) -> bool:
    """Whether TGI samples for these ``/generate`` parameters (else it decodes greedily):
    ``do_sample`` or a warper that changes the distribution (tokens.py ``has_warpers``).

    >>> tgi_samples({"temperature": 1.0}), tgi_samples({"temperature": 0.7}), tgi_samples({"top_p": 0.9})
    (False, True, True)
    """
    temperature = parameters.get("temperature")
    top_k = parameters.get("top_k")
    top_p = parameters.get("top_p")
    return bool(parameters.get("do_sample")) or (temperature is not None and temperature != 1.0) \
        or bool(top_k) or (top_p is not None and top_p < 1.0)


#: The options TGI's completions route does not read (the newer client sends top_k; router/src/server.rs drops it).
COMPLETIONS_DROPS = ("top_k",)


def node_value_refusal(param: str, value: float, route: str = "generate") -> str | None:
    """What a TGI endpoint says to the node's option ``param`` (an hfsweep parameter) at ``value``
    (None: accepted) on ``route``: ``generate`` (the node's client) or ``completions`` (the newer
    client: temperature 0 is greedy there, top_k is dropped). presence_penalty is never sent.

    >>> node_value_refusal("frequency_penalty", 0.0)[:57]
    'a TGI endpoint refuses repetition_penalty = 0.0 (the node'
    >>> node_value_refusal("temperature", 0.0, "completions") is None
    True
    """
    if route == "completions" and (param in COMPLETIONS_DROPS or (param == "temperature" and value == 0)):
        return None
    field = TGI_FIELDS.get(param)
    return tgi_refusal(field, value) if field else None

