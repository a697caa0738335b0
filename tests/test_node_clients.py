"""Each node profile sends what the real JS client sends, request for request.

The workflow node's LangChain (``@langchain/community`` 1.1.27) and each Hugging Face JS client a
profile follows (``@huggingface/inference`` 4.0.5, the one @n8n/n8n-nodes-langchain 2.41.1 pins,
and 4.13.30) are pinned in tests/js/package.json and installed by ``make .venv/.installed-test``.
tests/js/send.mjs makes the node's own call (``new HuggingFaceInference({model, apiKey, ...options})``
then ``invoke``; the node package itself is too heavy to install, see send.mjs) for every node-way
setting of ``sweep=node_claims``; hfsweep's backend for the profile sends the same settings; both go
to one local TGI-like server that records each request. The path and body must be equal (for the
pinned client, but the ``details`` hfsweep adds to read the finish reason: node_backends.MEASURING),
and the emulation's record of the client's body (node_mapping.client_request) must be the client's.
A change in either client's request shows up here as a failing test.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from hfsweep.core.node import BY_PARAM, PROFILES
from hfsweep.sweeps.backends import RequestFailure
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.dispatch import make_backend
from hfsweep.sweeps.node_backends import MEASURING
from hfsweep.sweeps.node_mapping import client_request
from hfsweep.sweeps.plan import make_plan

JS = Path(__file__).parent / "js"
NODE_ID = "mistralai/Mistral-Nemo-Base-2407"  # the node's default Model


def _node_way(url: str, compat: str) -> tuple[object, list]:
    """The plan of sweep=node_claims on the server for ``compat``, and its node-way requests (one per setting)."""
    config, _ = compose_config(["sweep=node_claims", f"compat={compat}", "model=endpoint", f"model.endpoint={url}", "model.server=tgi",
                                f"model.id={NODE_ID}", "prompts.limit=1", "samples=1"])  # fmt: skip
    plan = make_plan(config)
    requests = [job.request for job in plan.jobs if job.request.compat in ("", compat)]
    return plan, [replace(request, prompt=f"case {i}") for i, request in enumerate(requests)]


def _node_options(request, url: str) -> dict:
    """The node's options for a request, by their keys in the node's source: the Model, the Custom
    Inference Endpoint, Maximum Number of Tokens (hfsweep always adds it) and the options the setting names."""
    options = {"model": NODE_ID, "endpointUrl": url, BY_PARAM["max_tokens"].key: request.params["max_tokens"]}
    return options | {BY_PARAM[param].key: request.params[param] for param in request.options}


def _send_js(version: str, cases: list[dict]) -> dict:
    if shutil.which("node") is None or not (JS / "node_modules").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: make .venv/.installed-test installs the pinned clients (npm ci)")
    done = subprocess.run(["node", "send.mjs", version], check=False, cwd=JS, input=json.dumps(cases), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _send_hfsweep(plan, compat: str, url: str, requests: list) -> None:
    backend = make_backend(plan.config.model, plan.capability, url, None, 10.0, compat)
    try:
        for request in requests:
            try:
                await backend.complete(request)
            except RequestFailure:
                pass  # a value TGI refuses: the request it sent is what the test reads
    finally:
        await backend.close()


def _by_prompt(log: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for entry in log:
        body = entry["body"]
        prompt = body.get("inputs", body.get("prompt"))
        assert prompt not in out, f"two requests for {prompt}"
        out[prompt] = entry
    return out


@pytest.mark.parametrize("compat", list(PROFILES))
def test_each_profile_sends_what_the_real_client_sends(compat, tgi_server):
    profile = PROFILES[compat]
    version = profile.client.split()[-1]
    plan, requests = _node_way(tgi_server.url, compat)
    assert len(requests) == 30  # the node-way settings of sweep=node_claims, the base included

    answer = _send_js(version, [{"prompt": r.prompt, "options": _node_options(r, tgi_server.url)} for r in requests])
    client = _by_prompt(tgi_server.requests)
    tgi_server.reset()
    asyncio.run(_send_hfsweep(plan, compat, tgi_server.url, requests))
    ours = _by_prompt(tgi_server.requests)

    assert answer["cases"] == len(client) == len(ours) == len(requests)
    assert {entry["headers"]["User-Agent"] for entry in client.values()} == {f"@huggingface/inference/{version}"}
    for request in requests:
        theirs, mine = client[request.prompt], ours[request.prompt]
        assert mine["path"] == theirs["path"] == ("/" if profile.route == "generate" else "/v1/completions"), request
        sent = dict(mine["body"])
        if profile.route == "generate":
            sent["parameters"] = {k: v for k, v in sent["parameters"].items() if k not in MEASURING}
            recorded = theirs["body"]["parameters"]
        else:
            recorded = {k: v for k, v in theirs["body"].items() if k not in ("model", "prompt")}
        assert sent == theirs["body"], (request.options, request.params)
        assert client_request(profile.route, request.params, request.options)[0] == recorded  # what the emulation records as sent
    # the refusals are TGI's (the server follows router/src/validation.rs): the same values, both ways
    assert answer["failed"] == sum(entry["status"] == 422 for entry in ours.values()) > 0


def test_the_clients_differ_where_the_profiles_say(tgi_server):
    """The pinned client posts TGI's body to the URL itself; the newer one an OpenAI-style body to
    /v1/completions, with max_tokens, the Model, and top_k still in it (TGI's completions route drops it)."""
    options = {"model": NODE_ID, "endpointUrl": tgi_server.url, "maxTokens": 16, "topK": 1, "presencePenalty": 1.5, "frequencyPenalty": 1.2}
    for version in ("4.0.5", "4.13.30"):
        _send_js(version, [{"prompt": f"with {version}", "options": options}])
    sent = _by_prompt(tgi_server.requests)
    assert sent["with 4.0.5"]["path"] == "/" and sent["with 4.0.5"]["body"] == {
        "inputs": "with 4.0.5", "parameters": {"return_full_text": False, "max_new_tokens": 16, "top_k": 1, "repetition_penalty": 1.2}}
    assert sent["with 4.13.30"]["path"] == "/v1/completions" and sent["with 4.13.30"]["body"] == {
        "model": NODE_ID, "prompt": "with 4.13.30", "max_tokens": 16, "return_full_text": False, "top_k": 1, "repetition_penalty": 1.2}
