"""A hostile OpenAI-compatible server on 127.0.0.1: it logs every header it is sent, and can echo
them back, redirect elsewhere, trickle its answer a byte at a time, or answer 200 with anything.

What it does is one :class:`Behaviour`, changed live (``server.behaviour = Behaviour(...)``):

- ``status``: answer every request (GETs included) with this status and a body that echoes the
  ``Authorization`` header and the request's ``model`` field (a server that quotes what it was sent);
- ``redirect``: answer every request with 307 to the same path on this base URL;
- ``trickle_s``: answer generation requests 200, then send the body one byte every ``trickle_s`` seconds;
  with ``trickle_headers``, every request's answer (discovery GETs' too) from its status line on;
- ``body`` / ``content_type``: answer generation requests 200 with these bytes;
- ``usage``: the ``usage`` object of a normal answer;
- ``noisy``: a normal answer whose text also holds a random word (not deterministic under a seed).

Otherwise a generation request gets a normal answer whose text quotes the request's ``model``,
and a discovery GET gets 404 (so detection finds nothing and the server is ``unknown``).

    with HostileServer() as server:
        server.behaviour = Behaviour(status=500)
        ...
        assert all("authorization" not in r.headers for r in server.log)
"""

from __future__ import annotations

import hashlib
import http.server
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

GENERATION = ("/v1/chat/completions", "/v1/completions")


@dataclass
class Behaviour:
    status: int | None = None
    redirect: str | None = None
    trickle_s: float | None = None
    trickle_headers: bool = False
    body: bytes | None = None
    content_type: str = "application/json"
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    noisy: bool = False


@dataclass(frozen=True)
class Seen:
    """One request as received: method, path, headers (names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]


def answer(path: str, body: dict, usage: dict, noisy: bool = False) -> dict:
    """A normal answer: a text that depends on the prompt, the seed and the temperature (and, if
    ``noisy``, on chance), and quotes the model."""
    prompt = json.dumps(body.get("messages") or body.get("prompt"), sort_keys=True)
    digest = hashlib.sha256(f"{prompt}{body.get('seed')}{body.get('temperature')}".encode()).hexdigest()[:8]
    text = f"model {body.get('model')} answers {digest}" + (f" {secrets.token_hex(4)}" if noisy else "")
    choice = {"index": 0, "finish_reason": "stop", "logprobs": None}
    choice.update({"message": {"role": "assistant", "content": text}} if path.endswith("chat/completions") else {"text": text})
    return {"id": "x", "object": "chat.completion", "created": 0, "model": str(body.get("model")), "choices": [choice], "usage": usage}


class HostileServer:
    """The server in a thread of its own, on ``host`` (127.0.0.1 unless told another address of
    this machine); ``log`` holds every request it received."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.behaviour = Behaviour()
        self.log: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner._handle(self, {})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                owner._handle(self, body if isinstance(body, dict) else {})

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # a client that hangs up is not news
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def authorizations(self) -> list[str | None]:
        """The Authorization header of every request received (None where there was none)."""
        with self._lock:
            return [seen.headers.get("authorization") for seen in self.log]

    def _handle(self, handler: http.server.BaseHTTPRequestHandler, body: dict) -> None:
        path = handler.path.split("?")[0]
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            self.log.append(Seen(handler.command, path, headers))
        todo = self.behaviour
        if todo.redirect:
            self._send(handler, 307, b"", extra={"location": todo.redirect.rstrip("/") + handler.path})
        elif todo.status is not None:
            echoed = f"refused: you sent Authorization: {headers.get('authorization')} for model {body.get('model')}"
            self._send(handler, todo.status, json.dumps({"error": {"message": echoed, "code": todo.status}}).encode())
        elif todo.trickle_s is not None and todo.trickle_headers:
            found = path in GENERATION
            payload = json.dumps(answer(path, body, todo.usage) if found else {"error": "not found"}).encode()
            self._trickle(handler, 200 if found else 404, payload, todo.trickle_s, headers_too=True)
        elif path not in GENERATION:
            self._send(handler, 404, b'{"error": "not found"}')
        elif todo.body is not None:
            self._send(handler, 200, todo.body, content_type=todo.content_type)
        elif todo.trickle_s is not None:
            self._trickle(handler, 200, json.dumps(answer(path, body, todo.usage, todo.noisy)).encode(), todo.trickle_s)
        else:
            self._send(handler, 200, json.dumps(answer(path, body, todo.usage, todo.noisy)).encode())

    @staticmethod
    def _send(handler, status: int, payload: bytes, content_type: str = "application/json", extra: dict | None = None) -> None:
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(payload)))
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    @staticmethod
    def _trickle(handler, status: int, payload: bytes, every_s: float, headers_too: bool = False) -> None:
        head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
        data = head + payload if headers_too else payload
        try:
            if not headers_too:
                handler.wfile.write(head)
            for i in range(len(data)):
                handler.wfile.write(data[i : i + 1])
                handler.wfile.flush()
                time.sleep(every_s)
        except OSError:  # the client gave up
            pass

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
