"""No secret reaches disk or the terminal (issue 22, part 2): whatever a server echoes (the
Authorization header on a 401, 403 or 500) or a config interpolates (``${oc.env:HF_TOKEN}``), on
validate, probe, run and run -m. Where each credential is sent: tests/test_credentials.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hfsweep
from hfsweep.core.errors import HfsweepError
from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.credentials import LOCAL_TOKEN, resolve_token
from tests.cli_helpers import every_command, run_cli
from tests.servers.fault_server import Rule
from tests.servers.hostile import Behaviour
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint

TOKEN = "hf_FAKE_token_do_not_leak_0123456789abcdef"  # not a real token: underscores keep it from looking like one
KEY = "vllm-FAKE-key-do-not-leak-9876543210"


def assert_nowhere(token: str, roots: list[Path], *outputs: str) -> int:
    """Fail if the token appears in any file or directory name under ``roots``, in any file
    (raw bytes, and parquet cells, which may be compressed) or in the outputs; return how many
    files were searched."""
    searched = 0
    for root in roots:
        for path in root.rglob("*"):
            assert token not in str(path.relative_to(root)), f"token in the name {path}"
            if not path.is_file():
                continue
            searched += 1
            assert token.encode() not in path.read_bytes(), f"token written to {path}"
            if path.suffix == ".parquet" and path.stat().st_size:
                cells = pd.read_parquet(path).to_numpy().ravel()
                assert not any(token in str(cell) for cell in cells), f"token in the cells of {path}"
    for output in outputs:
        assert token not in output
    return searched


# The key goes to the server on purpose (model.api_key_env), the token is interpolated into the
# model id; the hostile server echoes both. model.server=auto: detection and the hidden-defaults check run.
ECHOED = ["model=endpoint", "model.api_key_env=MY_KEY", "model.id=${oc.env:HF_TOKEN}", "model.server=auto", "prompts.limit=2",
          "samples=1", "runner.max_attempts=2"]  # fmt: skip
EXITS = {"validate": {0}, "probe": {2}, "run": {1, 2}, "run -m": {1}}


@pytest.mark.parametrize("command", list(every_command(Path())))
@pytest.mark.parametrize("status", [401, 403, 500])
def test_a_server_that_echoes_the_credential_gets_it_written_nowhere(tmp_path, hostile_server, isolated_cache, command, status):
    hostile_server.behaviour = Behaviour(status=status)
    out = tmp_path / "out"
    done = run_cli([*every_command(out)[command], *ECHOED, f"model.endpoint={hostile_server.url}"], env={"HF_TOKEN": TOKEN, "MY_KEY": KEY})
    assert done.returncode in EXITS[command], done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    if status in (401, 403) and command in ("probe", "run"):  # the clean exit: which key was refused, on one line
        assert f"answered {status}" in last and "$MY_KEY (api_key_env) was refused" in last
    if status == 500 and command == "probe":
        assert last.startswith("hfsweep: the probe could not run") and "http_500" in last
    assert hostile_server.authorizations() and set(hostile_server.authorizations()) == {f"Bearer {KEY}"}
    for secret in (TOKEN, KEY):
        assert_nowhere(secret, [tmp_path, isolated_cache], done.stdout, done.stderr)
    if command == "run -m":
        assert "<redacted>" in next(out.glob("sweep/*/failed.json")).read_text()


@pytest.mark.parametrize("command", ["run", "run -m"])
def test_an_interpolated_token_is_in_no_file_name_or_report(tmp_path, hostile_server, isolated_cache, command):
    out = tmp_path / "out"
    interpolated = ["model.system_prompt=${oc.env:HF_TOKEN}", "prompts.items=[{id: p1, text: 'say ${oc.env:HF_TOKEN}'}]"]
    args = [*every_command(out)[command], *ECHOED, *interpolated, f"model.endpoint={hostile_server.url}", "++report.enabled=true"]
    done = run_cli(args, env={"HF_TOKEN": TOKEN, "MY_KEY": KEY}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "report: " in done.stdout
    searched = assert_nowhere(TOKEN, [tmp_path, isolated_cache], done.stdout, done.stderr)
    assert searched >= 15  # config.yaml, summary.json, the jsonl, the parquets, the page, its CSVs and SVGs
    frame = pd.read_parquet(next(out.rglob("completions.parquet")))
    assert frame["text"].str.startswith("model <redacted> answers").all()  # the server quoted the model id: scrubbed at the writer
    assert frame["prompt"].eq("say <redacted>").all() and "say <redacted>" in next(out.rglob("prompts.jsonl")).read_text()


def test_endpoint_run_sends_the_token_to_its_endpoint_and_writes_it_nowhere(tmp_path, fault_server, isolated_cache):
    # The server demands the token, fails some requests, and echoes the token back in an error.
    fault_server.configure(required_token=TOKEN, fault_rate=0.2, faults=("rate_limit", "server_error", "malformed"), retry_after=0,
                           rules=[Rule(status=400, message=f"bad request from Bearer {TOKEN}", match={"seed": 1})])  # fmt: skip
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url), "prompts.limit=6",
                    "samples=2", "model.api_key_env=HF_TOKEN"], env={"HF_TOKEN": TOKEN})  # fmt: skip
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
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(fault_server.url), "prompts.limit=2",
                    "model.api_key_env=HF_TOKEN"], env={"HF_TOKEN": TOKEN})  # fmt: skip
    assert done.returncode == 2 and "$HF_TOKEN (api_key_env) was refused" in done.stderr
    assert_nowhere(TOKEN, [run_dir, isolated_cache], done.stdout, done.stderr)


def test_the_embedded_server_is_never_given_the_users_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    embedded = ModelTarget(kind="embedded", id="smollm2", gguf="smollm2", server="llama.cpp")
    assert resolve_token(embedded) == LOCAL_TOKEN
    assert resolve_token(ModelTarget(kind="endpoint", id="x", endpoint="http://127.0.0.1:1")) is None  # not Hugging Face's
    assert resolve_token(ModelTarget(kind="endpoint", id="x", endpoint="https://a.endpoints.huggingface.cloud")) == TOKEN


@pytest.mark.slow
def test_embedded_run_writes_the_token_nowhere(tmp_path, isolated_cache):
    run_dir = tmp_path / "run"
    done = run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, "model=smollm2", "prompts.limit=2", "samples=1",
                    "runner.timeout_s=60"], env={"HF_TOKEN": TOKEN}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(run_dir / "completions.parquet")
    assert len(frame) == 2 and frame["error"].isna().all() and frame["target_kind"].eq("embedded").all()
    assert_nowhere(TOKEN, [run_dir, isolated_cache], done.stdout, done.stderr)


@pytest.mark.parametrize("status", [401, 500])
def test_hfsweep_run_in_a_notebook_shows_no_secret(tmp_path, hostile_server, monkeypatch, capsys, status):
    """Outside the CLI (no scrubbing terminal): the error raised and the progress bar hold no secret either."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("MY_KEY", KEY)
    hostile_server.behaviour = Behaviour(status=status)
    with pytest.raises(HfsweepError) as raised:
        hfsweep.run([*ECHOED, "model.server=openai", f"model.endpoint={hostile_server.url}", *QUIET, *SCORE_LIGHT, "runner.progress=true"],
                    run_dir=tmp_path / "run")  # fmt: skip
    shown = capsys.readouterr()
    assert f"answered {status}" in str(raised.value) or "every request failed" in str(raised.value)
    assert "<redacted>" in str(raised.value) and "<redacted>" in shown.err  # the echo, and the bar's model id
    for secret in (TOKEN, KEY):
        assert secret not in str(raised.value) and secret not in shown.out + shown.err
