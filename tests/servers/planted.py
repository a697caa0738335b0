"""An OpenAI-compatible server whose outputs have known (planted) effects of the parameters.

The analysis is checked against it: what it plants (pass probability, per-token
log-probability, loops, vocabulary spread) must come back out of the report, and what it does
not plant must not. Each effect is a function of the request's sampling parameters
(``temperature``, ``top_k``, ``top_p``, penalties, ``max_tokens``, llama.cpp's ``repeat_penalty``,
``min_p``, ``typical_p``, ``top_n_sigma``); the text is a deterministic
function of (prompt, seed, parameters), so a retry or a cached replay gets the same answer.

By default a greedy request (temperature 0 or top_k 1) still gets a different text for each
seed, as a target that is not deterministic for greedy decoding would; ``greedy_ignores_seed``
makes it answer greedy requests by (prompt, parameters) alone, as a deterministic server does,
and ``jitter`` makes every answer differ from the one before, even for the same request body
(as batched inference on some servers does).

A completion "passes" when it contains the word ``ANSWER`` (prompts use the check
``{"type": "contains", "value": "ANSWER"}``); otherwise it says ``WRONG``.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .textgen import WORDS

Params = dict


def _const(value):
    return lambda params: value


@dataclass
class Planted:
    """The effects: each a function of the request's parameters."""

    pass_prob: Callable[[Params], float] = field(default=_const(0.5))
    logprob: Callable[[Params], float] = field(default=_const(-1.0))  # every generated token's log-probability
    loops: Callable[[Params], bool] = field(default=_const(False))
    spread: Callable[[Params], int] = field(default=_const(24))  # how many distinct words it draws from
    words: int = 12  # words per answer (cut at max_tokens)


def request_params(body: dict) -> Params:
    """The sampling parameters of a chat or completions body (top_k may sit at the top level:
    ``extra_body`` is merged into the body by the client)."""
    names = ("temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens")
    return {name: body.get(name) for name in names}


SAMPLERS = ("top_k", "min_p", "repeat_penalty", "repetition_penalty", "typical_p", "top_n_sigma")


def answer(planted: Planted, prompt: str, body: dict, hidden: dict | None = None) -> tuple[str, list[float], str]:
    """(text, per-token log-probabilities, finish reason) for one request. ``hidden``: the
    server's own defaults, applied to samplers the request omits (as llama-cpp-python's server
    does with top_k 40, min_p 0.05, repeat_penalty 1.1); a sampler's off value (top_k 0 or -1,
    min_p 0, penalties and typical_p 1) does nothing, so it does not change the text."""
    body = {**(hidden or {}), **body}
    params = request_params(body)
    off = {"top_k": (0, -1, None), "min_p": (0, 0.0, None), "repeat_penalty": (1, 1.0, None),
           "repetition_penalty": (1, 1.0, None), "typical_p": (1, 1.0, None), "top_n_sigma": (-1, -1.0, None)}  # fmt: skip
    active = {name: body.get(name) for name in SAMPLERS if body.get(name) not in off[name]}
    key = json.dumps([prompt, body.get("seed"), {**params, "top_k": None}, active], sort_keys=True)
    rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))
    effects = {**params, "repeat_penalty": body.get("repeat_penalty", 1.0),  # llama.cpp's penalty, for the node's emulation
               "min_p": body.get("min_p", 0.0), "typical_p": body.get("typical_p", 1.0), "top_n_sigma": body.get("top_n_sigma", -1.0)}
    spread = max(2, min(len(WORDS), int(planted.spread(effects))))
    if planted.loops(effects):
        words = (["round", "and", "round", "again"] * planted.words)[: planted.words]
    else:
        words = [WORDS[rng.randrange(spread)] for _ in range(planted.words - 1)]
    marker = "ANSWER" if rng.random() < planted.pass_prob(effects) else "WRONG"
    words.insert(0 if planted.loops(effects) else len(words) // 2, marker)  # a loop stays at the end
    limit = params["max_tokens"] or len(words)
    finish = "length" if len(words) > limit else "stop"
    words = words[:limit]
    return " ".join(words), [float(planted.logprob(effects))] * len(words), finish


class PlantedServer:
    """The server in a background thread: ``with PlantedServer(Planted(...)) as server: server.url``."""

    def __init__(self, planted: Planted | None = None, reply: Callable[[str], str] | None = None,
                 routes: dict[str, dict] | None = None, hidden: dict | None = None, latency: float = 0.0,
                 greedy_ignores_seed: bool = False, jitter: bool = False):  # fmt: skip
        """``reply``: a fixed answer per prompt (e.g. a judge's verdict) instead of planted text;
        ``routes``: GET path (without its query) -> JSON answer (discovery routes of the server
        kind it plays, or the Hub's model API for a provider's mapping);
        ``hidden``: sampler defaults it applies to what a request omits."""
        self.planted = planted or Planted()
        self.reply = reply
        self.routes = routes or {}
        self.hidden = hidden or {}
        self.latency = latency  # seconds before each completion answer
        self.greedy_ignores_seed, self.jitter = greedy_ignores_seed, jitter
        self.requests = 0
        self.gets: list[str] = []  # the GET paths asked for, in order (what server detection probed)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                outer.gets.append(self.path)
                route = self.path.split("?")[0]  # a route answers whatever query it is asked with
                if route in outer.routes:
                    self._send(200, outer.routes[route])
                elif self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "planted", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if outer.latency:
                    time.sleep(outer.latency)
                with outer.lock:
                    outer.requests += 1
                    arrival = outer.requests
                if outer.greedy_ignores_seed and (body.get("temperature") == 0 or body.get("top_k") == 1):
                    body = {**body, "seed": None}  # the key of the text: greedy answers ignore the seed
                if outer.jitter:
                    body = {**body, "seed": f"{body.get('seed')}-{arrival}"}
                if self.path.endswith("/chat/completions"):
                    prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
                    text, logprobs, finish = answer(outer.planted, prompt, body, outer.hidden)
                    if outer.reply is not None:
                        text, logprobs, finish = outer.reply(prompt), [], "stop"
                    tokens = [{"token": w, "logprob": lp} for w, lp in zip(text.split(), logprobs)]
                    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                              "logprobs": {"content": tokens} if body.get("logprobs") else None}  # fmt: skip
                elif self.path.endswith("/completions"):
                    text, logprobs, finish = answer(outer.planted, body.get("prompt", ""), body, outer.hidden)
                    choice = {"index": 0, "text": text, "finish_reason": finish,
                              "logprobs": {"token_logprobs": logprobs} if body.get("logprobs") else None}  # fmt: skip
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                usage = {"prompt_tokens": 8, "completion_tokens": len(text.split()), "total_tokens": 8 + len(text.split())}
                self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "planted",
                                 "choices": [choice], "usage": usage})  # fmt: skip

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PlantedServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
