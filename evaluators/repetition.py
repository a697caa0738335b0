"""Repetition metrics: how much one text repeats itself (and how often texts loop).

Each metric is a pure function on a string, computed on the default word tokens
(:func:`evaluators.tokenize`) unless a ``tokenizer`` is given; the ``*_batch`` twins score
many texts at once for the scoring step and share one implementation with them.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence

import numpy as np

from hfsweep.evaluators._batch import Samples, TokenBatch, group_mean, per_doc_ratio, single
from hfsweep.evaluators.registry import metric
from hfsweep.evaluators.tokens import Tokenizer

#: Longest phrase, in tokens, that :func:`loop` looks for (as in Holtzman et al. 2020).
LOOP_MAX_N = 90


def seq_rep_n_batch(tokens: TokenBatch, n: int) -> np.ndarray:
    """:func:`seq_rep_n` of every text of a batch."""
    distinct = tokens.stats(n).distinct_per_doc
    return 1.0 - per_doc_ratio(distinct, tokens.n_ngrams(n))


@metric(kind="sample", batch=seq_rep_n_batch, batch_on="tokens",
        variants={f"seq_rep_{n}": {"n": n} for n in (2, 3, 4)},
        description="1 - unique {n}-grams / {n}-grams of the text")
def seq_rep_n(text: str, n: int = 4, tokenizer: Tokenizer | None = None) -> float:
    """Fraction of the text's n-grams that repeat an earlier n-gram of the text.

    ``seq_rep_n = 1 - |unique n-grams| / |n-grams|`` (Welleck et al. 2019, ``ngram_metrics``);
    NaN when the text has no n-gram (fewer than n tokens).

    Args:
        text: The text.
        n: The n-gram order.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in [0, 1), or NaN.

    Example:
        >>> seq_rep_n("a b a b a b", n=2)  # bigrams: ab ba ab ba ab -> 2 unique of 5
        0.6
    """
    return float(seq_rep_n_batch(single(text, tokenizer), n)[0])


def rep_w_batch(tokens: TokenBatch, w: int) -> np.ndarray:
    """:func:`rep_w` of every text of a batch."""
    repeated = tokens.prev_gap() <= w
    doc = np.repeat(np.arange(tokens.n_docs), tokens.lengths)
    hits = np.bincount(doc, weights=repeated, minlength=tokens.n_docs)
    return per_doc_ratio(hits, tokens.lengths)


@metric(kind="sample", batch=rep_w_batch, batch_on="tokens", variants={"rep_w": {"w": 16}},
        description="fraction of tokens already among the {w} tokens before them")
def rep_w(text: str, w: int = 16, tokenizer: Tokenizer | None = None) -> float:
    """Fraction of tokens that already occurred among the ``w`` tokens before them.

    ``rep_w = (1/L) * sum_t 1[x_t in x_{t-w}..x_{t-1}]`` over all L positions (Fu et al.
    2021); the first token counts as not repeated. NaN for a text without tokens.

    Args:
        text: The text.
        w: Window length in tokens.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in [0, 1), or NaN.

    Example:
        >>> rep_w("a b a c d e a", w=2)  # the 2nd 'a' is 2 back; the 3rd is 4 back
        0.14285714285714285
    """
    return float(rep_w_batch(single(text, tokenizer), w)[0])


def _candidates(tokens: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
    """(text, n) pairs that may have r(n) >= 2: the block before the last one starts alike."""
    lengths, ids = tokens.lengths, tokens.ids
    ends = tokens.starts + lengths
    docs_out, ns_out = [], []
    top = min(LOOP_MAX_N, int(lengths.max()) // 2) if tokens.n_docs else 0
    for n in range(1, top + 1):
        docs = np.flatnonzero(lengths >= 2 * n)
        last = ends[docs] - 1
        ok = np.ones(len(docs), dtype=bool)
        for k in range(min(n, 3)):
            ok &= ids[last - k - n] == ids[last - k]
        docs_out.append(docs[ok])
        ns_out.append(np.full(int(ok.sum()), n))
    if not docs_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    docs, ns = np.concatenate(docs_out), np.concatenate(ns_out)
    order = np.lexsort((ns, docs))
    return docs[order], ns[order]


def loop_batch(tokens: TokenBatch) -> np.ndarray:
    """:func:`loop` of every text of a batch (computed once per batch: ``loop_rate`` reuses it)."""
    return tokens.memo("loop", lambda: _loop_batch(tokens))


def _loop_batch(tokens: TokenBatch) -> np.ndarray:
    out = np.where(tokens.lengths > 0, 0.0, np.nan)
    docs, ns = _candidates(tokens)
    if not len(docs):
        return out
    bounds = np.flatnonzero(np.diff(docs)) + 1
    for doc_ns in np.split(np.arange(len(docs)), bounds):
        doc = int(docs[doc_ns[0]])
        rev = tokens.doc_tokens(doc)[::-1].tolist()
        best_r, best_n = 1, 0
        for n in ns[doc_ns].tolist():  # ascending: a tie keeps the smallest n
            block, r = rev[:n], 1
            while rev[n * r:n * (r + 1)] == block:
                r += 1
            if r > best_r:
                best_r, best_n = r, n
        out[doc] = float(best_r > 1 and (best_n >= 3 or best_r > 50))
    return out


@metric(kind="sample", batch=loop_batch, batch_on="tokens",
        description="1 if the text ends in a repeated phrase (Holtzman et al. 2020)")
def loop(text: str, tokenizer: Tokenizer | None = None) -> float:
    """1 if the text ends in a loop (the same phrase repeated up to its end), else 0.

    As in Holtzman et al. 2020 (``degen/metrics/repetition.py``): for n = 1..90 let r(n) be
    the number of consecutive copies of the final n-token block at the end of the text
    (r >= 1). Let n* be the smallest n with the largest r(n). The text loops iff
    ``r(n*) > 1 and (n* >= 3 or r(n*) > 50)``. NaN for a text without tokens.

    Args:
        text: The text.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        1.0, 0.0, or NaN.

    Example:
        >>> loop("Once upon a time I said yes I said yes I said yes")
        1.0
    """
    return float(loop_batch(single(text, tokenizer))[0])


def loop_rate_batch(tokens: TokenBatch) -> np.ndarray:
    """:func:`loop_rate` of every group of a batch."""
    return group_mean(loop_batch(tokens), tokens)


@metric(kind="group", batch=loop_rate_batch, batch_on="tokens",
        description="fraction of texts that end in a loop")
def loop_rate(texts: Sequence[str], tokenizer: Tokenizer | None = None) -> float:
    """Fraction of the texts that end in a loop: the mean of :func:`loop`.

    Holtzman et al.'s "Repetition %" / 100. Texts whose ``loop`` is NaN (no tokens) are
    skipped; NaN if no text is left.

    Args:
        texts: The texts.
        tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.

    Returns:
        A value in [0, 1], or NaN.

    Example:
        >>> loop_rate(["no loop here", "go go go go go go go go", "a b c a b c a b c"])
        0.3333333333333333
    """
    return float(loop_rate_batch(single(list(texts), tokenizer))[0])


def compression_ratio_batch(samples: Samples) -> np.ndarray:
    """:func:`compression_ratio` of every text of a batch."""
    return np.fromiter((compression_ratio(t) for t in samples.texts), dtype=np.float64,
                       count=samples.n_docs)


@metric(kind="sample", batch=compression_ratio_batch, batch_on="samples",
        description="UTF-8 bytes / gzip bytes; higher = more repetitive")
def compression_ratio(text: str) -> float:
    """UTF-8 size of the text over its gzip size; higher means more repetitive.

    ``len(b) / len(gzip.compress(b, mtime=0))`` with ``b = text.encode("utf-8")``
    (Shaib et al. 2024, compressed once). NaN for an empty text.

    Args:
        text: The text.

    Returns:
        A positive value, or NaN.

    Example:
        >>> round(compression_ratio("ha " * 200), 2)
        20.69
    """
    data = text.encode("utf-8") if text else b""
    if not data:
        return math.nan
    return len(data) / len(gzip.compress(data, mtime=0))

