"""Perplexity from the server's token log-probabilities, checked against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hfsweep.evaluators._batch import Samples
from hfsweep.evaluators.perplexity import perplexity, perplexity_batch
from hfsweep.evaluators.scoring import score_completions, score_run
from tests.run_dirs import completion, write_run

# generated-token probabilities of three completions, as a server would report them
PROBS = [[0.5, 0.25, 0.125], [0.9], [0.2, 0.2, 0.2, 0.2]]


def by_hand(probs: list[float]) -> float:
    """exp of minus the mean natural-log probability, written out."""
    mean = sum(math.log(p) for p in probs) / len(probs)
    return math.exp(-mean)


def test_perplexity_equals_the_hand_computation() -> None:
    assert by_hand(PROBS[0]) == pytest.approx(4.0, abs=1e-12)  # geometric mean of 1/p: 2, 4, 8
    for probs in PROBS:
        total = sum(math.log(p) for p in probs)
        assert perplexity(total, len(probs)) == pytest.approx(by_hand(probs), abs=1e-12)
    assert perplexity(0.0, 5) == 1.0  # every token certain


@pytest.mark.parametrize("total, count", [(None, 3), (-1.0, None), (None, None), (-1.0, 0),
                                          (float("nan"), 2), (-2.0, float("nan"))])
def test_perplexity_is_nan_without_logprobs(total, count) -> None:
    assert math.isnan(perplexity(total, count))


def test_batch_twin_matches_and_handles_nulls() -> None:
    totals = [sum(math.log(p) for p in probs) for probs in PROBS] + [None, -3.0]
    counts = [len(probs) for probs in PROBS] + [4, None]
    samples = Samples(["x"] * 5, columns={"logprob_sum": totals, "logprob_tokens": counts})
    got = perplexity_batch(samples)
    np.testing.assert_allclose(got[:3], [by_hand(p) for p in PROBS], rtol=0, atol=1e-12)
    assert np.isnan(got[3:]).all()
    assert np.isnan(perplexity_batch(Samples(["x", "y"]))).all()  # no columns at all


def test_scores_parquet_has_perplexity(tmp_path) -> None:
    rows = [("a", sum(math.log(p) for p in PROBS[0]), 3, None), ("b", math.log(0.9), 1, None), ("c", None, None, None),
            (None, None, None, "HTTP 503")]  # text, logprob_sum, logprob_tokens, error
    frame = pd.DataFrame([completion(cell_id="c", prompt_id="p", sample_index=i, text=text, logprob_sum=total,
                                     logprob_tokens=count, error=error)
                          for i, (text, total, count, error) in enumerate(rows)])  # fmt: skip
    write_run(tmp_path, frame)
    score_run(tmp_path, ["perplexity"])
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(scores) == 3  # the error row is not scored
    np.testing.assert_allclose(scores["perplexity"], [4.0, 1 / 0.9, np.nan], atol=1e-12)
    # a run written before the runner stored log-probabilities: NaN, not an error
    scores, _ = score_completions(frame.drop(columns=["logprob_sum", "logprob_tokens"]),
                                  ["perplexity"])
    assert scores["perplexity"].isna().all()
