"""The token goes to the configured endpoint only, and never reaches disk or the output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hfsweep.sweeps.backends import LOCAL_TOKEN
from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.plan import resolve_token
from tests.cli_helpers import run_cli
from tests.servers.fault_server import Rule
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint

TOKEN = "hf_FAKE_token_do_not_leak_0123456789abcdef"  # not a real token: underscores keep it from looking like one


def assert_nowhere(token: str, roots: list[Path], *outputs: str) -> int:
    """Fail if the token appears in any file under ``roots`` (raw bytes, and parquet cells,
    which may be compressed) or in the outputs; return how many files were searched."""
    searched = 0
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            searched += 1
            assert token.encode() not in path.read_bytes(), f"token written to {path}"
            if path.suffix == ".parquet":
                cells = pd.read_parquet(path).to_numpy().ravel()
                assert not any(token in str(cell) for cell in cells), f"token in the cells of {path}"
    for output in outputs:
        assert token not in output
    return searched


def test_endpoint_run_sends_the_token_to_its_endpoint_and_writes_it_nowhere(tmp_path, fault_server, isolated_cache):
    # The server demands the token, fails some requests, and echoes the token back in an error.
    fault_server.configure(required_token=TOKEN, fault_rate=0.2, faults=("rate_limit", "server_error", "malformed"), retry_after=0,
                           rules=[Rule(status=400, message=f"bad request from Bearer {TOKEN}", match={"seed": 1})])  # fmt: skip
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url), "prompts.limit=6",
                    "samples=2"], env={"HF_TOKEN": TOKEN})  # fmt: skip
    assert done.returncode == 0, done.stderr
    received = fault_server.requests
    assert received and all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in received)
    frame = pd.read_parquet(run_dir / "completions.parquet")
    echoed = frame[frame["seed"] == 1]
    assert (echoed["error"] == "http_400").all() and echoed["error_message"].str.contains("bad request from Bearer").all()
    assert frame.loc[frame["seed"] == 0, "error"].isna().all()
    assert assert_nowhere(TOKEN, [run_dir, isolated_cache], done.stdout, done.stderr) >= 4


def test_401_message_does_not_print_the_token(tmp_path, fault_server, isolated_cache):
    fault_server.configure(required_token="hf_theRightOne")
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url), "prompts.limit=2"],
                   env={"HF_TOKEN": TOKEN})  # fmt: skip
    assert done.returncode == 2 and "token" in done.stderr
    assert_nowhere(TOKEN, [run_dir, isolated_cache], done.stdout, done.stderr)


def test_the_embedded_server_is_never_given_the_users_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    embedded = ModelTarget(kind="embedded", id="smollm2", gguf="smollm2", server="llama.cpp")
    assert resolve_token(embedded) == LOCAL_TOKEN
    assert resolve_token(ModelTarget(kind="endpoint", id="x", endpoint="http://127.0.0.1:1")) == TOKEN


@pytest.mark.slow
def test_embedded_run_writes_the_token_nowhere(tmp_path, isolated_cache):
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, "model=smollm2", "prompts.limit=2", "samples=1",
                    "runner.timeout_s=60"], env={"HF_TOKEN": TOKEN}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert len(frame) == 2 and frame["error"].isna().all() and frame["target_kind"].eq("embedded").all()
    assert_nowhere(TOKEN, [run_dir, isolated_cache], done.stdout, done.stderr)
