"""Repetition metrics against independent reference implementations and hand-built texts."""

from __future__ import annotations

import gzip
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.util import ngrams

from hfsweep.evaluators import tokenize
from hfsweep.evaluators.repetition import compression_ratio, loop, loop_rate, rep_w, seq_rep_n

WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "é", "ß"]), max_size=40)


def ref_seq_rep(tokens: list[str], n: int) -> float:
    """Welleck et al.'s ngram_metrics: 1 - |unique n-grams| / |n-grams|."""
    grams = list(ngrams(tokens, n))
    return math.nan if not grams else 1.0 - len(Counter(grams)) / len(grams)


def ref_rep_w(tokens: list[str], w: int) -> float:
    if not tokens:
        return math.nan
    return sum(tokens[t] in tokens[max(0, t - w):t] for t in range(len(tokens))) / len(tokens)


def ref_loop(gen: list[str], max_n: int = 90) -> float:
    """Holtzman et al.'s degen/metrics/repetition.py, loop body transcribed."""
    if not gen:
        return math.nan
    rev_gen = list(reversed(gen))
    last_n_repeats = [0] * max_n
    for n in range(1, max_n + 1):
        n_repeat = 1
        while (len(rev_gen[n * n_repeat:n * (n_repeat + 1)]) == n
               and rev_gen[n * n_repeat:n * (n_repeat + 1)] == rev_gen[:n]):
            n_repeat += 1
        last_n_repeats[n - 1] = n_repeat
    best = max(range(max_n), key=lambda x: last_n_repeats[x])
    return float(last_n_repeats[best] > 1 and (best + 1 >= 3 or last_n_repeats[best] > 50))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9


@pytest.mark.parametrize(("text", "expected"), [
    ("the cat sat . " * 4, 1.0),  # a 4-token phrase repeated at the end
    ("It was a day . " + "we went home " * 3, 1.0),  # a phrase of length 3 repeated
    (" ".join(["no"] * 60), 1.0),  # one token 60 times: r = 60 > 50
    (" ".join(["no"] * 50), 0.0),  # one token 50 times: r = 50 is not > 50
    ("go on go on go on go on go on", 0.0),  # a 2-token phrase 5 times: n* = 2 < 3
    ("we went home we went home we went home and then slept .", 0.0),  # not at the end
    ("single", 0.0),
    ("", math.nan),
])
def test_loop_hand_built(text: str, expected: float) -> None:
    assert same(loop(text), expected)
    assert same(ref_loop(tokenize(text)), expected)


@given(WORDS)
@settings(max_examples=300, deadline=None)
def test_loop_matches_reference(tokens: list[str]) -> None:
    assert same(loop(" ".join(tokens), tokenizer=str.split), ref_loop(tokens))


def test_loop_long_phrase_and_cap() -> None:
    phrase = [f"w{i}" for i in range(89)]
    assert loop(" ".join(["intro"] + phrase * 2), tokenizer=str.split) == 1.0
    long_phrase = [f"w{i}" for i in range(91)]  # longer than the 90-token search
    assert loop(" ".join(["intro"] + long_phrase * 2), tokenizer=str.split) == 0.0
    assert ref_loop(["intro"] + long_phrase * 2) == 0.0


def test_loop_rate() -> None:
    texts = ["a b c a b c a b c", "nothing here", "", "x y z x y z"]
    assert loop_rate(texts) == pytest.approx(2 / 3)  # the empty text is skipped
    assert math.isnan(loop_rate([])) and math.isnan(loop_rate(["", "  "]))


@given(WORDS, st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_seq_rep_matches_counter(tokens: list[str], n: int) -> None:
    assert same(seq_rep_n(" ".join(tokens), n=n, tokenizer=str.split), ref_seq_rep(tokens, n))


def test_seq_rep_default_tokenizer() -> None:
    text = "Zoë said: «hi, hi, hi»! Zoë said: «hi, hi, hi»!"
    for n in (2, 3, 4):
        assert same(seq_rep_n(text, n=n), ref_seq_rep(tokenize(text), n))


@given(WORDS, st.integers(1, 20))
@settings(max_examples=300, deadline=None)
def test_rep_w_matches_naive(tokens: list[str], w: int) -> None:
    assert same(rep_w(" ".join(tokens), w=w, tokenizer=str.split), ref_rep_w(tokens, w))


@pytest.mark.parametrize("text", ["hello world", "ab" * 500, "naïve café ünïcode ✓ " * 20])
def test_compression_ratio(text: str) -> None:
    data = text.encode("utf-8")
    assert compression_ratio(text) == len(data) / len(gzip.compress(data, mtime=0))
    assert math.isnan(compression_ratio(""))
