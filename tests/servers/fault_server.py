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
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import FAULT_KINDS, FaultConfig, Rule, _serve, _State, build_app

__all__ = ["FAULT_KINDS", "FaultConfig", "FaultServer", "Rule", "build_app", "main", "spawn"]


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
