"""Prompt files with checks: parsed into Prompt.checks; malformed ones stop with file, line, check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hfsweep.evaluators.checks import Check
from hfsweep.sweeps.config import Prompts
from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.prompts import load_prompts

ROOT = Path(__file__).resolve().parents[1]


def _jsonl(tmp_path, rows) -> str:
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_jsonl_checks_and_expected(tmp_path) -> None:
    file = _jsonl(tmp_path, [
        {"id": "a", "text": "Capital of France?", "expected": "Paris"},
        {"id": "b", "prompt": "JSON please", "checks": [{"type": "is_json", "value": ["x"]}]},
        json.dumps("a bare string prompt"),
    ])
    a, b, c = load_prompts(Prompts(file=file))
    assert a.checks == (Check("contains", "Paris"),)
    assert b.checks == (Check("is_json", ("x",)),)
    assert (c.id, c.checks) == ("p003", ())


@pytest.mark.parametrize("check, message", [
    ({"type": "contain", "value": "x"}, "unknown type 'contain'. Did you mean: contains"),
    ({"type": "regex", "value": "([a-z]"}, "is not a valid regular expression"),
    ({"type": "min_words"}, "'value' must be an integer >= 0, got no value"),
    ({"type": "max_words", "value": "3"}, "must be an integer >= 0, got '3' (str)"),
])
def test_jsonl_malformed_check_names_file_line_and_check(tmp_path, check, message) -> None:
    file = _jsonl(tmp_path, [{"text": "fine"}, "", {"id": "q", "text": "x", "checks": [check]}])
    with pytest.raises(ConfigError) as info:
        load_prompts(Prompts(file=file))
    text = str(info.value)
    assert text.startswith(f"prompts.file = {file!r} line 3: check 1 {check!r}: "), text
    assert message in text


def test_jsonl_misspelt_checks_field(tmp_path) -> None:
    file = _jsonl(tmp_path, [{"text": "x", "check": [{"type": "contains", "value": "y"}]}])
    with pytest.raises(ConfigError, match="line 1: unknown field 'check'. Did you mean: checks?"):
        load_prompts(Prompts(file=file))
    file = _jsonl(tmp_path, [{"text": "x", "source": "wiki", "checks": "contains x"}])
    with pytest.raises(ConfigError, match="line 1: checks must be a list"):
        load_prompts(Prompts(file=file))


def test_csv_checks_expected_and_row_numbers(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('id,prompt,expected,checks\n'
                    'a,"Capital of France?",Paris,\n'
                    'b,"Say yes",,"[{""type"": ""equals"", ""value"": ""yes""}]"\n'
                    'c,"Story",,\n')
    a, b, c = load_prompts(Prompts(file=str(path)))
    assert (a.checks, b.checks, c.checks) == ((Check("contains", "Paris"),),
                                              (Check("equals", "yes"),), ())
    path.write_text('prompt,checks\n"ok",\n"bad","[{""type"": ""is_jsn""}]"\n')
    with pytest.raises(ConfigError, match=r"row 2 \(line 3\): check 1 .*Did you mean: is_json"):
        load_prompts(Prompts(file=str(path)))
    path.write_text('prompt,checks\n"bad","[{type: contains}]"\n')
    with pytest.raises(ConfigError, match=r"row 1 \(line 2\): the checks cell is not valid JSON"):
        load_prompts(Prompts(file=str(path)))


def test_txt_has_no_checks(tmp_path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("one\n\ntwo\n")
    assert [p.checks for p in load_prompts(Prompts(file=str(path)))] == [(), ()]


def test_items_with_checks_name_the_item() -> None:
    items = ({"id": "a", "text": "x", "checks": [{"type": "max_words", "value": 2}]},
             {"id": "b", "text": "y", "expected": 4})
    with pytest.raises(ConfigError, match=r"prompts.items\[1\] \(id 'b'\): expected 4: .*"
                                          r"put it in quotes"):
        load_prompts(Prompts(items=items))
    assert load_prompts(Prompts(items=items[:1]))[0].checks == (Check("max_words", 2),)



def test_default_prompt_set_parses_with_checks() -> None:
    data = yaml.safe_load((ROOT / "conf" / "prompts" / "default.yaml").read_text())
    prompts = load_prompts(Prompts(items=tuple(data["items"])))
    assert len(prompts) == 30
    assert sum(bool(p.checks) for p in prompts) >= 15


#: A good answer for every default prompt with checks (a broken regex or escape fails here).
GOOD = {
    "capital_france": "Paris.",
    "haiku_autumn": "Red leaves drift and fall\nquiet on the cold river\nautumn lets them go",
    'json_person': '```json\n{"name": "Mara", "age": 31}\n```',
    "math_add": "12",
    "story_lighthouse": "The keeper uncorked the bottle and read his own handwriting from forty years ago.",
    "list_fruits": "Apple\nBanana\nCherry\n",
    "planet_largest": "Jupiter is the largest planet.",
    "slogan_bikes": "We fix it, you ride it.",
    "yes_no_ocean": "Yes.",
    "mood_one_word": "Melancholy.",
    "author_romeo": "William Shakespeare",
    "water_formula": "H₂O",
    "birthday_wish": "Happy birthday to the friend whose roses always bloom first!",
    "opposite_hot": "Cold",
    "count_five": "1, 2, 3, 4, 5",
    "name_bakery": "Crumbs & Chapters",
    "dog_legs": "A dog has 4 legs.",
    "tip_sleep": "Put your notes away an hour before bed.",
    "bees_make": "Bees make honey.",
    "boiling_point": "100 degrees Celsius.",
    "uppercase_hello": "HELLO\n",
    "metaphor_time": "Time is a river that never turns back.",
    "days_week": "There are 7 days in a week.",
    "sky_color": "Blue.",
    "imagine_no_phones": "People would meet at the square at noon because there would be no other way to find each other.",
    "title_mystery": "The Glass Gondola",
}


def test_default_checks_accept_a_good_answer_and_refuse_a_rambling_one() -> None:
    from hfsweep.evaluators.checks import check_pass

    data = yaml.safe_load((ROOT / "conf" / "prompts" / "default.yaml").read_text())
    checked = {p.id: p.checks for p in load_prompts(Prompts(items=tuple(data["items"]))) if p.checks}
    assert set(checked) == set(GOOD)
    for prompt_id, checks in checked.items():
        assert check_pass(GOOD[prompt_id], checks) == 1.0, prompt_id
        rambling = "Sure! Here is my answer to your question, with a long explanation. " * 8
        assert check_pass(rambling, checks) == 0.0, prompt_id
