"""A fault-injecting OpenAI-compatible (and TGI `/generate`) server on 127.0.0.1 for tests.

Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `POST /generate` and `POST /` (TGI;
`text_generation` with a base URL posts to `/`), `GET /v1/models`, `GET /health`, `GET /info`,
`GET /stats` (counters), `GET /requests` (every request body and headers received),
`POST /reset`, `POST /configure` (JSON of `FaultConfig` fields, for the subprocess mode).

Answers are deterministic functions of the request body (see `textgen.py`). Faults are decided
per request by a hash of (seed, body, how many times this identical body has arrived), so the
number of faults and retries is the same whatever the concurrency; a `schedule` overrides that
for the first requests in arrival order.

Exceptions `huggingface_hub` 2.4 raises for each fault (measured by `tests/test_servers.py`):

=============  ======================================================================
fault          chat_completion / text_generation on the OpenAI (default) error style
=============  ======================================================================
rate_limit     `huggingface_hub.errors.HfHubHTTPError`, `.response.status_code == 429`,
               `.response.headers["Retry-After"]`; on the TGI routes with TGI bodies,
               text_generation raises `huggingface_hub.errors.OverloadedError` instead
               (no status attribute: the HfHubHTTPError is its `__cause__`)
unavailable    `HfHubHTTPError` (503)
server_error   `HfHubHTTPError` (500); TGI routes with TGI bodies:
               `huggingface_hub.errors.IncompleteGenerationError` (cause: HfHubHTTPError)
hang           `huggingface_hub.errors.InferenceTimeoutError` (client `timeout=` set;
               its `__cause__` is `httpx2.ReadTimeout`); with no timeout it just waits
drop           `httpx2.RemoteProtocolError` ("Server disconnected without sending a
               response."), NOT wrapped by huggingface_hub
malformed      `json.JSONDecodeError` (a `ValueError`) from parsing the 200 body
400 (rule)     `huggingface_hub.errors.BadRequestError` (subclass of HfHubHTTPError)
401/404/422    `HfHubHTTPError` with that status; text_generation + TGI 422 body:
               `huggingface_hub.errors.ValidationError` (cause: HfHubHTTPError 422)
refused port   `httpx2.ConnectError`, not wrapped
=============  ======================================================================

`TextGenerationError` and its subclasses derive from `httpx2.HTTPError`, not from
`HfHubHTTPError`: read the status from `exc.__cause__.response.status_code`.

In-process use::

    with FaultServer(fault_rate=0.3, faults=("rate_limit", "drop"), latency=0.01) as server:
        client = AsyncInferenceClient(base_url=server.url, timeout=2)
        ...
        assert server.stats["faults"]["rate_limit"] > 0

Subprocess use: ``python -m tests.servers.fault_server --port 0 --latency 0.2 --fault-rate 0.3``
prints ``FAULT_SERVER_URL=http://127.0.0.1:PORT`` once it is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .textgen import canonical_digest, count_tokens, fake_generation
from .tgi_server import tgi_generate_response, tgi_usage, tgi_validation_error

FAULT_KINDS: tuple[str, ...] = ("rate_limit", "unavailable", "server_error", "hang", "drop", "malformed")
STATE: web.AppKey[_State] = web.AppKey("state")
GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions", "/generate", "/")
TGI_PATHS = ("/generate", "/")
# Keys that do not change what a real server generates.
_NON_SAMPLING_KEYS = {"stream", "stream_options", "n", "logprobs", "top_logprobs", "user"}


@dataclass(frozen=True)
class Rule:
    """Always answer `status` with `message` for requests that match.

    Args:
        status: HTTP status, e.g. 422.
        message: error message placed in the body (OpenAI or TGI style).
        match: dotted body paths -> required value (`{"temperature": 1.9}`,
            `{"parameters.top_p": 1.0}`), or a callable `(body, headers) -> bool`.
        path: only requests to this route (None: every generation route).
    """

    status: int
    message: str
    match: dict[str, Any] | Callable[[dict, dict], bool] = field(default_factory=dict)
    path: str | None = None

    def matches(self, path: str, body: dict, headers: dict) -> bool:
        if self.path is not None and self.path != path:
            return False
        if callable(self.match):
            return bool(self.match(body, headers))
        for dotted, want in self.match.items():
            node: Any = body
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    return False
                node = node[part]
            if node != want:
                return False
        return True


@dataclass(frozen=True)
class FaultConfig:
    """What the server does. Every field can be changed live with `FaultServer.configure`.

    Args:
        fault_rate: share of generation requests (0..1) that get a fault.
        faults: fault kinds to choose from, uniformly (subset of `FAULT_KINDS`).
        latency: seconds added before every generation answer (faults included).
        retry_after: `Retry-After` header value (integer seconds) on 429.
        hang_seconds: how long a `hang` sleeps before answering normally.
        seed: seeds the per-request fault decision.
        schedule: fault kind (or None for a normal answer) for the 1st, 2nd, ... generation
            request in arrival order; random faults apply after it. "Fail the first 3 with
            429": `schedule=["rate_limit"] * 3`.
        max_faults_per_body: after this many faults for one identical body, always answer it.
        rules: `Rule`s checked after auth and faults, before the answer.
        required_token: if set, requests without `Authorization: Bearer <token>` get 401.
        error_style: "openai" (`{"error": {"message", "type", "code"}}`) or "tgi"
            (`{"error": msg, "error_type": ...}`); TGI routes always use "tgi".
        models: ids listed by `/v1/models`; the first is the default `model` in answers.
        default_max_tokens: words generated when the request gives no limit.
    """

    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    latency: float = 0.0
    retry_after: int = 1
    hang_seconds: float = 30.0
    seed: int = 0
    schedule: tuple[str | None, ...] = ()
    max_faults_per_body: int | None = None
    rules: tuple[Rule, ...] = ()
    required_token: str | None = None
    error_style: str = "openai"
    models: tuple[str, ...] = ("fault-server-model",)
    default_max_tokens: int = 16

    def __post_init__(self) -> None:
        for name in ("faults", "schedule", "rules", "models"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {self.fault_rate}")
        unknown = [k for k in (*self.faults, *self.schedule) if k is not None and k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; expected one of {FAULT_KINDS}")
        if self.fault_rate > 0 and not self.faults:
            raise ValueError("fault_rate > 0 needs at least one fault kind in `faults`")
        if self.error_style not in ("openai", "tgi"):
            raise ValueError(f"error_style must be 'openai' or 'tgi', got {self.error_style!r}")
        if int(self.retry_after) != self.retry_after or self.retry_after < 0:
            raise ValueError(f"retry_after must be a non-negative integer, got {self.retry_after}")


class _State:
    """Config, counters and the request log; shared by the handlers and the owning thread."""

    def __init__(self, config: FaultConfig) -> None:
        self.lock = threading.Lock()
        self.config = config
        self.stopping: asyncio.Event | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.log: list[dict[str, Any]] = []
            self.counters: dict[str, Any] = {
                "requests": 0,
                "generation_requests": 0,
                "successes": 0,
                "statuses": Counter(),
                "faults": Counter(),
                "paths": Counter(),
                "prompt_tokens": 0,
                "completion_tokens": 0,
            }
            self.arrivals = 0
            self.attempts: Counter[str] = Counter()
            self.faulted: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            out = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.counters.items()}
            out["in_flight"] = sum(1 for r in self.log if r["status"] is None and r["fault"] != "drop")
            return out


def _error_body(style: str, status: int, message: str, kind: str) -> dict[str, Any]:
    if style == "tgi":
        return {"error": message, "error_type": kind}
    return {"error": {"message": message, "type": kind, "code": status}}


def _decide_fault(state: _State, digest: str) -> str | None:
    """Pick this request's fault (None: answer normally). Call with the lock held."""
    cfg = state.config
    index = state.arrivals
    state.arrivals += 1
    attempt = state.attempts[digest]
    state.attempts[digest] += 1
    if index < len(cfg.schedule):
        return cfg.schedule[index]
    if cfg.fault_rate <= 0:
        return None
    if cfg.max_faults_per_body is not None and state.faulted[digest] >= cfg.max_faults_per_body:
        return None
    h = canonical_digest([cfg.seed, digest, attempt])
    if int(h[:8], 16) / 2**32 >= cfg.fault_rate:
        return None
    return cfg.faults[int(h[8:16], 16) % len(cfg.faults)]


def _success_body(path: str, body: dict[str, Any], cfg: FaultConfig) -> tuple[dict[str, Any], int, int]:
    """(response body, prompt tokens, completion tokens) of a normal answer."""
    if path in TGI_PATHS:
        out = tgi_generate_response(body, cfg.default_max_tokens)
        return (out, *tgi_usage(body, out))
    key = {k: v for k, v in body.items() if k not in _NON_SAMPLING_KEYS}
    limit = body.get("max_tokens", body.get("max_completion_tokens")) or cfg.default_max_tokens
    stop = body.get("stop")
    gen = fake_generation(key, limit, [stop] if isinstance(stop, str) else stop)
    finish = "length" if gen.hit_limit else "stop"
    digest = canonical_digest(key)
    model = body.get("model") or cfg.models[0]
    if path == "/v1/chat/completions":
        prompt_text = " ".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))
        choice = {"index": 0, "message": {"role": "assistant", "content": gen.text}, "logprobs": None,
                  "finish_reason": finish}
        kind, prefix = "chat.completion", "chatcmpl"
    else:
        prompt = body.get("prompt", "")
        prompt_text = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
        choice = {"index": 0, "text": gen.text, "logprobs": None, "finish_reason": finish}
        kind, prefix = "text_completion", "cmpl"
    p_tok, c_tok = count_tokens(prompt_text), len(gen.tokens)
    out = {
        "id": f"{prefix}-{digest[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fault-server",
        "choices": [choice],
        "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok},
    }
    return out, p_tok, c_tok


async def _generation(request: web.Request) -> web.StreamResponse:
    state: _State = request.app[STATE]
    path = request.path
    raw = await request.read()
    headers = dict(request.headers)
    try:
        body = json.loads(raw) if raw else {}
        parse_error = None if isinstance(body, dict) else "request body must be a JSON object"
    except ValueError as exc:
        body, parse_error = None, f"request body is not valid JSON: {exc}"
    digest = canonical_digest(body if body is not None else raw.decode("utf-8", "replace"))
    with state.lock:
        cfg = state.config
        entry: dict[str, Any] = {"index": len(state.log), "method": request.method, "path": path,
                                 "body": copy.deepcopy(body), "headers": headers, "status": None,
                                 "fault": None, "time": time.time()}
        if body is None:
            entry["raw"] = raw.decode("utf-8", "replace")
        state.log.append(entry)
        state.counters["requests"] += 1
        state.counters["generation_requests"] += 1
        state.counters["paths"][path] += 1
        fault = None if parse_error else _decide_fault(state, digest)
        if fault and cfg.max_faults_per_body is not None:
            state.faulted[digest] += 1
        entry["fault"] = fault
        if fault:
            state.counters["faults"][fault] += 1
    style = "tgi" if path in TGI_PATHS else cfg.error_style

    def reply(status: int, payload: Any, **extra_headers: str) -> web.Response:
        with state.lock:
            entry["status"] = status
            state.counters["statuses"][str(status)] += 1
        return web.json_response(payload, status=status, headers=extra_headers or None)

    if cfg.latency > 0:
        await asyncio.sleep(cfg.latency)
    if cfg.required_token is not None and headers.get("Authorization") != f"Bearer {cfg.required_token}":
        msg = "Invalid credentials in Authorization header"
        return reply(401, _error_body(style, 401, msg, "authentication_error" if style == "openai" else "unauthorized"))
    if parse_error:
        return reply(400, _error_body(style, 400, parse_error, "invalid_request_error" if style == "openai" else "validation"))

    if fault == "rate_limit":
        msg = "Model is overloaded" if style == "tgi" else "Rate limit reached (injected fault)"
        return reply(429, _error_body(style, 429, msg, "overloaded" if style == "tgi" else "rate_limit_error"),
                     **{"Retry-After": str(int(cfg.retry_after))})
    if fault == "unavailable":
        return reply(503, {"error": "Service Unavailable (injected fault)"})
    if fault == "server_error":
        if style == "tgi":
            return reply(500, {"error": "Incomplete generation", "error_type": "incomplete_generation"})
        return reply(500, _error_body(style, 500, "Internal server error (injected fault)", "server_error"))
    if fault == "drop":
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # aiohttp treats this as "client went away": nothing is sent
    if fault == "hang":
        assert state.stopping is not None
        try:
            await asyncio.wait_for(state.stopping.wait(), timeout=cfg.hang_seconds)
        except asyncio.TimeoutError:
            pass

    for rule in cfg.rules:
        if rule.matches(path, body, headers):
            return reply(rule.status, _error_body(style, rule.status, rule.message,
                                                  "validation" if style == "tgi" else "invalid_request_error"))
    if path in TGI_PATHS:
        if body.get("stream"):
            return reply(400, _error_body("tgi", 400, "this test server does not stream", "validation"))
        invalid = tgi_validation_error(body.get("parameters") or {}, str(body.get("inputs", "")))
        if invalid:
            return reply(422, {"error": invalid, "error_type": "validation"})
    elif body.get("stream"):
        return reply(400, _error_body(style, 400, "this test server does not stream", "invalid_request_error"))

    out, p_tok, c_tok = _success_body(path, body, cfg)
    if fault == "malformed":
        text = json.dumps(out)
        with state.lock:
            entry["status"] = 200
            state.counters["statuses"]["200"] += 1
        return web.Response(status=200, body=text[: len(text) // 2].encode(), content_type="application/json")
    with state.lock:
        state.counters["successes"] += 1
        state.counters["prompt_tokens"] += p_tok
        state.counters["completion_tokens"] += c_tok
    return reply(200, out)


def _count(request: web.Request) -> _State:
    state: _State = request.app[STATE]
    with state.lock:
        state.counters["requests"] += 1
        state.counters["paths"][request.path] += 1
    return state


async def _health(request: web.Request) -> web.Response:
    _count(request)
    return web.json_response({"status": "ok"})


async def _models(request: web.Request) -> web.Response:
    state = _count(request)
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fault-server"} for m in state.config.models]
    return web.json_response({"object": "list", "data": data})


async def _info(request: web.Request) -> web.Response:
    state = _count(request)
    return web.json_response({"model_id": state.config.models[0], "max_total_tokens": 4096,
                              "max_input_tokens": 4095, "router": "fault-server", "version": "0"})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats())


async def _requests(request: web.Request) -> web.Response:
    state: _State = request.app[STATE]
    with state.lock:
        return web.json_response(copy.deepcopy(state.log))


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"reset": True})


async def _configure(request: web.Request) -> web.Response:
    state: _State = request.app[STATE]
    try:
        changes = await request.json()
        changes["rules"] = tuple(Rule(**r) for r in changes.get("rules", ()))
        if not changes["rules"]:
            del changes["rules"]
        with state.lock:
            state.config = dataclasses.replace(state.config, **changes)
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"configured": sorted(changes)})


def build_app(state: _State) -> web.Application:
    """The aiohttp application serving every route above from `state`."""
    app = web.Application(client_max_size=16 * 2**20)
    app[STATE] = state
    for path in GENERATION_PATHS:
        app.router.add_post(path, _generation)
    app.router.add_get("/health", _health)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/info", _info)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/requests", _requests)
    app.router.add_post("/reset", _reset)
    app.router.add_post("/configure", _configure)
    return app


async def _serve(state: _State, host: str, port: int) -> tuple[web.AppRunner, int]:
    state.stopping = asyncio.Event()
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    sockets = site._server.sockets  # type: ignore[union-attr]
    return runner, sockets[0].getsockname()[1]


class FaultServer:
    """The server running in a background thread with its own event loop.

    Args:
        config: a `FaultConfig`; keyword arguments override its fields.
        host: interface to bind (keep 127.0.0.1).
        port: 0 picks a free port.
        **overrides: `FaultConfig` fields.
    """

    def __init__(self, config: FaultConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 **overrides: Any) -> None:
        self._state = _State(dataclasses.replace(config or FaultConfig(), **overrides))
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> FaultServer:
        """Start listening; returns self once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("FaultServer already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner, self._port = loop.run_until_complete(_serve(self._state, self._host, self._port))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Wake hanging handlers, close the port, join the thread. Safe to call twice."""
        if self._thread is None or self._loop is None:
            return
        loop, state = self._loop, self._state
        if state.stopping is not None:
            loop.call_soon_threadsafe(state.stopping.set)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:40123` (pass it as `base_url`)."""
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def config(self) -> FaultConfig:
        return self._state.config

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: requests, generation_requests, successes, statuses {"429": n},
        faults {"drop": n}, paths, prompt_tokens, completion_tokens, in_flight."""
        return self._state.stats()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every generation request received: index, method, path, body, headers, status, fault."""
        with self._state.lock:
            return copy.deepcopy(self._state.log)

    def reset(self) -> None:
        """Clear the log, the counters, the per-body attempt counts and the schedule position."""
        self._state.reset()

    def configure(self, **changes: Any) -> FaultConfig:
        """Replace some `FaultConfig` fields (validated) for the following requests."""
        with self._state.lock:
            self._state.config = dataclasses.replace(self._state.config, **changes)
            return self._state.config


def spawn(args: Sequence[str] = (), *, module: str = "tests.servers.fault_server",
          timeout: float = 15.0, cwd: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start the server as a subprocess and return (process, base URL) once it listens.

    Args:
        args: command-line options, e.g. `["--latency", "0.2", "--fault-rate", "0.3"]`.
        module: `tests.servers.fault_server` or `tests.servers.tgi_server`.
        timeout: seconds to wait for the URL line.
        cwd: working directory; default the repository root, so that `tests` is importable.
    """
    cwd = cwd or str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *args], cwd=cwd,
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("FAULT_SERVER_URL="):
            return proc, line.split("=", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"{module} did not print its URL within {timeout}s (exit code {proc.poll()})")


def main(argv: Sequence[str] | None = None, default_error_style: str = "openai") -> int:
    """Command line: run until SIGINT/SIGTERM."""
    p = argparse.ArgumentParser(prog="python -m tests.servers.fault_server", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help=f"comma list of {FAULT_KINDS}")
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--hang-seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0, help="fail the first N generation requests...")
    p.add_argument("--fail-first-kind", default="unavailable", help="...with this fault kind")
    p.add_argument("--max-faults-per-body", type=int, default=None)
    p.add_argument("--required-token", default=None)
    p.add_argument("--error-style", default=default_error_style, choices=("openai", "tgi"))
    p.add_argument("--model", action="append", default=None, help="model id for /v1/models (repeatable)")
    p.add_argument("--rule", action="append", default=[],
                   help='JSON {"status": 422, "message": "...", "match": {"temperature": 1.9}, "path": null}')
    a = p.parse_args(argv)
    config = FaultConfig(
        fault_rate=a.fault_rate, faults=tuple(k for k in a.faults.split(",") if k), latency=a.latency,
        retry_after=a.retry_after, hang_seconds=a.hang_seconds, seed=a.seed,
        schedule=(a.fail_first_kind,) * a.fail_first, max_faults_per_body=a.max_faults_per_body,
        rules=tuple(Rule(**json.loads(r)) for r in a.rule), required_token=a.required_token,
        error_style=a.error_style, models=tuple(a.model or FaultConfig.models),
    )
    state = _State(config)

    async def run() -> None:
        runner, port = await _serve(state, a.host, a.port)
        print(f"FAULT_SERVER_URL=http://{a.host}:{port}", flush=True)
        stop = asyncio.Event()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        assert state.stopping is not None
        state.stopping.set()
        await runner.cleanup()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
