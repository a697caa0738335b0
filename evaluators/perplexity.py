"""Perplexity of a completion under the model that generated it.

From what the server reported: the sum of the generated tokens' log-probabilities (natural
log, under the model's raw, pre-sampling distribution) and their number. The runner stores
them in the completion columns ``logprob_sum`` and ``logprob_tokens``; a target that returns
no log-probabilities leaves them null, and perplexity is then NaN.
"""

from __future__ import annotations

import math

import numpy as np

from hfsweep.evaluators._batch import Samples
from hfsweep.evaluators.registry import metric


def perplexity_batch(samples: Samples) -> np.ndarray:
    """:func:`perplexity` of every completion of a batch."""
    total = samples.numeric("logprob_sum")
    count = samples.numeric("logprob_tokens")
    out = np.full(samples.n_docs, np.nan)
    ok = (count > 0) & np.isfinite(total)
    out[ok] = np.exp(-total[ok] / count[ok])
    return out


@metric(kind="sample", batch=perplexity_batch, batch_on="samples",
        inputs=("logprob_sum", "logprob_tokens"),
        description="exp(-mean log-probability of the generated tokens); NaN without logprobs")
def perplexity(logprob_sum: float | None, logprob_tokens: int | None) -> float:
    """Perplexity of the generated tokens: ``exp(-logprob_sum / logprob_tokens)``.

    Holtzman et al. 2020, Table 1, column 1 (there under the model that generated the text,
    as here). NaN when either value is missing or not finite, or for no tokens.

    Args:
        logprob_sum: Sum of the generated tokens' natural-log probabilities.
        logprob_tokens: Number of tokens in that sum.

    Returns:
        A value >= 1 for real log-probabilities (each <= 0), or NaN.

    Example:
        >>> # three tokens, each of probability 1/2: exp(-3 ln(1/2) / 3) = 2
        >>> round(perplexity(3 * math.log(0.5), 3), 12)
        2.0
        >>> perplexity(None, 3), perplexity(-1.0, 0)
        (nan, nan)
    """
    if logprob_sum is None or logprob_tokens is None:
        return math.nan
    total, count = float(logprob_sum), float(logprob_tokens)
    if not (count > 0 and math.isfinite(total)):
        return math.nan
    return math.exp(-total / count)
