"""Exact self-BLEU in near-linear time (internal; see :func:`evaluators.diversity.self_bleu`).

For text i, BLEU(hyp = i, refs = the other texts of its group) as NLTK's ``sentence_bleu``
with uniform weights and ``SmoothingFunction().method1`` computes it:

* clipped count of an n-gram g of i = min(c_i(g), max_{j != i} c_j(g)). The max over the
  others is the group's largest count of g, unless i alone holds it, then the second largest
  (equal to the largest when two texts share it). So one pass per order keeps the largest
  and second-largest count of each (n-gram, group): ``OrderStats.clipped_per_doc``, built in
  :mod:`evaluators._batch` with the other n-gram statistics.
* p_n = clipped / max(1, |n-grams of i|), or 0.1 / that denominator when no n-gram matches
  (method1's epsilon; a text shorter than n thus gets p_n = 0.1).
* BLEU = 0 when no unigram matches (NLTK returns 0 before smoothing; an empty text too).
* r = the other length closest to len(i), ties to the shorter: from the group's lengths,
  sorted. BP = 1 if len(i) > r, else exp(1 - r / len(i)).
* BLEU = BP * exp(sum_n (1/N) ln p_n); self-BLEU = mean over the group's texts.
"""

from __future__ import annotations

import numpy as np

from hfsweep.evaluators._batch import TokenBatch, group_mean

#: NLTK's ``SmoothingFunction().method1`` default epsilon.
EPSILON = 0.1


def _closest_other_length(tokens: TokenBatch) -> np.ndarray:
    """For each text, the length of the other text of its group closest to its own.

    Ties go to the shorter one; -1 for a text alone in its group.
    """
    lengths, group = tokens.lengths, tokens.group
    order = np.lexsort((lengths, group))
    s_len, s_grp = lengths[order], group[order]
    key_hi = np.int64(lengths.max() + 1) if tokens.n_docs else np.int64(1)
    key = s_grp * key_hi + s_len
    own = group * key_hi + lengths
    lo = np.searchsorted(key, own, side="left")
    hi = np.searchsorted(key, own, side="right")
    size = len(key)
    has_pred = (lo > 0) & (s_grp[np.maximum(lo - 1, 0)] == group) if size else lo > 0
    has_succ = (hi < size) & (s_grp[np.minimum(hi, size - 1)] == group) if size else hi < 0
    pred = np.where(has_pred, s_len[np.maximum(lo - 1, 0)] if size else 0, -1)
    succ = np.where(has_succ, s_len[np.minimum(hi, size - 1)] if size else 0, -1)
    # ties (equal distance) go to the shorter, i.e. the predecessor
    use_pred = has_pred & (~has_succ | (lengths - pred <= succ - lengths))
    closest = np.where(use_pred, pred, np.where(has_succ, succ, -1))
    return np.where(hi - lo >= 2, lengths, closest)


def self_bleu_per_text(tokens: TokenBatch, max_n: int = 4) -> np.ndarray:
    """BLEU of each text against the other texts of its group (NaN if alone)."""
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    lengths = tokens.lengths.astype(np.float64)
    weight = 1 / max_n
    log_sum = np.zeros(tokens.n_docs)
    first_matches = None
    for n in range(1, max_n + 1):
        matches = tokens.stats(n).clipped_per_doc
        if n == 1:
            first_matches = matches
        den = np.maximum(tokens.n_ngrams(n), 1).astype(np.float64)
        p = np.where(matches > 0, matches, EPSILON) / den
        log_sum += weight * np.log(p)
    ref = _closest_other_length(tokens).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(lengths > ref, 1.0, np.exp(1 - ref / lengths))
        score = np.where(first_matches > 0, bp * np.exp(log_sum), 0.0)
    return np.where(ref < 0, np.nan, score)


def self_bleu_batch(tokens: TokenBatch, max_n: int = 4) -> np.ndarray:
    """Self-BLEU of every group of a batch (NaN for a group of fewer than 2 texts)."""
    per_text = self_bleu_per_text(tokens, max_n)
    out = group_mean(per_text, tokens)
    return np.where(tokens.docs_per_group >= 2, out, np.nan)
