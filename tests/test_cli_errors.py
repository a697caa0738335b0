"""Honest exits through the CLI: every user error is one line and exit 2 before any request;
a run whose every request failed exits 1; a missing token sends nothing."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time

import pytest

from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.plan import make_plan
from tests.cli_helpers import run_cli
from tests.run_dirs import completion, write_run
from tests.servers.fault_server import Rule
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint


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
        (["plan", "/nowhere/run", "--metric", "words", "--difference", "1"], "Run directory '/nowhere/run' does not exist"),
        (["plan", "EMPTY", "--metric", "words", "--difference", "1"], "No run directory found under"),
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
    assert message in one_line(run_cli(args))


def test_a_run_written_by_another_schema_is_refused(tmp_path):
    run = write_run(tmp_path / "old", [completion(schema_version=1)])
    line = one_line(run_cli(["score", str(run)]))
    assert "written by record schema 1; this hfsweep reads schema 2" in line
    assert "written by record schema 1" in one_line(run_cli(["report", str(run)]))
    assert "written by record schema 1" in one_line(run_cli(["plan", str(run), "--metric", "words", "--difference", "1"]))


def test_hf_without_a_token_stops_before_any_request(tmp_path):
    env = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    for command in ("validate", "run"):
        line = one_line(run_cli([command, "model=hf", "model.id=meta-llama/Llama-3.1-8B-Instruct", "prompts.limit=1",
                                 "samples=1", "runner.progress=false"], env=env))  # fmt: skip
        assert "HF_TOKEN" in line and "hf auth login" in line
    assert time.monotonic() - start < 30
    assert not list(tmp_path.glob("runs/*"))


@pytest.mark.parametrize("status", [500, 400])
def test_a_run_whose_every_request_failed_exits_1(tmp_path, fault_server, status):
    fault_server.configure(rules=[Rule(status=status, message=f"always {status}")])
    result = run_cli(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url),
                      "prompts.limit=2", "samples=1", "runner.max_attempts=2"])  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"every request failed: 2 http_{status}; first message: always {status}" in result.stderr
    assert (tmp_path / "run" / "completions.parquet").is_file()  # the error rows are kept


def test_some_failed_requests_exit_0_and_say_how_many(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=422, message="no", match={"seed": 1})])
    result = run_cli(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url),
                      "prompts.limit=2", "samples=2"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning: 2 of 4 requests failed (2 http_422; first message: no)" in result.stderr


def test_a_client_side_value_error_is_not_retried(tmp_path, fault_server):
    """A provider name the client does not know is refused by the client before sending: one
    line, exit 2, no request and no retry."""
    result = run_cli(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, "model=hf", "model.id=org/name",
                      "model.provider=no-such-provider", "prompts.limit=1", "samples=1"], env={"HF_TOKEN": "hf_fake"})  # fmt: skip
    line = one_line(result)
    assert "the client refused the request before sending it" in line and "no-such-provider" in line


class HubMapping:
    """A local server answering like the Hub's model API with a provider mapping."""

    def __init__(self, mapping: dict):
        self.requests: list[str] = []  # model API requests (the client may also ask other routes)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path.startswith("/api/models/"):
                    outer.requests.append(self.path)
                body = json.dumps({"id": "org/name", "inferenceProviderMapping": mapping}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def live(task: str = "conversational", status: str = "live") -> dict:
    return {"status": status, "providerId": "org/name-served", "task": task}


def test_provider_auto_is_resolved_once_to_the_first_live_provider(tmp_path):
    hub = HubMapping({"novita": live(status="error"), "together": live(), "cerebras": live()})
    try:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_fake"}
        result = run_cli(["validate", "model=hf", "model.id=org/name", "prompts.limit=1"], env=env)
        assert result.returncode == 0, result.stderr
        assert "provider together (resolved from auto)" in result.stdout
        assert len(hub.requests) == 1 and "inferenceProviderMapping" in hub.requests[0]
        pinned = run_cli(["validate", "model=hf", "model.id=org/name", "model.provider=cerebras", "prompts.limit=1"], env=env)
        assert "provider cerebras)" in pinned.stdout and len(hub.requests) == 1  # a pinned provider asks nothing
        none_live = HubMapping({"together": live(task="text-to-image")})
        try:
            line = one_line(run_cli(["validate", "model=hf", "model.id=org/name"], env={**env, "HF_ENDPOINT": none_live.url}))
            assert "has no live Inference Provider for conversational" in line and "model.provider=NAME" in line
        finally:
            none_live.close()
    finally:
        hub.close()


def test_the_resolved_provider_is_part_of_every_cell_and_cache_key():
    plans = [make_plan(compose_config(["model=hf", "model.id=org/name", f"model.provider={p}", "prompts.limit=1"])[0])
             for p in ("together", "novita")]  # fmt: skip
    assert {j.cache_key for j in plans[0].jobs}.isdisjoint(j.cache_key for j in plans[1].jobs)
    assert [c.setting.id for c in plans[0].cells] == [c.setting.id for c in plans[1].cells]
