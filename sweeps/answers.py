"""A server's answer read into a :class:`Completion`, or a :class:`RequestFailure`, checked as it is
read: nothing a server sends can crash the record writer or poison the cache.

* Text with lone surrogates (a JSON ``"\\udcff"`` escape) or invalid UTF-8 bytes is kept, each bad
  code point replaced by U+FFFD, and the row's ``repairs`` says how many (:func:`clean_text`).
* A token count that is negative, not an integer, or above what a record stores becomes null,
  and ``repairs`` names the value (:func:`token_count`).
* A 2xx answer that is not the JSON the protocol promises is a ``malformed`` failure naming the
  status, the content type and the first characters of the body (:func:`describe_answer`): the
  status and content type of the last answer a request got are noted by an httpx response hook
  (:func:`note_answer`), in a context variable, so each concurrent request reads its own.

The backends (:mod:`hfsweep.sweeps.backends`) send the requests and hand the answers to the
readers here (:func:`chat_completion`, :func:`text_completion`, :func:`tgi_completion`).
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from hfsweep.core import secrets
from hfsweep.core.ranges import INTEGER_MAX

MALFORMED_ATTEMPTS = 2  # a wrong answer is tried once more (a proxy's page may pass), not max_attempts times
SNIPPET_CHARS = 100  # how much of a wrong answer's body a malformed error row quotes
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_LAST_ANSWER: ContextVar[tuple[int, str, bytes] | None] = ContextVar("last_answer", default=None)


async def note_answer(response: Any) -> None:
    """httpx response hook: note the status, content type and first bytes of the answer this request got."""
    body = await response.aread()  # read once; the client's own read then finds it read
    _LAST_ANSWER.set((response.status_code, response.headers.get("content-type") or "no content type", body[: SNIPPET_CHARS * 4]))


def forget_answer() -> None:
    """Before a request: no answer noted yet (a worker's earlier request must not be quoted)."""
    _LAST_ANSWER.set(None)


def answered() -> bool:
    """This request got a 2xx (or 3xx) answer: whatever fails after it is in reading the answer."""
    noted = _LAST_ANSWER.get()
    return noted is not None and noted[0] < 400


def describe_answer(body: Any, what: str) -> str:
    """One line about a wrong 2xx answer: ``what`` is wrong, with the status, content type and
    the first :data:`SNIPPET_CHARS` characters of the body as noted by :func:`note_answer` (else
    of ``body``: text, bytes or the parsed JSON).

    >>> describe_answer("<!DOCTYPE html><html>", "not JSON")
    "malformed answer (status unknown, content type unknown): not JSON: '<!DOCTYPE html><html>'"
    """
    noted = _LAST_ANSWER.get()
    status, content_type = (f"HTTP {noted[0]}", noted[1]) if noted else ("status unknown", "content type unknown")
    body = noted[2] if noted else body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    elif not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False, default=str)
    snippet, _ = clean_text(body[:SNIPPET_CHARS])
    return f"malformed answer ({status}, {content_type}): {what}: {snippet!r}"


def decode_body(raw: bytes) -> str:
    """A body as text: invalid UTF-8 bytes become lone surrogates, which :func:`clean_text` then
    replaces and counts like those a JSON escape brings."""
    return raw.decode("utf-8", "surrogateescape")


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with every lone surrogate replaced by U+FFFD, and how many there were.

    >>> clean_text("ok \\udcff and \\ud800")
    ('ok \\ufffd and \\ufffd', 2)
    """
    return _LONE_SURROGATE.subn("\ufffd", text)


def token_count(name: str, value: Any) -> tuple[int | None, str | None]:
    """A server's token count as a record keeps it: an integer in 0 .. :data:`INTEGER_MAX`, else
    None and a note naming the value (None, None when the server sent none).

    >>> token_count("usage.completion_tokens", 12)
    (12, None)
    >>> token_count("usage.completion_tokens", 2**70)
    (None, 'usage.completion_tokens = 1180591620717411303424 is not a token count (0 .. 2147483647): recorded as null')
    """
    if value is None:
        return None, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INTEGER_MAX:
        return value, None
    if isinstance(value, int) and value.bit_length() > 128:  # no digits: str() refuses a very long integer
        shown = f"an integer of {value.bit_length()} bits"
    else:
        shown, _ = clean_text(repr(value)[:40])
    return None, f"{name} = {shown} is not a token count (0 .. {INTEGER_MAX}): recorded as null"


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    logprob_sum: float | None = None  # the generated tokens' log-probabilities (raw distribution), summed
    logprob_tokens: int | None = None  # how many tokens those are
    repairs: str | None = None  # what was changed in the answer to keep it (None: kept as sent)


def checked(completion: Completion) -> Completion:
    """``completion`` as a record keeps it: lone surrogates and invalid bytes in its text replaced
    (U+FFFD), token counts that no record can hold set to null; ``repairs`` says what changed.
    Applied to every answer read and every completion replayed from the cache."""
    notes = [completion.repairs] if completion.repairs else []
    text, bad = clean_text(completion.text)
    if bad:
        notes.append(f"text: {bad} invalid code point{'s' if bad > 1 else ''} replaced by U+FFFD")
    finish, _ = clean_text(completion.finish_reason) if isinstance(completion.finish_reason, str) else (None, 0)
    counts = {}
    for name, value in (("usage.prompt_tokens", completion.prompt_tokens), ("usage.completion_tokens", completion.completion_tokens),
                        ("logprob_tokens", completion.logprob_tokens)):  # fmt: skip
        counts[name], note = token_count(name, value)
        notes += [note] if note else []
    logprob_sum = completion.logprob_sum if isinstance(completion.logprob_sum, float) else None
    return Completion(text, finish, counts["usage.prompt_tokens"], counts["usage.completion_tokens"], logprob_sum,
                      counts["logprob_tokens"], "; ".join(notes) or None)  # fmt: skip


class RequestFailure(Exception):
    """A request that did not produce a completion.

    Attributes: ``kind`` (e.g. ``http_429``, ``timeout``, ``connection``, ``malformed``),
    ``retryable``, ``retry_after`` (seconds the server asked for), ``status``, ``max_attempts``
    (the most attempts worth making for this kind of failure; None = ``runner.max_attempts``).
    The message is kept with any bad code point replaced (a server's text cannot crash the writer)
    and is scrubbed of every known secret here (a server may echo the Authorization header), so
    the error row, the probe's line and the run's failure summary never hold one.
    """

    def __init__(self, kind: str, message: str, retryable: bool, retry_after: float | None = None, status: int | None = None,
                 max_attempts: int | None = None):  # fmt: skip
        message, _ = clean_text(message)
        message = secrets.redact(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.max_attempts = max_attempts


def malformed(body: Any, what: str) -> RequestFailure:
    """A 2xx answer whose content is not what the protocol promises (not JSON, no choices, no
    text): ``what`` is wrong, quoted with the status, content type and the body's first characters."""
    return RequestFailure("malformed", describe_answer(body, what), retryable=True, max_attempts=MALFORMED_ATTEMPTS)


def read_json(raw: bytes) -> Any:
    """A body the client could not decode (invalid UTF-8), read with the bad bytes kept for
    :func:`checked` to replace."""
    try:
        return json.loads(decode_body(raw))
    except ValueError as error:
        raise malformed(raw, f"not JSON ({error})") from error


def _choice(data: Any) -> dict:
    """The first choice of an OpenAI-style answer, or a malformed failure naming what is missing."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if choices == []:
        raise malformed(data, "choices: [] (the answer holds no completion)")
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise malformed(data, "no choices list")
    return choices[0]


def _text(data: Any, value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise malformed(data, f"{where} is not text")
    return value


def _usage(data: dict) -> tuple[Any, Any]:
    usage = data.get("usage")
    return (usage.get("prompt_tokens"), usage.get("completion_tokens")) if isinstance(usage, dict) else (None, None)


def _totals(data: Any, logprobs: Any) -> tuple[float | None, int | None]:
    try:
        return logprob_totals(logprobs)
    except (TypeError, ValueError, AttributeError) as error:
        raise malformed(data, f"log-probabilities that are not numbers ({error})") from error


def logprob_totals(logprobs: list | None) -> tuple[float | None, int | None]:
    """The sum and count of the generated tokens' log-probabilities (None, None without them).

    >>> logprob_totals([-0.5, -1.5, None])
    (-2.0, 2)
    >>> logprob_totals([])
    (None, None)
    """
    values = [float(v) for v in logprobs or () if v is not None]
    return (sum(values), len(values)) if values else (None, None)


def _completion_logprobs(logprobs: dict | None) -> list | None:
    """Token log-probabilities of a ``/v1/completions`` choice: llama-server's
    ``content[].logprob`` or OpenAI's ``token_logprobs``."""
    if not logprobs:
        return None
    if logprobs.get("content") is not None:
        return [token.get("logprob") for token in logprobs["content"]]
    return logprobs.get("token_logprobs")


def chat_completion(data: Any) -> Completion:
    """An OpenAI-style chat answer (a dict, or huggingface_hub's dict-based output) as a checked completion."""
    choice = _choice(data)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise malformed(data, "choices[0] has no message")
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens = [token.get("logprob") if isinstance(token, dict) else token for token in content] if isinstance(content, list) else None
    return checked(Completion(_text(data, message.get("content"), "choices[0].message.content"), choice.get("finish_reason"),
                              *_usage(data), *_totals(data, tokens or None)))  # fmt: skip


def text_completion(data: Any) -> Completion:
    """An OpenAI ``/v1/completions`` answer as a checked completion."""
    choice = _choice(data)
    if "text" not in choice:
        raise malformed(data, "choices[0] has no text")
    logprobs = choice.get("logprobs")
    return checked(Completion(_text(data, choice["text"], "choices[0].text"), choice.get("finish_reason"), *_usage(data),
                              *_totals(data, _completion_logprobs(logprobs) if isinstance(logprobs, dict) else None)))  # fmt: skip


def tgi_completion(data: Any) -> Completion:
    """A TGI ``/generate`` answer (details on) as a checked completion."""
    data = data[0] if isinstance(data, list) and data else data
    if not isinstance(data, dict) or "generated_text" not in data:
        raise malformed(data, "no generated_text")
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    tokens = details.get("tokens")
    logprobs = [t.get("logprob") if isinstance(t, dict) else t for t in tokens] if isinstance(tokens, list) and tokens else None
    return checked(Completion(_text(data, data["generated_text"], "generated_text"), details.get("finish_reason"), None,
                              details.get("generated_tokens"), *_totals(data, logprobs)))  # fmt: skip
