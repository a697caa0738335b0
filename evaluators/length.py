"""Length metrics of one completion: characters, words, server tokens, truncation, emptiness.

Unlike the ratio metrics, these are defined on an empty text: it has 0 characters and 0
words and it *is* empty, so they return 0/0/1 rather than NaN (a NaN would drop empty
completions from length averages). A completion is truncated only if the server said so
(finish reason ``length``); token usage the server did not report is NaN.
"""

from __future__ import annotations

import math

import numpy as np

from hfsweep.core import records
from hfsweep.evaluators._batch import Samples, TokenBatch, single
from hfsweep.evaluators.registry import metric
from hfsweep.evaluators.tokens import Tokenizer


def chars_batch(samples: Samples) -> np.ndarray:
    """:func:`chars` of every text of a batch."""
    return np.fromiter(map(len, samples.texts), dtype=np.float64, count=samples.n_docs)


@metric(kind="sample", batch=chars_batch, batch_on="samples", description="characters")
def chars(text: str) -> float:
    """Number of characters (Unicode code points) of the text.

    Args:
        text: The text.

    Returns:
        The character count (0 for an empty text).

    Example:
        >>> chars("Zoë!")
        4.0
    """
    return float(len(text)) if text else 0.0


def words_batch(tokens: TokenBatch) -> np.ndarray:
    """:func:`words` of every text of a batch."""
    return tokens.lengths.astype(np.float64)


@metric(kind="sample", batch=words_batch, batch_on="tokens",
        description="default-tokenizer tokens")
def words(text: str, tokenizer: Tokenizer | None = None) -> float:
    """Number of default-tokenizer tokens (words and punctuation marks) of the text.

    Args:
        text: The text.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        The token count (0 for an empty text).

    Example:
        >>> words("Hello, world!")
        4.0
    """
    return float(words_batch(single(text, tokenizer))[0])


def tokens_batch(samples: Samples) -> np.ndarray:
    """:func:`tokens` of every completion of a batch."""
    return samples.numeric("completion_tokens")


@metric(kind="sample", batch=tokens_batch, batch_on="samples", inputs=("completion_tokens",),
        description="completion tokens reported by the server (NaN if absent)")
def tokens(completion_tokens: int | float | None) -> float:
    """Completion tokens as reported by the server (``usage.completion_tokens``).

    Args:
        completion_tokens: The reported count, or ``None`` if the server sent none.

    Returns:
        The count as a float, NaN if absent.

    Example:
        >>> tokens(42), tokens(None)
        (42.0, nan)
    """
    if completion_tokens is None:
        return math.nan
    return float(completion_tokens)


def truncated_batch(samples: Samples) -> np.ndarray:
    """:func:`truncated` of every completion of a batch."""
    return np.fromiter(map(truncated, samples.column("finish_reason")), dtype=np.float64,
                       count=samples.n_docs)


@metric(kind="sample", batch=truncated_batch, batch_on="samples", inputs=("finish_reason",),
        description="1 if generation hit max_tokens (finish reason 'length'), else 0")
def truncated(finish_reason: str | None) -> float:
    """1 if generation stopped at ``max_tokens`` (finish reason ``length``), else 0.

    As ``hfsweep.core.records.is_truncated`` defines it for a completion that is not an error row. A
    completion whose finish reason is missing was not reported as cut, so it counts as
    0 (a failed request is an error row and is not scored at all).

    Args:
        finish_reason: The finish reason the server reported (``stop``, ``length``, ...).

    Returns:
        1.0 or 0.0.

    Example:
        >>> truncated("length"), truncated("stop"), truncated(None)
        (1.0, 0.0, 0.0)
    """
    return float(records.is_truncated(None, finish_reason))


def empty_batch(samples: Samples) -> np.ndarray:
    """:func:`empty` of every text of a batch."""
    return np.fromiter(map(empty, samples.texts), dtype=np.float64, count=samples.n_docs)


@metric(kind="sample", batch=empty_batch, batch_on="samples",
        description="1 if the text is empty or whitespace")
def empty(text: str) -> float:
    """1 if the text is empty or only whitespace, else 0 (``hfsweep.core.records.is_empty``).

    Args:
        text: The text.

    Returns:
        1.0 or 0.0.

    Example:
        >>> empty("  \\n"), empty("hi")
        (1.0, 0.0)
    """
    return float(records.is_empty(None, text))
