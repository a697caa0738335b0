"""Honest exits through the CLI: every user error is one line and exit 2 before any request;
a run whose every request failed exits 1; a missing token sends nothing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.servers.fault_server import Rule
from tests.sweep_helpers import QUIET, ROOT, SCORE_LIGHT, endpoint


def hfsweep(args: list[str], env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "sweeps.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)  # fmt: skip


def one_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args,message",
    [
        (["score", "/nowhere/run"], "/nowhere/run is not a directory: expected a run directory written by `hfsweep run`"),
        (["score", "EMPTY"], "is not a run directory: it has no completions.parquet"),
        (["report", "/nowhere/run"], "Run directory '/nowhere/run' does not exist"),
        (["report", "EMPTY"], "No run directory found under"),
        (["validate", "report.confidence=95"], "report.confidence = 95.0 is out of range"),
        (["validate", "+report.colour=red"], "report.colour is not a known config key"),
        (["validate", "compat=langchian_hf"], "Did you mean compat=langchain_hf?"),
        (["probe", "sampling.top_p=0"], "sampling.top_p = 0.0 is out of range"),
        (["run", "sweep=quik"], "Did you mean sweep=quick?"),
        (["run", "evaluators=[self_blue]", "prompts.limit=1"], "Did you mean: self_bleu?"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    assert message in one_line(hfsweep(args))


def test_a_run_written_by_another_schema_is_refused(tmp_path):
    import pandas as pd

    run = tmp_path / "old"
    run.mkdir()
    pd.DataFrame({"schema_version": [1], "cell_id": ["c"], "text": ["x"]}).to_parquet(run / "completions.parquet")
    line = one_line(hfsweep(["score", str(run)]))
    assert "written by record schema 1; this hfsweep reads schema 2" in line
    assert "written by record schema 1" in one_line(hfsweep(["report", str(run)]))


def test_hf_without_a_token_stops_before_any_request(tmp_path):
    env = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    for command in ("validate", "run"):
        line = one_line(hfsweep([command, "model=hf", "model.id=meta-llama/Llama-3.1-8B-Instruct", "prompts.limit=1",
                                 "samples=1", "runner.progress=false"], env=env))  # fmt: skip
        assert "HF_TOKEN" in line and "hf auth login" in line
    assert time.monotonic() - start < 30
    assert not list(tmp_path.glob("runs/*"))


@pytest.mark.parametrize("status", [500, 400])
def test_a_run_whose_every_request_failed_exits_1(tmp_path, fault_server, status):
    fault_server.configure(rules=[Rule(status=status, message=f"always {status}")])
    result = hfsweep(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url),
                      "prompts.limit=2", "samples=1", "runner.max_attempts=2"])  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"every request failed: 2 http_{status}; first message: always {status}" in result.stderr
    assert (tmp_path / "run" / "completions.parquet").is_file()  # the error rows are kept


def test_some_failed_requests_exit_0_and_say_how_many(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=422, message="no", match={"seed": 1})])
    result = hfsweep(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url),
                      "prompts.limit=2", "samples=2"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning: 2 of 4 requests failed (2 http_422; first message: no)" in result.stderr


def test_a_client_side_value_error_is_not_retried(tmp_path, fault_server):
    """A provider name the client does not know is refused by the client before sending: one
    line, exit 2, no request and no retry."""
    result = hfsweep(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, "model=hf", "model.id=org/name",
                      "model.provider=no-such-provider", "prompts.limit=1", "samples=1"], env={"HF_TOKEN": "hf_fake"})  # fmt: skip
    line = one_line(result)
    assert "the client refused the request before sending it" in line and "no-such-provider" in line
