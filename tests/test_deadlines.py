"""Deadlines that hold (issue 22, part 4): runner.timeout_s bounds a whole attempt, body included,
and runner.deadline_s the request with its retries, against a server that answers 200 and then
trickles its body a byte at a time."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tests.cli_helpers import run_cli
from tests.servers.hostile import Behaviour
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint


@pytest.mark.parametrize("mode", ["chat", "text"])
def test_a_trickling_server_gives_timeout_rows_within_the_deadline(tmp_path, hostile_server, mode):
    hostile_server.behaviour = Behaviour(trickle_s=0.2)  # a 300-byte answer would take a minute
    run_dir = tmp_path / "run"
    start = time.monotonic()
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(hostile_server.url, mode=mode),
                    "prompts.limit=2", "samples=1", "runner.timeout_s=1", "runner.deadline_s=2.5", "runner.max_attempts=10"],
                   timeout=60)  # fmt: skip
    assert done.returncode == 1 and "every request failed: 2 timeout" in done.stderr
    assert time.monotonic() - start < 40  # the run's wall time is bounded, not the server's minute per answer
    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert (frame["error"] == "timeout").all() and (frame["total_s"] < 2.5 + 0.5).all()
    assert frame["error_message"].str.contains("runner.deadline_s = 2.5 s").all()  # the last attempt was cut by the deadline
    assert (frame["retries"] >= 1).all()  # attempts of timeout_s were retried until the deadline


def test_timeout_s_bounds_each_attempt_and_the_timeout_is_retried(tmp_path, hostile_server):
    hostile_server.behaviour = Behaviour(trickle_s=0.2)
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(hostile_server.url), "prompts.limit=1",
                    "samples=1", "runner.timeout_s=0.5", "runner.max_attempts=2"], timeout=60)  # fmt: skip
    assert done.returncode == 1
    row = pd.read_parquet(run_dir / "completions.parquet").iloc[0]
    assert row["error"] == "timeout" and row["retries"] == 1 and row["total_s"] < 2.5
    assert "no complete answer within runner.timeout_s = 0.5 s" in row["error_message"]
    assert sum(seen.method == "POST" for seen in hostile_server.log) == 2


def test_a_server_that_trickles_its_headers_is_given_up_on_by_detection_and_the_run(tmp_path, hostile_server):
    hostile_server.behaviour = Behaviour(trickle_s=0.5, trickle_headers=True)  # each answer ~50 s, status line included
    target = ["model=endpoint", f"model.endpoint={hostile_server.url}", "model.id=m", "model.server=auto"]
    start = time.monotonic()
    validate = run_cli(["validate", *target, "prompts.limit=1"], timeout=120)
    assert validate.returncode == 0, validate.stderr
    assert "server: not identified" in validate.stdout
    assert time.monotonic() - start < 45  # five discovery GETs of at most 3 s each, and the CLI's start (a loaded machine)
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(hostile_server.url), "prompts.limit=2",
                    "samples=1", "runner.timeout_s=1", "runner.deadline_s=2.5"], timeout=60)  # fmt: skip
    assert done.returncode == 1 and "every request failed: 2 timeout" in done.stderr
    assert (pd.read_parquet(run_dir / "completions.parquet")["total_s"] < 3).all()


def test_the_nodes_emulation_on_llama_cpp_gives_up_on_a_trickling_props(tmp_path, hostile_server):
    """compat=langchain_hf on a llama.cpp endpoint first reads /props for the context size; a
    server that trickles every answer (the status line too) cannot hold the run there."""
    hostile_server.behaviour = Behaviour(trickle_s=0.5, trickle_headers=True)
    run_dir = tmp_path / "run"
    start = time.monotonic()
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(hostile_server.url, server="llama.cpp"),
                    "compat=langchain_hf", "prompts.limit=1", "samples=1", "runner.timeout_s=1", "runner.deadline_s=2.5"],
                   timeout=90)  # fmt: skip
    assert done.returncode == 1 and "timeout" in done.stderr, done.stderr
    assert time.monotonic() - start < 60  # /props within 3 s, then each request within its deadline
    assert any(seen.path == "/props" for seen in hostile_server.log)
