"""Which credential goes where (issue 22, part 1): the Hugging Face token to Hugging Face's hosts
only, a key named by model.api_key_env to its endpoint, nothing anywhere else or through a redirect.

Every test runs the CLI against local servers that log every header they are sent.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.credentials import credential_for, is_hf_url, plain_http_warning
from tests.cli_helpers import every_command, run_cli
from tests.servers.hostile import Behaviour, HostileServer
from tests.sweep_helpers import QUIET, SCORE_LIGHT

TOKEN = "hf_FAKE_token_do_not_leak_0123456789abcdef"
KEY = "vllm-FAKE-key-do-not-leak-9876543210"
ENV = {"HF_TOKEN": TOKEN, "MY_KEY": KEY}
# model.server=auto: detection's GETs and the hidden-defaults check's requests go out too
AUTO = ["model=endpoint", "model.id=m", "model.server=auto", "prompts.limit=2", "samples=1"]


@pytest.mark.parametrize("command", list(every_command(Path())))
def test_an_endpoint_that_is_not_hugging_face_gets_no_credential_on_any_request(tmp_path, hostile_server, command):
    done = run_cli([*every_command(tmp_path / "out")[command], *AUTO, f"model.endpoint={hostile_server.url}"], env=ENV)
    assert done.returncode == 0, done.stderr
    methods = {seen.method for seen in hostile_server.log}
    assert methods == ({"GET"} if command == "validate" else {"GET", "POST"})  # detection; the probes and the run
    assert hostile_server.authorizations() == [None] * len(hostile_server.log)
    if command == "validate":
        assert f"credential: none sent to {hostile_server.url} (not a Hugging Face host" in done.stdout
        assert "Sent no completion; sent 5 detection GETs (props, info, version, version, openapi.json)" in done.stdout
        assert "Nothing was sent" not in done.stdout


def test_the_hub_gets_the_hugging_face_token(tmp_path, hostile_server):
    """An endpoint at the Hub's origin (``HF_ENDPOINT``) is Hugging Face's: the token goes there, on every request."""
    target = [*AUTO, f"model.endpoint={hostile_server.url}"]
    done = run_cli([*every_command(tmp_path / "out")["run"], *target], env={**ENV, "HF_ENDPOINT": hostile_server.url})
    assert done.returncode == 0, done.stderr
    assert set(hostile_server.authorizations()) == {f"Bearer {TOKEN}"} and TOKEN not in done.stdout + done.stderr
    validate = run_cli(["validate", *target], env={**ENV, "HF_ENDPOINT": hostile_server.url})
    assert f"credential: HF_TOKEN sent to {hostile_server.url}" in validate.stdout


def test_a_hugging_face_host_that_wants_a_token_none_was_found_for_says_so(tmp_path, hostile_server):
    hostile_server.behaviour = Behaviour(status=401)
    env = {"HF_ENDPOINT": hostile_server.url, "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": ""}  # no token, no saved login
    done = run_cli([*every_command(tmp_path / "out")["run"], *AUTO, f"model.endpoint={hostile_server.url}"], env=env)
    assert done.returncode == 2, done.stderr
    assert "answered 401" in done.stderr and "it wants a Hugging Face token and none was found: set HF_TOKEN" in done.stderr


@pytest.mark.parametrize("name, value", [("MY_KEY", KEY), ("HF_TOKEN", TOKEN)], ids=["own_key", "hf_token_opt_in"])
def test_api_key_env_sends_that_variable_and_nothing_else(tmp_path, hostile_server, name, value):
    target = [*AUTO, f"model.endpoint={hostile_server.url}", f"model.api_key_env={name}"]
    run = run_cli(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *target], env=ENV)
    assert run.returncode == 0, run.stderr
    validate = run_cli(["validate", *target], env=ENV)
    assert f"credential: ${name} (api_key_env) sent to {hostile_server.url}" in validate.stdout
    assert set(hostile_server.authorizations()) == {f"Bearer {value}"}
    assert value not in run.stdout + run.stderr + validate.stdout + validate.stderr


def test_validate_says_which_credential_the_judge_gets(hostile_server, second_server):
    judge = ["judge=endpoint", f"judge.model.endpoint={second_server.url}", "judge.model.api_key_env=MY_KEY"]
    done = run_cli(["validate", *AUTO, f"model.endpoint={hostile_server.url}", *judge], env=ENV)
    assert done.returncode == 0, done.stderr
    assert f"\ncredential: none sent to {hostile_server.url}" in done.stdout
    assert f"\njudge credential: $MY_KEY (api_key_env) sent to {second_server.url}" in done.stdout
    assert second_server.log == []  # validate asks nothing of the judge


def test_an_unset_api_key_env_stops_before_anything_is_sent(hostile_server):
    done = run_cli(["validate", *AUTO, f"model.endpoint={hostile_server.url}", "model.api_key_env=NOT_SET_ANYWHERE"], env=ENV)
    assert done.returncode == 2 and "model.api_key_env = 'NOT_SET_ANYWHERE' names an environment variable that is not set" in done.stderr
    assert hostile_server.log == []
    bad = run_cli(["validate", *AUTO, f"model.endpoint={hostile_server.url}", "model.api_key_env=not-a-name"])
    assert bad.returncode == 2 and "the name of an environment variable" in bad.stderr
    embedded = run_cli(["validate", "model=smollm2", "model.api_key_env=MY_KEY"], env=ENV)
    assert embedded.returncode == 2 and "is not accepted with the embedded server" in embedded.stderr


@pytest.mark.parametrize("command", list(every_command(Path())))
@pytest.mark.parametrize("mode", ["chat", "text"])  # huggingface_hub's client, and the text backend's httpx client
def test_no_credential_follows_a_redirect_to_another_origin(tmp_path, hostile_server, second_server, mode, command):
    hostile_server.behaviour = Behaviour(redirect=second_server.url)
    target = [*AUTO, f"model.endpoint={hostile_server.url}", "model.api_key_env=MY_KEY", f"model.mode={mode}"]
    done = run_cli([*every_command(tmp_path / "out")[command], *target], env=ENV)
    assert done.returncode == 0, done.stderr
    expected = {"GET"} if command == "validate" else {"GET", "POST"}
    assert {seen.method for seen in second_server.log} == expected  # detection and completions were redirected
    assert second_server.authorizations() == [None] * len(second_server.log)
    assert set(hostile_server.authorizations()) == {f"Bearer {KEY}"}


def test_the_hugging_face_token_goes_to_hugging_face_hosts_over_https_only(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    for url in ("https://router.huggingface.co/v1", "https://abc.us-east-1.aws.endpoints.huggingface.cloud", "https://huggingface.co"):
        assert is_hf_url(url) and credential_for(ModelTarget(kind="endpoint", id="m", endpoint=url)).value == TOKEN
    for url in ("http://router.huggingface.co/v1", "https://huggingface.co.example", "https://evilhuggingface.co", "http://127.0.0.1:8080"):
        assert not is_hf_url(url) and credential_for(ModelTarget(kind="endpoint", id="m", endpoint=url)) is None
    assert credential_for(ModelTarget(kind="hf", id="org/name")).source == "HF_TOKEN"


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (the route a UDP socket would take; nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_a_credential_over_plain_http_to_another_machine_is_warned_of(monkeypatch, hostile_server):
    monkeypatch.setenv("MY_KEY", KEY)
    assert plain_http_warning(ModelTarget(kind="endpoint", id="m", endpoint="https://10.1.2.3:8000", api_key_env="MY_KEY")) is None
    assert plain_http_warning(ModelTarget(kind="endpoint", id="m", endpoint="http://10.1.2.3:8000")) is None  # nothing sent
    local = run_cli(["validate", *AUTO, f"model.endpoint={hostile_server.url}", "model.api_key_env=MY_KEY"], env=ENV)
    assert "plain http" not in local.stdout  # this machine: nothing crosses a network
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with HostileServer(address) as remote:
        done = run_cli(["validate", *AUTO, f"model.endpoint={remote.url}", "model.api_key_env=MY_KEY"], env=ENV)
        assert done.returncode == 0, done.stderr
        assert f"warning: $MY_KEY (api_key_env) goes to {remote.url} over plain http, readable on the way: use https" in done.stdout
        assert set(remote.authorizations()) == {f"Bearer {KEY}"}  # a warning, not a refusal
