"""The Vendi score of a group of texts (Friedman and Dieng 2023): the effective number of
distinct texts among the k samples of a prompt.

``vendi = exp(-sum_i lambda_i ln lambda_i)`` over the eigenvalues ``lambda_i`` of ``K / k``,
where ``K`` is the texts' similarity matrix, with ``K_ii = 1`` as the definition requires. The
kernel is the one of the ``vendi-score`` package's ``ngram_vendi_score`` (its text utilities):
per order n in 1..``max_n``, the cosine similarity of the texts' n-gram count vectors, then the
mean over the orders, normalized to a unit diagonal (``K_ij / sqrt(K_ii K_jj)``, the package's
``score_K(..., normalize=True)``). Without that step a text shorter than ``max_n`` tokens has no
n-gram of some order, its diagonal entry falls below 1, and the package's score can exceed k (2.04
for two samples of the demo). k identical texts score 1, k texts sharing no n-gram score k. An
empty text is one more output, identical to the other empty ones (similarity 1 to them, 0 to the
rest). NaN for a group without any token, like every metric on empty texts.

Off by default: one eigen-decomposition per group, cheap for a handful of samples but a cost
the default scoring does not need. Ask for it with ``evaluators=[...,vendi]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import linalg

from hfsweep.evaluators._batch import TokenBatch, single
from hfsweep.evaluators.registry import metric
from hfsweep.evaluators.tokens import Tokenizer

__all__ = ["vendi", "vendi_batch", "vendi_from_kernel"]


def vendi_from_kernel(kernel: np.ndarray) -> float:
    """``exp`` of the Shannon entropy of the eigenvalues of ``kernel / k`` (positive ones only).

    >>> round(vendi_from_kernel(np.eye(3)), 9), round(vendi_from_kernel(np.ones((3, 3))), 9)
    (3.0, 1.0)
    """
    eigen = linalg.eigvalsh(kernel / len(kernel))
    eigen = eigen[eigen > 0]
    return float(np.exp(-(eigen * np.log(eigen)).sum()))


def _cosine(docs: list[np.ndarray], n: int) -> np.ndarray:
    counts = [Counter(zip(*(doc[i:len(doc) - n + 1 + i].tolist() for i in range(n)))) for doc in docs]
    norms = np.sqrt([sum(c * c for c in count.values()) for count in counts])
    k = len(docs)
    sim = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            if norms[i] and norms[j]:
                small, large = sorted((counts[i], counts[j]), key=len)
                sim[i, j] = sim[j, i] = sum(c * large[g] for g, c in small.items() if g in large) / (norms[i] * norms[j])
    return sim


def _kernel(docs: list[np.ndarray], max_n: int) -> np.ndarray:
    """The mean n-gram cosine kernel, normalized to a unit diagonal; empty texts alike only to each other."""
    kernel = np.mean([_cosine(docs, n) for n in range(1, max_n + 1)], axis=0)
    empty = np.array([len(doc) == 0 for doc in docs])
    scale = np.sqrt(np.where(empty, 1.0, np.diagonal(kernel)))
    kernel = kernel / np.outer(scale, scale)
    kernel[np.ix_(empty, empty)] = 1.0
    return kernel


def vendi_batch(tokens: TokenBatch, max_n: int = 4) -> np.ndarray:
    """:func:`vendi` of every group of a batch."""
    out = np.full(tokens.n_groups, np.nan)
    first = np.concatenate([[0], np.cumsum(tokens.docs_per_group)])
    for group in range(tokens.n_groups):
        docs = [tokens.doc_tokens(i) for i in range(first[group], first[group + 1])]
        if any(len(doc) for doc in docs):  # no text at all has no diversity to measure, as elsewhere
            out[group] = vendi_from_kernel(_kernel(docs, max_n))
    return out


@metric(kind="group", batch=vendi_batch, batch_on="tokens", variants={"vendi": {"max_n": 4}}, default=False,
        description="Vendi score: effective number of distinct texts (n-gram cosine kernel, n = 1..{max_n}); "
                    "higher = more diverse")  # fmt: skip
def vendi(texts: Sequence[str], max_n: int = 4, tokenizer: Tokenizer | None = None) -> float:
    """The Vendi score of the texts with the n-gram kernel of the module docstring.

    Args:
        texts: The texts (the samples of one prompt).
        max_n: Highest n-gram order of the kernel.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in [1, len(texts)], or NaN without any token.

    Example:
        >>> round(vendi(["the cat sat on the mat"] * 3), 9), round(vendi(["one two three four", "five six seven eight"]), 9)
        (1.0, 2.0)
    """
    return float(vendi_batch(single(list(texts), tokenizer), max_n)[0])
