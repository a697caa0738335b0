"""The test servers, exercised with the real `huggingface_hub` client over real HTTP.

These tests also pin down which exception `huggingface_hub` 2.4 raises for each fault, the
table the runner's retry logic relies on (see the docstring of `tests/servers/fault_server.py`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx2
import pytest

# `tests` has no __init__.py, so plain `pytest` puts tests/ (not the repo root) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from huggingface_hub import AsyncInferenceClient, InferenceClient  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    BadRequestError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    ValidationError,
)

from tests.servers.fault_server import FAULT_KINDS, FaultServer, Rule, spawn  # noqa: E402
from tests.servers.fixtures import fault_server, tgi_server  # noqa: E402,F401

pytestmark = pytest.mark.timeout(60)
MESSAGES = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")


def chat(url: str, timeout: float = 5, **kwargs):
    async def go():
        async with AsyncInferenceClient(base_url=url, timeout=timeout) as client:
            return await client.chat_completion(MESSAGES, **kwargs)

    return asyncio.run(go())


def text(url: str, prompt: str = "Once upon a time", timeout: float = 5, **kwargs):
    async def go():
        async with AsyncInferenceClient(model=url, timeout=timeout) as client:
            return await client.text_generation(prompt, **kwargs)

    return asyncio.run(go())


# --- normal answers ---------------------------------------------------------------------------


def test_chat_completion_is_deterministic_and_parameter_sensitive(fault_server: FaultServer) -> None:
    a = chat(fault_server.url, max_tokens=50, temperature=0.7, seed=1)
    b = chat(fault_server.url, max_tokens=50, temperature=0.7, seed=1)
    c = chat(fault_server.url, max_tokens=50, temperature=0.8, seed=1)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].message.content != c.choices[0].message.content
    assert a.choices[0].finish_reason == "stop"
    assert a.usage.completion_tokens == len(a.choices[0].message.content.split())
    assert a.usage.prompt_tokens == 3
    short = chat(fault_server.url, max_tokens=2, seed=1)
    assert short.choices[0].finish_reason == "length"
    assert len(short.choices[0].message.content.split()) == 2
    assert fault_server.stats["successes"] == 4
    assert fault_server.stats["statuses"] == {"200": 4}


def test_chat_body_carries_extra_body_and_zero_values(fault_server: FaultServer) -> None:
    chat(fault_server.url, max_tokens=8, temperature=1.0, top_p=1.0, seed=7, frequency_penalty=0.0,
         presence_penalty=0.0, extra_body={"top_k": 40, "min_p": 0, "repeat_penalty": 1.0}, model="smollm2")
    (req,) = fault_server.requests
    assert req["path"] == "/v1/chat/completions"
    body = req["body"]
    assert body["top_k"] == 40 and body["min_p"] == 0 and body["repeat_penalty"] == 1.0
    assert body["frequency_penalty"] == 0.0 and body["presence_penalty"] == 0.0
    assert body["model"] == "smollm2" and body["messages"] == MESSAGES and body["seed"] == 7


def test_model_url_without_model_sends_dummy(fault_server: FaultServer) -> None:
    chat(fault_server.url, max_tokens=3)
    assert fault_server.requests[0]["body"]["model"] == "dummy"


def test_sync_client_and_openai_routes(fault_server: FaultServer) -> None:
    out = InferenceClient(base_url=fault_server.url).chat_completion(MESSAGES, max_tokens=4)
    assert out.choices[0].message.role == "assistant"
    with httpx2.Client(base_url=fault_server.url) as http:
        comp = http.post("/v1/completions", json={"prompt": "Hello", "max_tokens": 3, "top_k": 5}).json()
        assert comp["object"] == "text_completion" and comp["choices"][0]["finish_reason"] == "length"
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/v1/models").json()["data"][0]["id"] == "fault-server-model"
        stats = http.get("/stats").json()
        assert stats["generation_requests"] == 2 and stats["successes"] == 2
        logged = http.get("/requests").json()
        assert logged[1]["body"]["top_k"] == 5


def test_ambient_hf_token_reaches_a_url_target(fault_server: FaultServer, monkeypatch) -> None:
    """docs/config.md, "Tokens": without a token the client still sends HF_TOKEN as a Bearer header to any URL."""
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    monkeypatch.delenv("HF_HUB_DISABLE_IMPLICIT_TOKEN")
    chat(fault_server.url, max_tokens=3)
    assert fault_server.requests[0]["headers"].get("Authorization") == "Bearer hf_fake_token_for_tests"


def test_required_token_gives_401(fault_server: FaultServer) -> None:
    fault_server.configure(required_token="secret")
    with pytest.raises(HfHubHTTPError) as info:
        chat(fault_server.url, max_tokens=3)
    assert info.value.response.status_code == 401

    async def with_token():
        async with AsyncInferenceClient(base_url=fault_server.url, api_key="secret") as client:
            return await client.chat_completion(MESSAGES, max_tokens=3)

    assert asyncio.run(with_token()).choices[0].message.content


# --- faults -----------------------------------------------------------------------------------


def test_429_carries_retry_after(fault_server: FaultServer) -> None:
    fault_server.configure(schedule=["rate_limit"], retry_after=7)
    with pytest.raises(HfHubHTTPError) as info:
        chat(fault_server.url, max_tokens=3)
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert chat(fault_server.url, max_tokens=3).choices  # the schedule is over: next one succeeds
    assert fault_server.stats["faults"] == {"rate_limit": 1}
    assert fault_server.stats["statuses"] == {"429": 1, "200": 1}


@pytest.mark.parametrize("kind,status", [("unavailable", 503), ("server_error", 500)])
def test_5xx(fault_server: FaultServer, kind: str, status: int) -> None:
    fault_server.configure(schedule=[kind])
    with pytest.raises(HfHubHTTPError) as info:
        chat(fault_server.url, max_tokens=3)
    assert info.value.response.status_code == status


def test_hang_is_an_inference_timeout(fault_server: FaultServer) -> None:
    fault_server.configure(schedule=["hang"], hang_seconds=20)
    started = time.monotonic()
    with pytest.raises(InferenceTimeoutError) as info:
        chat(fault_server.url, timeout=0.3, max_tokens=3)
    assert isinstance(info.value.__cause__, httpx2.TimeoutException)
    assert time.monotonic() - started < 5
    started = time.monotonic()
    fault_server.stop()  # wakes the hanging handler instead of waiting 20 s
    assert time.monotonic() - started < 5


def test_dropped_connection(fault_server: FaultServer) -> None:
    fault_server.configure(schedule=["drop"])
    with pytest.raises(httpx2.RemoteProtocolError):
        chat(fault_server.url, max_tokens=3)
    fault_server.configure(schedule=["drop"])
    fault_server.reset()
    with pytest.raises(httpx2.RemoteProtocolError):
        InferenceClient(base_url=fault_server.url).chat_completion(MESSAGES, max_tokens=3)
    assert fault_server.stats["faults"] == {"drop": 1}
    assert fault_server.stats["statuses"] == {}


def test_malformed_json(fault_server: FaultServer) -> None:
    fault_server.configure(schedule=["malformed"])
    with pytest.raises(json.JSONDecodeError):
        chat(fault_server.url, max_tokens=3)


def test_refused_connection_is_a_connect_error() -> None:
    server = FaultServer().start()
    url = server.url
    server.stop()
    with pytest.raises(httpx2.ConnectError):
        chat(url, max_tokens=3)


def test_rules_answer_fixed_client_errors(fault_server: FaultServer) -> None:
    fault_server.configure(rules=[
        Rule(422, "temperature must be < 1.5", match=lambda body, headers: body.get("temperature", 0) >= 1.5),
        Rule(400, "unknown model", match={"model": "nope"}),
        Rule(404, "no such route for this model", match={"model": "gone"}),
    ])
    with pytest.raises(HfHubHTTPError) as info:
        chat(fault_server.url, max_tokens=3, temperature=1.9)
    assert info.value.response.status_code == 422
    assert info.value.response.json()["error"]["message"] == "temperature must be < 1.5"
    with pytest.raises(BadRequestError):
        chat(fault_server.url, max_tokens=3, model="nope")
    with pytest.raises(HfHubHTTPError) as info:
        chat(fault_server.url, max_tokens=3, model="gone")
    assert info.value.response.status_code == 404
    assert chat(fault_server.url, max_tokens=3, temperature=0.5).choices


def test_fault_share_is_reproducible_whatever_the_order(fault_server: FaultServer) -> None:
    fault_server.configure(fault_rate=0.3, faults=("rate_limit", "unavailable", "server_error"),
                           retry_after=0, seed=11)

    async def sweep(order):
        async with AsyncInferenceClient(base_url=fault_server.url, timeout=5) as client:
            async def one(i):
                for _attempt in range(10):
                    try:
                        return await client.chat_completion(MESSAGES, max_tokens=4, seed=i)
                    except HfHubHTTPError:
                        continue
                raise AssertionError("10 faults in a row")

            return await asyncio.gather(*(one(i) for i in order))

    first = asyncio.run(sweep(range(40)))
    stats = fault_server.stats
    assert stats["successes"] == 40
    assert 0 < sum(stats["faults"].values()) < 80  # about 17 expected; 32 for this seed
    assert stats["generation_requests"] == 40 + sum(stats["faults"].values())
    fault_server.reset()
    second = asyncio.run(sweep(reversed(range(40))))
    assert fault_server.stats["faults"] == stats["faults"]
    assert [r.choices[0].message.content for r in first] == [r.choices[0].message.content for r in reversed(second)]


def test_max_faults_per_body(fault_server: FaultServer) -> None:
    fault_server.configure(fault_rate=1.0, faults=("unavailable",), max_faults_per_body=2)
    for _ in range(2):
        with pytest.raises(HfHubHTTPError):
            chat(fault_server.url, max_tokens=3)
    assert chat(fault_server.url, max_tokens=3).choices


def test_concurrency_16_at_200ms_is_not_the_bottleneck(fault_server: FaultServer) -> None:
    fault_server.configure(latency=0.2)

    async def run():
        sem = asyncio.Semaphore(16)
        async with AsyncInferenceClient(base_url=fault_server.url, timeout=10) as client:
            async def one(i):
                async with sem:
                    await client.chat_completion(MESSAGES, max_tokens=8, seed=i)

            started = time.monotonic()
            await asyncio.gather(*(one(i) for i in range(64)))
            return time.monotonic() - started

    elapsed = asyncio.run(run())
    ideal = 64 / (16 / 0.2)
    # Serial would take 12.8 s; measured about 95% of ideal. Loose bound: the suite may share 2 cores.
    assert elapsed < ideal / 0.6, f"{elapsed:.2f}s for 64 requests, ideal {ideal:.2f}s"


def test_subprocess_mode() -> None:
    proc, url = spawn(["--fail-first", "1", "--fail-first-kind", "rate_limit", "--retry-after", "3"])
    try:
        with pytest.raises(HfHubHTTPError) as info:
            chat(url, max_tokens=3)
        assert info.value.response.headers["Retry-After"] == "3"
        assert chat(url, max_tokens=3).choices
        with httpx2.Client(base_url=url) as http:
            assert http.get("/stats").json()["statuses"] == {"429": 1, "200": 1}
            http.post("/configure", json={"schedule": ["unavailable"]})
            http.post("/reset")
            with pytest.raises(HfHubHTTPError) as info:
                chat(url, max_tokens=3)
            assert info.value.response.status_code == 503
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


# --- TGI route --------------------------------------------------------------------------------


def test_text_generation_with_details(tgi_server: FaultServer) -> None:
    out = text(tgi_server.url, max_new_tokens=4, top_k=20, top_p=0.9, temperature=0.7,
               repetition_penalty=1.1, seed=5, details=True)
    assert out.details.finish_reason == "length"
    assert out.details.generated_tokens == 4 == len(out.generated_text.split())
    assert out.details.seed == 5
    assert [t.text.strip() for t in out.details.tokens] == out.generated_text.split()
    (req,) = tgi_server.requests
    assert req["path"] == "/"  # a base URL is posted to as is: TGI's compat route
    assert req["body"] == {"inputs": "Once upon a time", "parameters": {
        "details": True, "max_new_tokens": 4, "repetition_penalty": 1.1, "seed": 5,
        "temperature": 0.7, "top_k": 20, "top_p": 0.9}}
    long = text(tgi_server.url, max_new_tokens=100, details=True, seed=5)
    assert long.details.finish_reason == "eos_token"
    assert text(tgi_server.url + "/generate", max_new_tokens=4, seed=5) == text(tgi_server.url, max_new_tokens=4, seed=5)
    assert tgi_server.requests[-2]["path"] == "/generate"


@pytest.mark.parametrize("params,message", [
    ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"repetition_penalty": 0.0}, "`repetition_penalty` must be strictly positive"),
    ({"temperature": 0.0}, "`temperature` must be strictly positive"),
    ({"top_k": 0}, "`top_k` must be strictly positive"),
])
def test_text_generation_validation_422(tgi_server: FaultServer, params: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        text(tgi_server.url, max_new_tokens=4, **params)
    assert str(info.value) == message
    assert isinstance(info.value.__cause__, HfHubHTTPError)
    assert info.value.__cause__.response.status_code == 422
    assert tgi_server.stats["statuses"] == {"422": 1}


@pytest.mark.parametrize("kind,exc,status", [
    ("rate_limit", OverloadedError, 429),
    ("server_error", IncompleteGenerationError, 500),
    ("unavailable", HfHubHTTPError, 503),
])
def test_text_generation_faults(tgi_server: FaultServer, kind: str, exc: type, status: int) -> None:
    tgi_server.configure(schedule=[kind])
    with pytest.raises(exc) as info:
        text(tgi_server.url, max_new_tokens=4)
    error = info.value if isinstance(info.value, HfHubHTTPError) else info.value.__cause__
    assert error.response.status_code == status


def test_fault_kinds_are_all_covered() -> None:
    assert set(FAULT_KINDS) == {"rate_limit", "unavailable", "server_error", "hang", "drop", "malformed"}
