"""The aiohttp application behind `FaultServer`: config, fault decision, handlers.

See `fault_server.py` for the routes, the fault kinds and the exceptions the client raises.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .textgen import canonical_digest, count_tokens, fake_generation
from .tgi_server import tgi_completions_parameters, tgi_generate_response, tgi_usage, tgi_validation_error

FAULT_KINDS: tuple[str, ...] = ("rate_limit", "unavailable", "server_error", "hang", "drop", "malformed")
STATE: web.AppKey[_State] = web.AppKey("state")
GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions", "/generate", "/")
TGI_PATHS = ("/generate", "/")
# Keys that do not change what a real server generates.
_NON_SAMPLING_KEYS = {"stream", "stream_options", "n", "logprobs", "top_logprobs", "user"}


@dataclass(frozen=True)
class Rule:
    """Always answer `status` with `message` for requests that match; or, with `patch` or
    `body`, a wrong answer with that status (a 200 that a client must not trust).

    Args:
        status: HTTP status, e.g. 422.
        message: error message placed in the body (OpenAI or TGI style).
        match: dotted body paths -> required value (`{"temperature": 1.9}`,
            `{"parameters.top_p": 1.0}`), or a callable `(body, headers) -> bool`.
        path: only requests to this route (None: every generation route).
        patch: dotted paths of the normal answer -> the value sent instead
            (`{"usage.completion_tokens": 2**70}`, `{"choices": []}`,
            `{"choices.0.message.content": "bad \\udcff"}`: a lone surrogate, sent as its JSON escape).
        body: the raw answer, sent as is (`b'{"choices": [{"text": "\\xff"}]}'`: invalid UTF-8).
        content_type: of `body` (`text/html` for a proxy's error page).
    """

    status: int
    message: str = ""
    match: dict[str, Any] | Callable[[dict, dict], bool] = field(default_factory=dict)
    path: str | None = None
    patch: dict[str, Any] | None = None
    body: str | bytes | None = None
    content_type: str = "application/json"

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


def _patched(answer: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`answer` with each dotted path of `patch` set to its value (a digit indexes a list)."""
    answer = copy.deepcopy(answer)
    for dotted, value in patch.items():
        *parents, last = dotted.split(".")
        node: Any = answer
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return answer


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
        if not rule.matches(path, body, headers):
            continue
        if rule.body is not None:
            with state.lock:
                entry["status"] = rule.status
                state.counters["statuses"][str(rule.status)] += 1
            raw = rule.body.encode() if isinstance(rule.body, str) else rule.body
            return web.Response(status=rule.status, body=raw, headers={"Content-Type": rule.content_type})
        if rule.patch is not None:
            return reply(rule.status, _patched(_success_body(path, body, cfg)[0], rule.patch))
        return reply(rule.status, _error_body(style, rule.status, rule.message,
                                              "validation" if style == "tgi" else "invalid_request_error"))
    if path in TGI_PATHS:
        if body.get("stream"):
            return reply(400, _error_body("tgi", 400, "this test server does not stream", "validation"))
        invalid = tgi_validation_error(body.get("parameters") or {}, str(body.get("inputs", "")))
        if invalid:
            return reply(422, {"error": invalid, "error_type": "validation"})
    elif path == "/v1/completions" and cfg.error_style == "tgi" and not body.get("stream"):  # TGI's completions route
        invalid = tgi_validation_error(tgi_completions_parameters(body), str(body.get("prompt", "")))
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
