"""Vectorised n-gram machinery shared by the token metrics (internal).

Every text is tokenized once, its tokens mapped to integer ids, and all texts are laid end to
end in one array. N-gram counts per (n-gram, text) and per (n-gram, group) then come from one
stable sort per order n, so one pass serves seq-rep, distinct-n, entropy, Zipf and self-BLEU
for 100,000 texts as cheaply as for one. The public metric functions call this module with a
single text or group, so there is one implementation, not a fast one and a reference one.

Texts of one group must be contiguous (``groups`` non-decreasing).
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .tokens import Tokenizer, tokenize


@dataclass(frozen=True)
class NgramRuns:
    """Counts of the n-grams of one order, sorted by n-gram id, then text.

    A *run* is one distinct (n-gram, text) pair; a *segment* is one distinct
    (n-gram, group) pair, i.e. consecutive runs of one n-gram inside one group.
    """

    n: int
    run_doc: np.ndarray  # text index of each run
    run_count: np.ndarray  # occurrences of the n-gram in that text
    seg_start: np.ndarray  # index of the first run of each segment
    seg_group: np.ndarray  # group of each segment
    seg_count: np.ndarray  # pooled occurrences of the n-gram in that group

    @property
    def seg_of_run(self) -> np.ndarray:
        """Segment index of every run."""
        lengths = np.diff(np.append(self.seg_start, len(self.run_doc)))
        return np.repeat(np.arange(len(self.seg_start)), lengths)


class TokenBatch:
    """Token ids of many texts, end to end, with lazily computed n-gram tables.

    Args:
        ids: Token ids of all texts, concatenated (int64).
        lengths: Number of tokens of each text.
        groups: Group index of each text (non-decreasing); ``None`` puts all in group 0.
        n_groups: Number of groups (a group may be empty); default ``max(groups) + 1``,
            at least 1.
    """

    def __init__(
        self,
        ids: np.ndarray,
        lengths: np.ndarray,
        groups: np.ndarray | None = None,
        n_groups: int | None = None,
    ) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.n_docs = len(self.lengths)
        if groups is None:
            groups = np.zeros(self.n_docs, dtype=np.int64)
        self.group = np.asarray(groups, dtype=np.int64)
        if self.n_docs and np.any(np.diff(self.group) < 0):
            raise ValueError("texts of one group must be contiguous (groups non-decreasing)")
        if n_groups is None:
            n_groups = int(self.group.max()) + 1 if self.n_docs else 1
        self.n_groups = n_groups
        self.starts = np.zeros(self.n_docs, dtype=np.int64)
        if self.n_docs:
            np.cumsum(self.lengths[:-1], out=self.starts[1:])
        self.vocab_size = int(self.ids.max()) + 1 if len(self.ids) else 1
        self.docs_per_group = np.bincount(self.group, minlength=n_groups)
        self.tokens_per_group = np.bincount(self.group, weights=self.lengths, minlength=n_groups)
        self._runs: dict[int, NgramRuns] = {}
        self._chain: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._prev_gap: np.ndarray | None = None

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        tokenizer: Tokenizer | None = None,
        groups: np.ndarray | None = None,
        n_groups: int | None = None,
    ) -> TokenBatch:
        """Tokenize each text once and map its tokens to integer ids.

        Args:
            texts: The texts (``None`` counts as an empty text).
            tokenizer: Maps a text to tokens; default :func:`evaluators.tokenize`.
            groups: Group index of each text, non-decreasing.
            n_groups: Number of groups.

        Returns:
            The batch.
        """
        split = tokenizer or tokenize
        vocab: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        lookup = vocab.__getitem__
        buf = array("q")
        lengths = array("q")
        for text in texts:
            toks = split(text) if text else ()
            lengths.append(len(toks))
            buf.extend(map(lookup, toks))
        return cls(np.frombuffer(buf, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64),
                   groups, n_groups)

    def n_ngrams(self, n: int) -> np.ndarray:
        """Number of n-grams in each text (0 for texts shorter than n)."""
        return np.maximum(self.lengths - (n - 1), 0)

    def runs(self, n: int) -> NgramRuns:
        """The (n-gram, text) and (n-gram, group) counts of order n (cached)."""
        if n < 1:
            raise ValueError(f"n-gram order must be >= 1, got {n}")
        if n not in self._runs:
            self._build(n)
        return self._runs[n]

    def _build(self, n: int) -> None:
        if self._chain is None or self._chain[0] >= n:
            doc = np.repeat(np.arange(self.n_docs), self.lengths)
            offset = np.arange(len(self.ids)) - self.starts[doc] if len(doc) else doc
            self._chain = (0, doc, offset, np.zeros(len(self.ids), dtype=np.int64))
        order, doc, offset, gid = self._chain
        pos = self.starts[doc] + offset if len(doc) else doc
        while order < n:
            order += 1
            if order == 1:
                key = self.ids[pos]
            else:
                keep = offset + order <= self.lengths[doc]
                doc, offset, pos, gid = doc[keep], offset[keep], pos[keep], gid[keep]
                key = gid * self.vocab_size + self.ids[pos + order - 1]
            perm = np.argsort(key, kind="stable")  # (n-gram, position) order = (n-gram, text)
            sorted_key = key[perm]
            new_gram = np.ones(len(key), dtype=bool)
            np.not_equal(sorted_key[1:], sorted_key[:-1], out=new_gram[1:])
            del sorted_key
            gid = np.empty(len(key), dtype=np.int64)
            gid[perm] = np.cumsum(new_gram) - 1
            sorted_doc = doc[perm]
            if order == 1:
                self._prev_gap = self._gaps(perm, new_gram, sorted_doc)
            if order not in self._runs:
                self._runs[order] = self._tabulate(order, new_gram, sorted_doc)
            del perm, new_gram, sorted_doc, key
        self._chain = (order, doc, offset, gid)

    def _gaps(self, perm: np.ndarray, new_gram: np.ndarray, sorted_doc: np.ndarray) -> np.ndarray:
        """Distance from each position back to the previous same token in its text."""
        gap = np.full(len(perm), np.iinfo(np.int64).max, dtype=np.int64)
        if len(perm) > 1:
            same = ~new_gram[1:] & (sorted_doc[1:] == sorted_doc[:-1])
            gap[perm[1:][same]] = (perm[1:] - perm[:-1])[same]
        return gap

    def _tabulate(self, n: int, new_gram: np.ndarray, sorted_doc: np.ndarray) -> NgramRuns:
        size = len(sorted_doc)
        new_run = new_gram.copy()
        if size > 1:
            new_run[1:] |= sorted_doc[1:] != sorted_doc[:-1]
        run_start = np.flatnonzero(new_run)
        run_doc = sorted_doc[run_start]
        run_count = np.diff(np.append(run_start, size))
        run_group = self.group[run_doc]
        new_seg = new_gram[run_start]
        if len(run_start) > 1:
            new_seg[1:] |= run_group[1:] != run_group[:-1]
        seg_start = np.flatnonzero(new_seg)
        seg_count = (np.add.reduceat(run_count, seg_start) if len(seg_start)
                     else np.zeros(0, dtype=np.int64))
        return NgramRuns(n, run_doc, run_count, seg_start, run_group[seg_start], seg_count)

    def prev_gap(self) -> np.ndarray:
        """For each token position, how far back the same token last occurred in its text.

        ``int64`` max where the token has not occurred before in the text.
        """
        self.runs(1)  # building order 1 records the gaps
        assert self._prev_gap is not None
        return self._prev_gap

    def doc_tokens(self, i: int) -> np.ndarray:
        """Token ids of text i."""
        return self.ids[self.starts[i]:self.starts[i] + self.lengths[i]]


def per_doc_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float, NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(len(den), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def group_mean(values: np.ndarray, batch: TokenBatch) -> np.ndarray:
    """Mean of per-text values in each group, skipping NaN; NaN for a group without values."""
    ok = ~np.isnan(values)
    total = np.bincount(batch.group[ok], weights=values[ok], minlength=batch.n_groups)
    count = np.bincount(batch.group[ok], minlength=batch.n_groups)
    return per_doc_ratio(total, count)


def single(texts: Sequence[str] | str, tokenizer: Tokenizer | None) -> TokenBatch:
    """A batch of one text (a ``str``) or of one group (a sequence of texts)."""
    if isinstance(texts, str):
        texts = [texts]
    return TokenBatch.from_texts(list(texts), tokenizer, n_groups=1)


class Samples:
    """The inputs of one scoring pass: texts and what the server reported about them.

    Args:
        texts: Completion texts (``None`` counts as empty).
        groups: Group index of each text, non-decreasing; ``None`` puts all in group 0.
        n_groups: Number of groups.
        finish_reasons: Finish reason of each text (``None`` if unknown).
        completion_tokens: Completion tokens the server reported (NaN if absent).
        tokenizer: Tokenizer for the token metrics; default :func:`evaluators.tokenize`.
    """

    def __init__(
        self,
        texts: Sequence[str | None],
        groups: np.ndarray | None = None,
        n_groups: int | None = None,
        finish_reasons: Sequence[str | None] | None = None,
        completion_tokens: Sequence[float | None] | np.ndarray | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.texts = [t if isinstance(t, str) else "" for t in texts]
        self.n_docs = len(self.texts)
        self.group = (np.zeros(self.n_docs, dtype=np.int64) if groups is None
                      else np.asarray(groups, dtype=np.int64))
        self.n_groups = (n_groups if n_groups is not None
                         else int(self.group.max()) + 1 if self.n_docs else 1)
        self.finish_reasons = (list(finish_reasons) if finish_reasons is not None
                               else [None] * self.n_docs)
        if completion_tokens is None:
            self.completion_tokens = np.full(self.n_docs, np.nan)
        else:
            values = [np.nan if v is None else v for v in completion_tokens]
            self.completion_tokens = np.asarray(values, dtype=np.float64)
        self.tokenizer = tokenizer
        self._tokens: TokenBatch | None = None

    @property
    def tokens(self) -> TokenBatch:
        """The texts tokenized once (built on first use)."""
        if self._tokens is None:
            self._tokens = TokenBatch.from_texts(self.texts, self.tokenizer, self.group,
                                                 self.n_groups)
        return self._tokens
