"""One registry of metrics, keyed by the report column name.

Each :class:`Evaluator` knows whether it scores one completion (``"sample"``) or the k
completions of one prompt in one cell (``"group"``), the pure metric function behind it, and
how to compute it for a whole batch at once (what the scoring step calls).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import diversity, length, repetition
from ._batch import Samples
from .errors import DuplicateEvaluatorError, UnknownEvaluatorError

Kind = Literal["sample", "group"]


@dataclass(frozen=True)
class Evaluator:
    """A registered metric.

    Attributes:
        name: Registry key and report column (``seq_rep_4``, ``self_bleu``, ...).
        kind: ``"sample"`` (one value per completion) or ``"group"`` (one per group).
        function: The pure metric with its parameters bound (text(s) in, float out).
        compute: Batch form: one value per text (sample) or per group (group) of a
            :class:`~evaluators._batch.Samples`.
        description: One line for listings and reports.
    """

    name: str
    kind: Kind
    function: Callable[..., float]
    compute: Callable[[Samples], np.ndarray]
    description: str


_REGISTRY: dict[str, Evaluator] = {}


def register(evaluator: Evaluator) -> Evaluator:
    """Add a metric to the registry.

    Args:
        evaluator: The metric.

    Returns:
        The same evaluator.

    Raises:
        DuplicateEvaluatorError: The name is already registered.
    """
    if evaluator.name in _REGISTRY:
        raise DuplicateEvaluatorError(
            f"Evaluator {evaluator.name!r} is already registered; pick another name.")
    if evaluator.kind not in ("sample", "group"):
        raise ValueError(f"Evaluator kind must be 'sample' or 'group', got {evaluator.kind!r}")
    _REGISTRY[evaluator.name] = evaluator
    return evaluator


def names(kind: Kind | None = None) -> list[str]:
    """Registered metric names in registration order, optionally of one kind.

    Example:
        >>> names("group")[:3]
        ['distinct_1', 'distinct_2', 'distinct_3']
    """
    return [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]


def get(name: str) -> Evaluator:
    """The metric registered under ``name``.

    Raises:
        UnknownEvaluatorError: No such name; the message lists close names and all names.

    Example:
        >>> get("self_blue")
        Traceback (most recent call last):
        ...
        evaluators.errors.UnknownEvaluatorError: Unknown evaluator 'self_blue'. Did you mean: self_bleu? Available: ...
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownEvaluatorError(
        f"Unknown evaluator {name!r}.{hint} Available: {', '.join(_REGISTRY)}")


def resolve(selected: Iterable[str] | None = None) -> list[Evaluator]:
    """The evaluators for a list of names (default :data:`DEFAULT_EVALUATORS`), deduplicated.

    Raises:
        UnknownEvaluatorError: A name is not registered.
    """
    chosen = DEFAULT_EVALUATORS if selected is None else list(selected)
    return [get(n) for n in dict.fromkeys(chosen)]


def _add(name: str, kind: Kind, function: Callable[..., float],
         compute: Callable[[Samples], Any], description: str) -> None:
    register(Evaluator(name, kind, function, compute, description))


def _bind(f: Callable[..., float], **params: Any) -> Callable[..., float]:
    def bound(arg: Any, **kwargs: Any) -> float:
        return f(arg, **params, **kwargs)

    bound.__name__ = f"{f.__name__}({', '.join(f'{k}={v}' for k, v in params.items())})"
    bound.__doc__ = f.__doc__
    return bound


def _register_builtins() -> None:
    rep, div, ln = repetition, diversity, length
    for n in (2, 3, 4):
        _add(f"seq_rep_{n}", "sample", _bind(rep.seq_rep_n, n=n),
             lambda s, n=n: rep.seq_rep_n_batch(s.tokens, n),
             f"1 - unique {n}-grams / {n}-grams of the text")
    _add("rep_w", "sample", _bind(rep.rep_w, w=16), lambda s: rep.rep_w_batch(s.tokens, 16),
         "fraction of tokens already among the 16 tokens before them")
    _add("loop", "sample", rep.loop,
         lambda s: s.tokens.memo("loop", lambda: rep.loop_batch(s.tokens)),
         "1 if the text ends in a repeated phrase (Holtzman et al. 2020)")
    _add("compression_ratio", "sample", rep.compression_ratio, rep.compression_ratio_batch,
         "UTF-8 bytes / gzip bytes; higher = more repetitive")
    _add("chars", "sample", ln.chars, ln.chars_batch, "characters")
    _add("words", "sample", ln.words, lambda s: ln.words_batch(s.tokens),
         "default-tokenizer tokens")
    _add("tokens", "sample", ln.tokens, ln.tokens_batch,
         "completion tokens reported by the server (NaN if absent)")
    _add("truncated", "sample", ln.truncated, ln.truncated_batch,
         "1 if generation hit max_tokens (finish reason 'length')")
    _add("empty", "sample", ln.empty, ln.empty_batch, "1 if the text is empty or whitespace")
    for n in (1, 2, 3):
        _add(f"distinct_{n}", "group", _bind(div.distinct_n, n=n),
             lambda s, n=n: div.distinct_n_batch(s.tokens, n),
             f"distinct {n}-grams / {n}-grams, pooled over the group")
    _add("self_bleu", "group", _bind(div.self_bleu, max_n=4),
         lambda s: div.self_bleu_batch(s.tokens, 4),
         "mean BLEU-4 of each text against the others (NLTK method1); higher = less diverse")
    for n in (1, 2, 3, 4):
        _add(f"ngram_entropy_{n}", "group", _bind(div.ngram_entropy, n=n),
             lambda s, n=n: div.ngram_entropy_batch(s.tokens, n),
             f"entropy (nats) of the pooled {n}-gram distribution")
    _add("zipf", "group", div.zipf, lambda s: div.zipf_batch(s.tokens),
         "Zipf coefficient of pooled token counts (Holtzman et al. 2020)")
    _add("loop_rate", "group", rep.loop_rate, lambda s: rep.loop_rate_batch(s.tokens),
         "fraction of texts that end in a loop")
    _add("semantic_diversity", "group", div.semantic_diversity, div.semantic_diversity_batch,
         "mean pairwise cosine distance of all-MiniLM-L6-v2 embeddings (extra 'semantic')")


_register_builtins()

#: What a run scores unless its config names other evaluators (no optional extras).
DEFAULT_EVALUATORS: list[str] = [
    "seq_rep_2", "seq_rep_3", "seq_rep_4", "rep_w", "loop", "compression_ratio",
    "chars", "words", "tokens", "truncated", "empty",
    "distinct_1", "distinct_2", "distinct_3", "self_bleu", "ngram_entropy_4", "zipf",
    "loop_rate",
]
