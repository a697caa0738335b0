"""The Vendi score against the ``vendi-score`` package: its ``score_K(normalize=True)`` on the
kernel its ``ngram_vendi_score`` builds (scikit-learn's CountVectorizer, rows normalized, the mean over
n = 1..4). The package's text module imports torch and transformers for its embedding kernel,
so its n-gram kernel is rebuilt here in its own five lines, with the same tokenizer as ours."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize
from vendi_score import vendi as reference

from hfsweep import evaluators
from hfsweep.evaluators import tokenize
from hfsweep.evaluators._batch import TokenBatch
from hfsweep.evaluators.vendi import vendi, vendi_batch

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the package's scipy.sparse.csr check


def package_ngram_vendi(texts: list[str], ns=(1, 2, 3, 4)) -> float:
    """``vendi_score.text_utils.ngram_vendi_score`` with our tokenizer (lowercase=False, as it has)."""
    kernels = []
    for n in ns:
        x = normalize(CountVectorizer(tokenizer=tokenize, ngram_range=(n, n), lowercase=False, token_pattern=None)
                      .fit_transform(texts))  # fmt: skip
        kernels.append((x @ x.T).toarray())
    return float(reference.score_K(np.stack(kernels).mean(axis=0), normalize=True))


WORDS = st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat", "dog", "ran", "ü"]), min_size=4, max_size=14)


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS.map(" ".join), min_size=1, max_size=6))
def test_vendi_equals_the_package(texts: list[str]) -> None:
    assert vendi(texts) == pytest.approx(package_ngram_vendi(texts), rel=1e-9, abs=1e-12)


def test_short_texts_keep_the_score_within_one_and_k() -> None:
    texts = ["the cat sat", "a dog", "the cat sat on the mat today"]  # fewer tokens than some orders
    assert vendi(texts) == pytest.approx(package_ngram_vendi(texts), rel=1e-9)
    two = ["the cat sat on", "a dog ran"]  # nothing shared; the second has no 4-gram
    assert vendi(two) == pytest.approx(2.0)
    unnormalized = reference.score_K(np.diag([1.0, 0.75]))  # the package's ngram_vendi_score kernel for them
    assert unnormalized == pytest.approx(math.exp(-(0.5 * math.log(0.5) + 0.375 * math.log(0.375)))) and unnormalized > 2


def test_bounds_and_empty_groups() -> None:
    assert vendi(["the cat sat on the mat"] * 4) == pytest.approx(1.0)
    assert vendi(["one two three four", "five six seven eight", "nine ten eleven twelve"]) == pytest.approx(3.0)
    assert math.isnan(vendi(["", ""])) and vendi(["", "", "the cat sat on the mat"]) == pytest.approx(
        reference.score_K(np.array([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]])))
    assert math.isnan(vendi([]))


def test_many_groups_at_once_equal_one_group_at_a_time() -> None:
    groups = [["the cat sat on the mat", "the dog sat on the mat"], [], ["a b c d", "a b c d", "e f g h"]]
    texts = [t for g in groups for t in g]
    index = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    batch = vendi_batch(TokenBatch.from_texts(texts, groups=index, n_groups=len(groups)))
    one = [vendi(g) for g in groups]
    assert np.allclose(batch, one, equal_nan=True)


def test_registered_off_by_default() -> None:
    assert evaluators.get("vendi").kind == "group" and "vendi" not in evaluators.defaults()
