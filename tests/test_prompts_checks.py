"""Prompt files with checks: parsed into Prompt.checks; malformed ones stop with file, line, check."""

from __future__ import annotations

import json
import pytest

from evaluators.checks import Check
from sweeps.config import Prompts
from sweeps.errors import ConfigError
from sweeps.prompts import load_prompts


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

