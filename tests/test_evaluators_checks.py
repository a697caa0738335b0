"""Prompt checks: each type, validation messages, check_pass / pass_rate, and the run chain."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hfsweep.evaluators import CheckError
from hfsweep.evaluators._batch import Samples
from hfsweep.evaluators.checks import (
    CHECK_TYPES,
    Check,
    check_pass,
    check_pass_batch,
    check_problem,
    parse_checks,
    pass_rate,
    passes,
    problems,
)
from hfsweep.core.records import PROMPTS as PROMPTS_FILE
from hfsweep.evaluators.scoring import read_prompt_checks, score_completions, score_run
from hfsweep.sweeps.config import Prompts
from hfsweep.sweeps.prompts import load_prompts, write_prompts_file
from tests.run_dirs import completion, write_run

CASES = [
    # (type, value, text, passes)
    ("contains", "Paris", "It is Paris.", True),
    ("contains", "Paris", "It is paris.", False),
    ("icontains", "PARIS", "It is paris.", True),
    ("icontains", "straße", "STRASSE", True),  # casefold, not lower
    ("not_contains", "sorry", "Here you go.", True),
    ("not_contains", "sorry", "I am sorry.", False),
    ("regex", r"^\d+$", "42", True),
    ("regex", r"\b4\b", "The answer is 4.", True),  # re.search: anywhere
    ("regex", r"(?i)^yes\b", "Yes, it is.", True),
    ("regex", r"^yes", "Yes", False),
    ("equals", "Paris", "  Paris\n", True),
    ("equals", " Paris ", "Paris", True),
    ("equals", "Paris", "Paris.", False),
    ("starts_with", "Dear", "\n Dear Sam,", True),
    ("starts_with", "Dear", "My dear Sam", False),
    ("is_json", None, '{"a": 1}', True),
    ("is_json", None, " [1, 2] ", True),
    ("is_json", None, '```json\n{"a": 1}\n```', True),
    ("is_json", None, '```\n{"a": 1}```', True),
    ("is_json", None, 'Sure! {"a": 1}', False),
    ("is_json", None, "", False),
    ("is_json", ("name", "age"), '{"name": "Ada", "age": 36}', True),
    ("is_json", ("name", "age"), '{"name": "Ada"}', False),
    ("is_json", ("name",), '["name"]', False),
    ("max_words", 3, "one, two three!", True),
    ("max_words", 3, "one two three four", False),
    ("max_words", 0, " ... ", True),
    ("min_words", 2, "Don't", True),  # Don + t: the default tokenizer's word tokens
    ("min_words", 2, "Paris.", False),
]


@pytest.mark.parametrize("kind, value, text, expected", CASES)
def test_each_check_type(kind, value, text, expected) -> None:
    assert passes(Check(kind, value), text) is expected


def test_every_type_has_a_case() -> None:
    assert {kind for kind, *_ in CASES} == set(CHECK_TYPES)


@given(st.text(max_size=20), st.text(min_size=1, max_size=5))
def test_contains_and_not_contains_are_complements(text: str, needle: str) -> None:
    assert passes(Check("contains", needle), text) is not passes(Check("not_contains", needle), text)
    assert passes(Check("contains", needle), text) is (needle in text)


@pytest.mark.parametrize("raw, message", [
    ({"type": "contain", "value": "x"}, "unknown type 'contain'. Did you mean: contains"),
    ({"type": "regexp", "value": "x"}, "Did you mean: regex? Accepted: contains, icontains"),
    ({"type": "nonsense", "value": "x"}, "unknown type 'nonsense'. Accepted: contains"),
    ({"value": "x"}, "has no 'type'"),
    ({"type": "contains"}, "'value' must be a non-empty string, got no value"),
    ({"type": "contains", "value": ""}, "must be a non-empty string, got ''"),
    ({"type": "contains", "value": 4}, "got 4 (int); put it in quotes"),
    ({"type": "regex", "value": "(unclosed"}, "'(unclosed' is not a valid regular expression"),
    ({"type": "max_words", "value": "5"}, "must be an integer >= 0, got '5' (str)"),
    ({"type": "max_words", "value": -1}, "must be an integer >= 0, got -1"),
    ({"type": "min_words", "value": True}, "must be an integer >= 0, got True (bool)"),
    ({"type": "is_json", "value": "name"}, "must be a list of key names"),
    ({"type": "contains", "value": "x", "vaule": 1}, "unknown key 'vaule'. Did you mean: value?"),
    ("contains Paris", "must be a mapping like {type: contains, value: Paris}"),
])
def test_malformed_checks_are_named(raw, message) -> None:
    assert message in check_problem(raw)
    found = problems([{"type": "contains", "value": "ok"}, raw])
    assert len(found) == 1 and found[0].startswith(f"check 2 {raw!r}: ")
    with pytest.raises(CheckError, match="check 2"):
        parse_checks([{"type": "contains", "value": "ok"}, raw])


def test_valid_checks_and_the_expected_shorthand() -> None:
    assert problems() == [] and parse_checks() == ()
    assert problems({"type": "contains", "value": "x"})[0].startswith("checks must be a list")
    assert problems(expected="") == ["expected '': 'value' must be a non-empty string, got '' (str)"]
    assert parse_checks([{"type": "is_json", "value": ["a"]}, {"type": "is_json"}],
                        expected="Paris") == (
        Check("is_json", ("a",)), Check("is_json"), Check("contains", "Paris"))
    for check in parse_checks([{"type": t, "value": v} for t, v, *_ in CASES if v is not None]):
        assert parse_checks([check.as_dict()]) == (check,)  # as written, read back the same


def test_check_pass_and_pass_rate() -> None:
    rules = parse_checks([{"type": "max_words", "value": 1}], expected="Paris")
    assert check_pass("Paris", rules) == 1.0
    assert check_pass("Paris is the capital", rules) == 0.0  # fails one check: 0
    assert math.isnan(check_pass("Paris", ()))
    assert math.isnan(check_pass("Paris", None))
    assert pass_rate(["Paris", "Lyon", "Paris", "Paris!"], rules) == 0.75
    assert math.isnan(pass_rate(["Paris"], ())) and math.isnan(pass_rate([], rules))


def test_batch_twin_per_text_checks() -> None:
    rules = parse_checks(expected="yes")
    samples = Samples(["yes", "no", "yes", "no"], groups=np.array([0, 0, 1, 1]),
                      columns={"checks": [rules, rules, (), None]})
    np.testing.assert_array_equal(check_pass_batch(samples), [1.0, 0.0, np.nan, np.nan])


# --- the chain: prompts file -> load_prompts -> prompts.jsonl -> score_run ------------------


def _run_dir(tmp_path, with_prompts_file: bool = True):
    source = tmp_path / "prompts.src.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in [
        {"id": "capital", "text": "Capital of France? One word.", "expected": "Paris",
         "checks": [{"type": "max_words", "value": 1}]},
        {"id": "person", "text": "JSON with keys name and age.",
         "checks": [{"type": "is_json", "value": ["name", "age"]}]},
        {"id": "story", "text": "Tell a story."},
    ]) + "\n", encoding="utf-8")
    prompts = load_prompts(Prompts(file=str(source)))
    texts = {
        "capital": ["Paris", "Paris.", "The capital is Paris."],
        "person": ['{"name": "Ada", "age": 36}', '```json\n{"name": "Bo", "age": 3}\n```',
                   "name: Ada"],
        "story": ["Once upon a time.", "A fox.", "The end."],
    }
    rows = [completion(run_id="r", cell_id=cell, prompt_id=pid, sample_index=i, text=text, finish_reason="stop")
            for cell in ("c1", "c2") for pid, group in texts.items()
            for i, text in enumerate(group)]
    rows.append(completion(run_id="r", cell_id="c1", prompt_id="capital", sample_index=3, text=None,
                           finish_reason="stop", error="Timeout"))  # error row
    run = write_run(tmp_path / "run", rows)
    if with_prompts_file:
        assert write_prompts_file(prompts, run) == run / PROMPTS_FILE
    return run


def test_checks_through_a_run_directory(tmp_path) -> None:
    run = _run_dir(tmp_path)
    lines = [json.loads(line) for line in (run / PROMPTS_FILE).read_text().splitlines()]
    assert lines[0] == {"id": "capital", "text": "Capital of France? One word.", "checks": [
        {"type": "max_words", "value": 1}, {"type": "contains", "value": "Paris"}]}
    assert lines[2]["checks"] == []
    counts = score_run(run)
    assert counts["errors"] == 1 and counts["scored"] == 18
    scores = pd.read_parquet(run / "scores.parquet")
    groups = pd.read_parquet(run / "group_scores.parquet")
    c1 = scores[scores.cell_id == "c1"].set_index(["prompt_id", "sample_index"])["check_pass"]
    assert c1["capital"].tolist() == [1.0, 1.0, 0.0]
    assert c1["person"].tolist() == [1.0, 1.0, 0.0]
    assert c1["story"].isna().all()  # no checks: NaN
    rate = groups.set_index(["cell_id", "prompt_id"])["pass_rate"]
    assert rate[("c1", "capital")] == pytest.approx(2 / 3)  # the error row is not a sample
    assert math.isnan(rate[("c1", "story")])


def test_without_prompts_file_check_pass_is_nan(tmp_path) -> None:
    run = _run_dir(tmp_path, with_prompts_file=False)
    score_run(run)
    assert pd.read_parquet(run / "scores.parquet")["check_pass"].isna().all()
    assert pd.read_parquet(run / "group_scores.parquet")["pass_rate"].isna().all()


def test_malformed_prompts_file_names_the_line(tmp_path) -> None:
    path = tmp_path / PROMPTS_FILE
    path.write_text('{"id": "a", "text": "x", "checks": []}\n'
                    '{"id": "b", "text": "y", "checks": [{"type": "contain", "value": "z"}]}\n')
    with pytest.raises(CheckError, match=r"prompts.jsonl line 2 \(prompt 'b'\): check 1 .*"
                                         r"Did you mean: contains"):
        read_prompt_checks(path)
    path.write_text('{"id": "a", "checks": [{"type": "max_words", "value": 2}]}\n\n')
    assert read_prompt_checks(path) == {"a": (Check("max_words", 2),)}


def test_score_completions_takes_checks_by_prompt_id() -> None:
    frame = pd.DataFrame({"cell_id": "c", "prompt_id": ["a", "a", "b"], "sample_index": [0, 1, 0],
                          "text": ["yes", "no", "yes"]})
    scores, groups = score_completions(frame, ["check_pass", "pass_rate"],
                                       {"a": parse_checks(expected="yes")})
    assert scores["check_pass"].tolist()[:2] == [1.0, 0.0] and math.isnan(scores["check_pass"][2])
    assert groups["pass_rate"].tolist()[0] == 0.5 and math.isnan(groups["pass_rate"][1])
