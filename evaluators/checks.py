"""Prompt checks: does a completion do what its prompt asked? (``check_pass``, ``pass_rate``)

A prompt may carry checks, each a mapping ``{"type": T, "value": V}``:

============  =====================================================================
type          passes when the completion ...
============  =====================================================================
contains      contains V (a non-empty string), case-sensitive
icontains     contains V, ignoring case (``str.casefold``)
not_contains  does not contain V, case-sensitive
regex         matches V somewhere (Python ``re.search``; write ``(?i)`` to ignore case)
equals        equals V once leading/trailing whitespace is stripped from both
starts_with   starts with V once leading whitespace is stripped from the completion
is_json       is JSON once surrounding whitespace and one enclosing Markdown code fence
              are stripped; V is optional: a list of keys the JSON object must have
max_words     has at most V (an integer >= 0) word tokens
min_words     has at least V word tokens
============  =====================================================================

Word tokens are the default tokenizer's ``\\w+`` tokens (:func:`evaluators.tokens.word_tokens`;
punctuation is not a word). ``expected: X`` on a prompt is shorthand for a ``contains X``
check. Validation (:func:`problems`, :func:`parse_checks`) and evaluation (:func:`passes`,
:func:`check_pass`, :func:`pass_rate`) are pure functions.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hfsweep.core.errors import CheckError
from hfsweep.evaluators._batch import Samples, group_mean
from hfsweep.evaluators.registry import metric
from hfsweep.evaluators.tokens import word_tokens

#: Check type -> what its value must be (``text``: a non-empty string; ``string``: any
#: string; ``pattern``: a valid regular expression; ``count``: an integer >= 0; ``keys``:
#: optional list of non-empty strings).
CHECK_TYPES: dict[str, str] = {
    "contains": "text", "icontains": "text", "not_contains": "text", "regex": "pattern",
    "equals": "string", "starts_with": "text", "is_json": "keys", "max_words": "count",
    "min_words": "count",
}
_ACCEPTED = {
    "text": "a non-empty string", "string": "a string", "pattern": "a regular expression",
    "count": "an integer >= 0", "keys": "a list of key names (or no value)",
}
#: The keys of one check.
CHECK_KEYS = ("type", "value")
_FENCE = re.compile(r"\A```[^\n`]*\n(.*?)\n?```\Z", re.S)


@dataclass(frozen=True)
class Check:
    """One validated check (build it with :func:`parse_checks`).

    Attributes:
        type: One of :data:`CHECK_TYPES`.
        value: Its value (a string, an int, a tuple of keys for ``is_json``, or ``None``).
    """

    type: str
    value: str | int | tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The check as the JSON-ready mapping it was written as (no ``value`` if none).

        Example:
            >>> Check("is_json", ("name", "age")).as_dict()
            {'type': 'is_json', 'value': ['name', 'age']}
        """
        if self.value is None:
            return {"type": self.type}
        return {"type": self.type,
                "value": list(self.value) if isinstance(self.value, tuple) else self.value}


def _is_list(value: Any) -> bool:
    """A list as YAML, JSON or OmegaConf give one (not a string)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _value_problem(kind: str, value: Any) -> str | None:
    if kind == "keys":
        ok = value is None or (_is_list(value) and all(isinstance(k, str) and k for k in value))
    elif kind == "count":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    elif kind == "string":
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, str) and value != ""
    if ok and kind == "pattern":
        try:
            re.compile(value)
        except re.error as error:
            return f"'value' {value!r} is not a valid regular expression ({error})"
    if ok:
        return None
    got = "no value" if value is None else f"{value!r} ({type(value).__name__})"
    quote = "; put it in quotes" if kind in ("text", "string", "pattern") and isinstance(
        value, (int, float)) else ""
    return f"'value' must be {_ACCEPTED[kind]}, got {got}{quote}"


def check_problem(raw: Any) -> str | None:
    """What is wrong with one check as written, or ``None`` if it is valid.

    Example:
        >>> check_problem({"type": "regexp", "value": "Paris"})
        "unknown type 'regexp'. Did you mean: regex? Accepted: contains, icontains, not_contains, regex, equals, starts_with, is_json, max_words, min_words"
        >>> check_problem({"type": "max_words", "value": "5"})
        "'value' must be an integer >= 0, got '5' (str)"
        >>> check_problem({"type": "regex", "value": "[0-9"})
        "'value' '[0-9' is not a valid regular expression (unterminated character set at position 0)"
    """
    if not isinstance(raw, Mapping):
        return "must be a mapping like {type: contains, value: Paris}"
    unknown = [k for k in raw if k not in CHECK_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), CHECK_KEYS, n=1)
        hint = f" Did you mean: {close[0]}?" if close else ""
        return f"unknown key {unknown[0]!r}.{hint} Accepted: {', '.join(CHECK_KEYS)}"
    kind = raw.get("type")
    if kind is None:
        return f"has no 'type': accepted {', '.join(CHECK_TYPES)}"
    if kind not in CHECK_TYPES:
        close = difflib.get_close_matches(str(kind), list(CHECK_TYPES), n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"unknown type {kind!r}.{hint} Accepted: {', '.join(CHECK_TYPES)}"
    return _value_problem(CHECK_TYPES[kind], raw.get("value"))


def problems(checks: Any = None, expected: Any = None) -> list[str]:
    """What is wrong with a prompt's ``checks`` and ``expected`` fields, one line each.

    Args:
        checks: The prompt's ``checks`` field as written (``None`` if absent).
        expected: Its ``expected`` field (``None`` if absent).

    Returns:
        The problems, each naming the check (``check 2 {...}: ...``); empty if all is valid.

    Example:
        >>> problems([{"type": "contains", "value": "Paris"}, {"type": "min_words"}])
        ["check 2 {'type': 'min_words'}: 'value' must be an integer >= 0, got no value"]
        >>> problems(expected=4)
        ["expected 4: 'value' must be a non-empty string, got 4 (int); put it in quotes"]
    """
    found = []
    if checks is not None and not _is_list(checks):
        found.append(f"checks must be a list of checks like [{{type: contains, value: Paris}}],"
                     f" got {checks!r}")
        checks = None
    for index, raw in enumerate(checks or (), start=1):
        problem = check_problem(raw)
        if problem:
            found.append(f"check {index} {_plain(raw)!r}: {problem}")
    if expected is not None:
        problem = _value_problem("text", expected)
        if problem:
            found.append(f"expected {expected!r}: {problem}")
    return found


def _plain(raw: Any) -> Any:
    return dict(raw) if isinstance(raw, Mapping) else raw


def parse_checks(checks: Any = None, expected: Any = None) -> tuple[Check, ...]:
    """Validate a prompt's checks and build them (``expected: X`` becomes ``contains X``).

    Raises:
        CheckError: A check is malformed (the message is the first of :func:`problems`).

    Example:
        >>> parse_checks([{"type": "max_words", "value": 3}], expected="Paris")
        (Check(type='max_words', value=3), Check(type='contains', value='Paris'))
    """
    found = problems(checks, expected)
    if found:
        raise CheckError(found[0])
    out = [Check(raw["type"], tuple(v) if _is_list(v := raw.get("value")) else v)
           for raw in checks or ()]
    if expected is not None:
        out.append(Check("contains", expected))
    return tuple(out)


def _json(text: str, keys: tuple[str, ...] | None) -> bool:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return keys is None or (isinstance(data, dict) and all(k in data for k in keys))


def passes(check: Check, text: str) -> bool:
    """Whether the text passes one check.

    Example:
        >>> passes(Check("icontains", "paris"), "The capital is Paris.")
        True
        >>> passes(Check("is_json", ("name", "age")), '```json\\n{"name": "Ada", "age": 36}\\n```')
        True
        >>> passes(Check("max_words", 2), "Paris, France.")  # 2 words; punctuation is not one
        True
    """
    kind, value = check.type, check.value
    if kind == "contains":
        return value in text
    if kind == "icontains":
        return value.casefold() in text.casefold()
    if kind == "not_contains":
        return value not in text
    if kind == "regex":
        return re.search(value, text) is not None
    if kind == "equals":
        return text.strip() == value.strip()
    if kind == "starts_with":
        return text.lstrip().startswith(value)
    if kind == "is_json":
        return _json(text, value)
    if kind == "max_words":
        return len(word_tokens(text)) <= value
    if kind == "min_words":
        return len(word_tokens(text)) >= value
    raise ValueError(f"unknown check type {kind!r}")  # a Check not built by parse_checks


def check_pass_batch(samples: Samples) -> np.ndarray:
    """:func:`check_pass` of every completion of a batch (its prompt's checks: ``checks``)."""
    return samples.memo("check_pass", lambda: np.fromiter(
        (check_pass(t, c) for t, c in zip(samples.texts, samples.column("checks"))),
        dtype=np.float64, count=samples.n_docs))


@metric(kind="sample", batch=check_pass_batch, batch_on="samples", inputs=("checks",),
        description="1 if the completion passes every check of its prompt, else 0; "
                    "NaN without checks")
def check_pass(text: str | None, checks: Sequence[Check] | None) -> float:
    """1 if the text passes every check, 0 if it fails one; NaN if there are no checks.

    Args:
        text: The completion (``None`` counts as empty).
        checks: Its prompt's checks (from :func:`parse_checks`).

    Returns:
        1.0, 0.0 or NaN.

    Example:
        >>> rules = parse_checks([{"type": "max_words", "value": 3}], expected="Paris")
        >>> check_pass("Paris.", rules), check_pass("It is Paris, of course.", rules)
        (1.0, 0.0)
        >>> check_pass("Paris.", ())
        nan
    """
    if not checks:
        return math.nan
    text = text if isinstance(text, str) else ""
    return 1.0 if all(passes(c, text) for c in checks) else 0.0


def pass_rate_batch(samples: Samples) -> np.ndarray:
    """:func:`pass_rate` of every group of a batch."""
    return group_mean(check_pass_batch(samples), samples)


@metric(kind="group", batch=pass_rate_batch, batch_on="samples", inputs=("checks",),
        description="share of the group's completions that pass every check of the prompt")
def pass_rate(texts: Sequence[str], checks: Sequence[Check] | None) -> float:
    """Mean of :func:`check_pass` over the texts (the k samples of one prompt in one cell).

    Args:
        texts: The completions.
        checks: The prompt's checks.

    Returns:
        A value in [0, 1]; NaN without checks or without texts.

    Example:
        >>> pass_rate(["Paris", "Lyon", "Paris!"], parse_checks(expected="Paris"))
        0.6666666666666666
    """
    texts = list(texts)
    return float(pass_rate_batch(Samples(texts, columns={"checks": [checks] * len(texts)}))[0])
