"""The scoring step on a small hand-made completions table with an error row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hfsweep.evaluators import UnknownEvaluatorError
from hfsweep.evaluators.diversity import distinct_n, self_bleu
from hfsweep.evaluators.repetition import seq_rep_n
from hfsweep.evaluators.scoring import GROUP_KEYS, SAMPLE_KEYS, error_rows, score_completions, score_run
from tests.run_dirs import completion, write_run

TEXTS = {
    ("c1", "p1"): ["the cat sat on the mat", "the cat sat", "a dog ran far away"],
    ("c1", "p2"): ["yes yes yes yes", "no", ""],
    ("c2", "p1"): ["the cat sat on the mat", "the cat sat on the mat", "the the the"],
}


def completions() -> pd.DataFrame:
    rows = []
    for (cell, prompt), texts in TEXTS.items():
        for i, text in enumerate(texts):
            rows.append(completion(
                run_id="r1", cell_id=cell, setting_id="s" + cell, setting_name="temp=" + cell, target_kind="embedded",
                model="smollm2", mode="chat", temperature=0.7, max_tokens=8, seed=100 + i, prompt_id=prompt,
                prompt="Say something.", sample_index=i, text=text, finish_reason="length" if i == 0 else "stop",
                prompt_tokens=5, completion_tokens=6 if i else None, cache_key=f"k{cell}{i}",
            ))  # fmt: skip
    # a failed request: no text; it must not be scored as an empty completion
    rows.append({**rows[0], "sample_index": 3, "seed": 103, "text": None, "finish_reason": None,
                 "completion_tokens": None, "error": "HTTPError", "error_message": "503"})
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)  # any row order


def test_score_completions_values_and_error_exclusion() -> None:
    scores, groups = score_completions(completions())
    assert len(scores) == 9 and len(groups) == 3
    assert list(scores.columns[:len(SAMPLE_KEYS)]) == list(SAMPLE_KEYS)
    assert list(groups.columns[:len(GROUP_KEYS) + 1]) == [*GROUP_KEYS, "n_samples"]
    assert groups["n_samples"].tolist() == [3, 3, 3]  # the error row is not a sample
    assert scores[["cell_id", "prompt_id", "sample_index"]].values.tolist() == [
        [c, p, i] for (c, p), texts in TEXTS.items() for i in range(len(texts))]
    for (cell, prompt), texts in TEXTS.items():
        rows = scores[(scores.cell_id == cell) & (scores.prompt_id == prompt)]
        for i, text in enumerate(texts):
            row = rows[rows.sample_index == i].iloc[0]
            assert np.allclose(row["seq_rep_2"], seq_rep_n(text, 2), equal_nan=True)
            assert row["empty"] == float(not text.strip())
            assert row["truncated"] == float(i == 0)
            assert math.isnan(row["tokens"]) if i == 0 else row["tokens"] == 6
        group = groups[(groups.cell_id == cell) & (groups.prompt_id == prompt)].iloc[0]
        assert group["self_bleu"] == pytest.approx(self_bleu(texts), abs=1e-12)
        assert group["distinct_2"] == pytest.approx(distinct_n(texts, 2), abs=1e-12)
    assert groups.loc[(groups.cell_id == "c2"), "self_bleu"].iloc[0] > 0.5


def test_score_completions_tolerates_missing_columns_and_picks_metrics() -> None:
    frame = completions().drop(columns=["setting_name", "seed", "completion_tokens", "error"])
    scores, groups = score_completions(frame, ["words", "distinct_1"])
    assert "setting_name" not in scores and "seed" not in scores
    assert list(scores.columns[-1:]) == ["words"] and list(groups.columns[-1:]) == ["distinct_1"]
    assert len(scores) == 10  # without an error column, every row is a completion
    with pytest.raises(UnknownEvaluatorError, match="Did you mean: self_bleu"):
        score_completions(frame, ["self_blue"])


def test_truncated_is_zero_without_a_finish_reason() -> None:
    frame = completions()
    frame.loc[frame["sample_index"] == 1, "finish_reason"] = None
    scores, _ = score_completions(frame, ["truncated"])
    assert scores["truncated"].tolist() == [float(i == 0) for i in scores["sample_index"]]
    scores, _ = score_completions(frame.drop(columns=["finish_reason"]), ["truncated"])
    assert (scores["truncated"] == 0.0).all()


def test_score_completions_with_only_errors() -> None:
    frame = completions()
    frame["error"] = "Timeout"
    scores, groups = score_completions(frame)
    assert scores.empty and groups.empty and "self_bleu" in groups.columns


def test_score_run_writes_both_tables(tmp_path) -> None:
    write_run(tmp_path, completions())
    counts = score_run(tmp_path)
    assert counts == {"completions": 10, "scored": 9, "errors": 1, "groups": 3}
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    groups = pd.read_parquet(tmp_path / "group_scores.parquet")
    assert len(scores) == 9 and len(groups) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_score_run_without_completions(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="completions.parquet"):
        score_run(tmp_path)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["cell_id", "prompt_id", *(["sample_index"] if "sample_index" in frame
                                                         else [])]).reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows", [1, 2, 4, 1000])
def test_score_run_in_chunks_equals_scoring_at_once(tmp_path, chunk_rows) -> None:
    frame = completions().sort_values(["cell_id", "prompt_id"], kind="stable")  # grid order
    frame = pd.concat([frame, frame.assign(cell_id=frame["cell_id"] + "x")], ignore_index=True)
    frame.loc[frame.index % 5 == 3, "error"] = "Timeout"  # error rows anywhere
    write_run(tmp_path, frame)
    counts = score_run(tmp_path, chunk_rows=chunk_rows)
    want_scores, want_groups = score_completions(frame)
    assert counts == {"completions": len(frame), "scored": len(want_scores),
                      "errors": int(error_rows(frame).sum()), "groups": len(want_groups)}
    got_scores = pd.read_parquet(tmp_path / "scores.parquet")
    got_groups = pd.read_parquet(tmp_path / "group_scores.parquet")
    pd.testing.assert_frame_equal(_sorted(got_scores), _sorted(want_scores), check_dtype=False)
    pd.testing.assert_frame_equal(_sorted(got_groups), _sorted(want_groups), check_dtype=False)


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_score_run_in_worker_processes_writes_what_one_process_writes(tmp_path, chunk_rows) -> None:
    """More than PARALLEL_CHUNKS chunks: scored in a pool of processes, written in file order."""
    frame = completions().sort_values(["cell_id", "prompt_id"], kind="stable")
    frame = pd.concat([frame.assign(cell_id=frame["cell_id"] + str(i)) for i in range(4)], ignore_index=True)
    frame.loc[frame.index % 7 == 2, "error"] = "Timeout"
    one, pool = tmp_path / "one", tmp_path / "pool"
    for run_dir in (one, pool):
        write_run(run_dir, frame)
    assert score_run(one, chunk_rows=chunk_rows, workers=1) == score_run(pool, chunk_rows=chunk_rows, workers=2)
    for name in ("scores.parquet", "group_scores.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(pool / name), pd.read_parquet(one / name))


def test_score_run_with_interleaved_groups_reads_the_file_whole(tmp_path) -> None:
    frame = completions()  # shuffled: the rows of a group are not consecutive
    write_run(tmp_path, frame)
    assert score_run(tmp_path, chunk_rows=2) == {"completions": 10, "scored": 9, "errors": 1,
                                                 "groups": 3}
    want, _ = score_completions(frame)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "scores.parquet"), want,
                                  check_dtype=False)


def test_score_run_when_every_row_failed_or_a_column_starts_null(tmp_path) -> None:
    frame = completions().sort_values(["cell_id", "prompt_id"], kind="stable")
    frame["error"] = "Timeout"
    write_run(tmp_path, frame)
    assert score_run(tmp_path, chunk_rows=2)["scored"] == 0
    assert "self_bleu" in pd.read_parquet(tmp_path / "group_scores.parquet").columns
    frame = completions().sort_values(["cell_id", "prompt_id"], kind="stable")
    frame["finish_reason"] = [None] * 5 + ["stop"] * 5  # null in the first chunk, text later
    write_run(tmp_path, frame)
    score_run(tmp_path, chunk_rows=2)
    assert pd.read_parquet(tmp_path / "scores.parquet")["finish_reason"].notna().any()
