"""Diversity metrics of a group of texts (the k samples of one prompt, or any list).

n-grams are taken inside each text, never across two, then pooled over the group. Each
metric is a pure function on a list of strings using the default word tokens
(:func:`evaluators.tokenize`) unless a ``tokenizer`` is given; the ``*_batch`` twins score
many groups at once for the scoring step and share one implementation with them. Semantic
diversity, which needs an optional extra, is in :mod:`evaluators.semantic`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hfsweep.evaluators._batch import TokenBatch, per_doc_ratio, single
from hfsweep.evaluators._bleu import self_bleu_batch
from hfsweep.evaluators.registry import metric
from hfsweep.evaluators.tokens import Tokenizer

__all__ = [
    "ZIPF_MAX_RANK", "distinct_n", "distinct_n_batch", "ngram_entropy", "ngram_entropy_batch",
    "self_bleu", "self_bleu_batch", "zipf", "zipf_batch",
]

#: Zipf's coefficient is fitted over ranks 1..min(V, 5000), as in Holtzman et al. 2020.
ZIPF_MAX_RANK = 5000


def distinct_n_batch(tokens: TokenBatch, n: int) -> np.ndarray:
    """:func:`distinct_n` of every group of a batch."""
    stats = tokens.stats(n)
    return per_doc_ratio(stats.distinct_per_group, stats.total_per_group)


@metric(kind="group", batch=distinct_n_batch, batch_on="tokens",
        variants={f"distinct_{n}": {"n": n} for n in (1, 2, 3)},
        description="distinct {n}-grams / {n}-grams, pooled over the group")
def distinct_n(texts: Sequence[str], n: int = 2, tokenizer: Tokenizer | None = None) -> float:
    """Distinct n-grams over all n-grams, pooled over the texts (Li et al. 2016).

    ``distinct_n = |{g : g an n-gram of some text}| / sum_i |n-grams of text i|``, the corpus
    form of DialoGPT's ``calc_diversity``. NaN when the texts have no n-gram.

    Args:
        texts: The texts.
        n: The n-gram order.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in (0, 1], or NaN.

    Example:
        >>> distinct_n(["the cat sat", "the cat ran"], n=2)  # the-cat, cat-sat, cat-ran
        0.75
    """
    return float(distinct_n_batch(single(list(texts), tokenizer), n)[0])


@metric(kind="group", batch=self_bleu_batch, batch_on="tokens",
        variants={"self_bleu": {"max_n": 4}},
        description="mean BLEU-{max_n} of each text against the others (NLTK method1); "
                    "higher = less diverse")
def self_bleu(texts: Sequence[str], max_n: int = 4, tokenizer: Tokenizer | None = None) -> float:
    """Mean BLEU of each text against all the others (Zhu et al. 2018); higher = less diverse.

    ``self_bleu = (1/N) sum_i BLEU(hyp = text_i, refs = {text_j : j != i})`` with uniform
    weights 1/max_n, ``SmoothingFunction().method1`` (epsilon 0.1) and NLTK's brevity penalty
    (closest reference length, ties to the shorter); equal to NLTK's ``sentence_bleu`` to
    1e-9, including its zero for a text without a unigram match, but computed in
    near-linear time. NaN for fewer than 2 texts.

    Args:
        texts: The texts.
        max_n: Highest n-gram order.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in [0, 1], or NaN.

    Example:
        >>> self_bleu(["the cat sat on the mat", "the cat sat on the mat"])
        1.0
    """
    return float(self_bleu_batch(single(list(texts), tokenizer), max_n)[0])


def ngram_entropy_batch(tokens: TokenBatch, n: int) -> np.ndarray:
    """:func:`ngram_entropy` of every group of a batch."""
    stats = tokens.stats(n)
    return np.where(stats.total_per_group > 0, stats.entropy_per_group, np.nan)


@metric(kind="group", batch=ngram_entropy_batch, batch_on="tokens",
        variants={f"ngram_entropy_{n}": {"n": n} for n in (1, 2, 3, 4)},
        default={"ngram_entropy_4"},
        description="entropy (nats) of the pooled {n}-gram distribution")
def ngram_entropy(texts: Sequence[str], n: int = 2, tokenizer: Tokenizer | None = None) -> float:
    """Shannon entropy (nats) of the pooled n-gram distribution (Zhang et al. 2018).

    ``H = -sum_g p(g) ln p(g)`` with ``p(g) = count(g) / total`` over the n-grams of all
    texts pooled (DialoGPT's ``calc_entropy`` without its 1e-10). NaN without n-grams.

    Args:
        texts: The texts.
        n: The n-gram order.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value >= 0, or NaN.

    Example:
        >>> round(ngram_entropy(["a b", "c d"], n=1), 6)  # 4 equally likely words: ln 4
        1.386294
    """
    return float(ngram_entropy_batch(single(list(texts), tokenizer), n)[0])


def zipf_batch(tokens: TokenBatch) -> np.ndarray:
    """:func:`zipf` of every group of a batch."""
    counts = tokens.stats(1).group_counts
    assert counts is not None
    group, count = counts
    # sort by group, then count descending, as one int64 key (values only: ranks need no ids)
    top = np.int64(count.max()) + 1 if len(count) else np.int64(1)
    key = np.sort(group.astype(np.int64) * top + (top - 1 - count))
    group, count = key // top, top - 1 - key % top
    first = np.searchsorted(group, np.arange(tokens.n_groups))
    rank = np.arange(1, len(group) + 1) - first[group]
    keep = rank <= ZIPF_MAX_RANK
    group, x, y = group[keep], np.log(rank[keep]), np.log(count[keep])
    size = np.bincount(group, minlength=tokens.n_groups).astype(np.float64)
    mean_x = per_doc_ratio(np.bincount(group, weights=x, minlength=tokens.n_groups), size)
    mean_y = per_doc_ratio(np.bincount(group, weights=y, minlength=tokens.n_groups), size)
    dx, dy = x - mean_x[group], y - mean_y[group]
    sxx = np.bincount(group, weights=dx * dx, minlength=tokens.n_groups)
    sxy = np.bincount(group, weights=dx * dy, minlength=tokens.n_groups)
    slope = per_doc_ratio(sxy, sxx)
    return np.where(size >= 2, 0.0 - slope, np.nan)


@metric(kind="group", batch=zipf_batch, batch_on="tokens",
        description="Zipf coefficient of pooled token counts (Holtzman et al. 2020)")
def zipf(texts: Sequence[str], tokenizer: Tokenizer | None = None) -> float:
    """Zipf coefficient of the pooled token counts (Holtzman et al. 2020).

    ``zipf = -slope`` of ``scipy.stats.linregress(ln rank, ln count)`` over the token counts
    of all texts pooled and sorted descending, ranks 1..min(V, 5000). NaN with fewer than
    2 distinct tokens.

    Args:
        texts: The texts.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        The coefficient (about 1 for natural text), or NaN.

    Example:
        >>> round(zipf(["a a a a b b c"]), 6)  # counts 4, 2, 1 at ranks 1, 2, 3
        1.233662
    """
    return float(zipf_batch(single(list(texts), tokenizer))[0])

