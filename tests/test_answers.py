"""Values that cannot crash the writer, and clear answers to wrong answers, through the CLI
against the fault server: integers no server reads stop at validate; impossible token counts
become null with a warning (and never poison the cache); bad text is kept repaired; a 200 that
is not the expected JSON is a `malformed` row naming status, content type and body, tried twice."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import typing

import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.core.ranges import INTEGER_MAX, is_integer_field
from hfsweep.sweeps.config import Config
from tests.cli_helpers import run_cli
from tests.servers.fault_server import Rule
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint

HUGE = 10**20
# how each route of the fault server is reached, and where its answer holds the completion's text
TARGETS = {"chat": {"mode": "chat"}, "text": {"mode": "text"}, "tgi": {"mode": "text", "server": "tgi"}}
CONTENT = {"chat": "choices.0.message.content", "text": "choices.0.text", "tgi": "generated_text"}
ODD = {"chat": {"seed": 1}, "text": {"seed": 1}, "tgi": {"parameters.seed": 1}}  # the requests of sample 1


def one_line(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def run(run_dir, url, *extra, mode="chat"):
    return run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(url, **TARGETS[mode]),
                    "prompts.limit=2", "samples=2", *extra])  # fmt: skip


def completions(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "completions.parquet")


# --- integers of the schema ---------------------------------------------------------------


@pytest.mark.parametrize("key", ["sampling.top_k", "sampling.seed", "sampling.max_tokens", "samples"])
def test_an_integer_no_server_reads_stops_at_validate(key):
    line = one_line(run_cli(["validate", f"{key}={HUGE}"]))
    assert line == (f"hfsweep: {key} = {HUGE} is out of range: accepted "
                    f"{line.split('accepted ', 1)[1]}")  # fmt: skip
    assert f"at most {INTEGER_MAX}" in line


def test_the_last_seed_sent_must_fit_too():
    line = one_line(run_cli(["validate", f"sampling.seed={INTEGER_MAX}", "samples=3", "prompts.limit=1"]))
    assert f"sampling.seed = {INTEGER_MAX} with samples = 3 sends seeds up to {INTEGER_MAX + 2}" in line


def integer_keys(cls=Config, prefix="") -> list[str]:
    """Every integer key of the schema, nested sections included (judge.model, a target like
    `model` but null by default, is left out)."""
    keys, hints = [], typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += integer_keys(hints[f.name], f"{prefix}{f.name}.")
        elif is_integer_field(f):
            keys.append(f"{prefix}{f.name}")
    return keys


def test_the_schema_has_integers_to_check():
    assert {"sampling.top_k", "samples", "model.slots", "runner.max_requests", "report.seed",
            "search.budget.tokens"} <= set(integer_keys())  # fmt: skip


@pytest.mark.parametrize("key", integer_keys())
def test_every_integer_of_the_schema_is_bounded(key, capsys):
    limit = [] if key == "prompts.limit" else ["prompts.limit=1"]
    assert main(["validate", *limit, f"{key}={HUGE}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hfsweep: {key} = {HUGE} is out of range: accepted ") and len(err.splitlines()) == 1, err


# --- usage numbers ------------------------------------------------------------------------


def test_impossible_usage_becomes_null_with_a_warning_and_a_rerun_replays_it(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=200, patch={"usage.completion_tokens": 2**70, "usage.prompt_tokens": -3},
                                       match={"seed": 1})])  # fmt: skip
    first = run(tmp_path / "first", fault_server.url)
    assert first.returncode == 0, first.stderr
    assert "warning: 2 answers were kept with a repair (first: usage.prompt_tokens = -3 is not a token count" in first.stderr
    frame = completions(tmp_path / "first")
    odd = frame[frame["seed"] == 1]
    assert odd["error"].isna().all() and odd["completion_tokens"].isna().all() and odd["prompt_tokens"].isna().all()
    assert odd["repairs"].str.contains("usage.completion_tokens = 1180591620717411303424 is not a token count").all()
    assert frame.loc[frame["seed"] == 0, "completion_tokens"].notna().all() and frame.loc[frame["seed"] == 0, "repairs"].isna().all()
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert any("kept with a repair" in w for w in summary["warnings"])

    again = run(tmp_path / "again", fault_server.url)  # the cache holds nothing a record cannot store
    assert again.returncode == 0, again.stderr
    assert "(4 from cache, 0 requests sent" in again.stdout
    assert completions(tmp_path / "again")["repairs"].notna().sum() == 2


def test_a_cache_entry_an_older_hfsweep_poisoned_is_repaired_on_replay(tmp_path, fault_server, isolated_cache):
    assert run(tmp_path / "first", fault_server.url).returncode == 0
    with sqlite3.connect(isolated_cache / "completions.sqlite") as db:  # what an older hfsweep cached
        for key, value in db.execute("SELECT key, value FROM completions").fetchall():
            db.execute("UPDATE completions SET value = ? WHERE key = ?", (json.dumps({**json.loads(value), "completion_tokens": 2**70}), key))
    again = run(tmp_path / "again", fault_server.url)
    assert again.returncode == 0, again.stderr
    assert "(4 from cache, 0 requests sent" in again.stdout
    frame = completions(tmp_path / "again")
    assert frame["completion_tokens"].isna().all() and frame["repairs"].str.contains("is not a token count").all()


# --- bad text -----------------------------------------------------------------------------


def raw_answer(mode: str, text: bytes) -> bytes:
    """A whole 200 answer with ``text`` as its completion, bytes as they are (invalid UTF-8 allowed)."""
    if mode == "tgi":
        return b'{"generated_text": "%s", "details": {"finish_reason": "eos_token", "generated_tokens": 3}}' % text
    choice = b'"message": {"role": "assistant", "content": "%s"}' if mode == "chat" else b'"text": "%s"'
    return b'{"choices": [{"index": 0, ' + choice % text + b', "finish_reason": "stop"}], "usage": {"completion_tokens": 3}}'


@pytest.mark.parametrize("mode", list(TARGETS))
@pytest.mark.parametrize("bad", ["surrogate", "bytes"])
def test_text_with_bad_code_points_is_kept_repaired_and_the_row_says_so(tmp_path, fault_server, mode, bad):
    if bad == "surrogate":  # a lone surrogate, as its JSON escape
        rule = Rule(status=200, patch={CONTENT[mode]: "bad \udcff end"}, match=ODD[mode])
    else:  # invalid UTF-8 bytes in the body
        rule = Rule(status=200, body=raw_answer(mode, b"bad \xff\xfe end"), match=ODD[mode])
    fault_server.configure(rules=[rule])
    result = run(tmp_path / "run", fault_server.url, mode=mode)
    assert result.returncode == 0, result.stderr
    frame = completions(tmp_path / "run")
    odd = frame[frame["seed"] == 1]
    replaced = 1 if bad == "surrogate" else 2
    assert odd["error"].isna().all()
    assert (odd["text"] == "bad " + "\ufffd" * replaced + " end").all()
    plural = "s" if replaced > 1 else ""
    assert (odd["repairs"] == f"text: {replaced} invalid code point{plural} replaced by U+FFFD").all()
    assert frame.loc[frame["seed"] == 0, "repairs"].isna().all() and len(frame) == 4
    assert "kept with a repair" in result.stderr
    assert (tmp_path / "run" / "scores.parquet").is_file()  # the run went on to its scores
    lines = (tmp_path / "run" / "completions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4


# --- wrong answers ------------------------------------------------------------------------

HTML = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>" + "x" * 200 + "</body></html>"


@pytest.mark.parametrize("mode", list(TARGETS))
def test_an_html_page_in_a_200_is_a_malformed_row_tried_twice(tmp_path, fault_server, mode):
    fault_server.configure(rules=[Rule(status=200, body=HTML, content_type="text/html; charset=utf-8", match=ODD[mode])])
    result = run(tmp_path / "run", fault_server.url, mode=mode)
    assert result.returncode == 0, result.stderr
    frame = completions(tmp_path / "run")
    odd = frame[frame["seed"] == 1]
    assert (odd["error"] == "malformed").all() and (odd["retries"] == 1).all()
    message = odd["error_message"].iloc[0]
    assert message.startswith("malformed answer (HTTP 200, text/html; charset=utf-8): not JSON")
    assert message.endswith(repr(HTML[:100])), message
    assert fault_server.stats["generation_requests"] == 2 + 2 * 2  # each wrong answer asked twice, no more
    assert "2 of 4 requests failed (2 malformed; first message: malformed answer (HTTP 200, text/html" in result.stderr


@pytest.mark.parametrize("mode", ["chat", "text"])
def test_an_answer_with_no_choices_is_named_as_such(tmp_path, fault_server, mode):
    fault_server.configure(rules=[Rule(status=200, patch={"choices": []}, match={"seed": 1})])
    result = run(tmp_path / "run", fault_server.url, "runner.max_attempts=6", mode=mode)
    assert result.returncode == 0, result.stderr
    odd = completions(tmp_path / "run").query("seed == 1")
    assert (odd["error"] == "malformed").all() and (odd["retries"] == 1).all()
    message = odd["error_message"].iloc[0]
    assert message.startswith("malformed answer (HTTP 200, application/json; charset=utf-8): choices: [] (the answer holds no completion): '{")
    assert fault_server.stats["generation_requests"] == 6


@pytest.mark.parametrize("mode", list(TARGETS))
def test_a_body_that_is_json_but_not_an_object_is_malformed_not_a_crash(tmp_path, fault_server, mode):
    fault_server.configure(rules=[Rule(status=200, body="[1, 2, 3]", match=ODD[mode])])
    result = run(tmp_path / "run", fault_server.url, mode=mode)
    assert result.returncode == 0, result.stderr
    odd = completions(tmp_path / "run").query("seed == 1")
    assert (odd["error"] == "malformed").all() and odd["error_message"].str.contains("'[1, 2, 3]'", regex=False).all()
