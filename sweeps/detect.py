"""What software serves an endpoint, found from the routes it exposes, before any completion.

Each server kind answers a discovery route of its own; a few GETs (never a completion, at most
one per kind with a probe) tell them apart, give the version, and where the server exposes
them, its default generation settings and chat template. Each kind's probe (the route, how its
answer is recognised and read) is its entry in sweeps/servers.py; the probes are tried in
``DETECTION_ORDER`` (llama.cpp's ``/props``, TGI's ``/info``, Ollama's ``/api/version``, vLLM's
``/version``, llama-cpp-python's ``/openapi.json``). Defaults: the sampler keys only
(``SAMPLER_KEYS`` in sweeps/servers.py).

The GETs go through :func:`hfsweep.sweeps.credentials.http_client`, the client the text backend
uses too: the credential (if the target gets one) on the endpoint's origin only, never on a
redirect elsewhere. Each GET is bounded as a whole, headers and body: a server that trickles
its answer is given up on after ``timeout_s``.

Nothing answering: the kind is ``unknown`` and the sweep must not assume anything about the
server's own sampler defaults (``hfsweep probe`` measures them).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx2

from hfsweep.sweeps.credentials import http_client
from hfsweep.sweeps.servers import DETECTION_ORDER, KINDS


@dataclass(frozen=True)
class ServerInfo:
    """What detection found: kind (one of ``DETECTION_ORDER``, or ``unknown``), version, the
    server's default generation settings and the chat template in use, where it says."""

    kind: str
    version: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    chat_template: str | None = None
    sent: tuple[str, ...] = ()  # the URLs a GET reached (a connection made: for validate; not part of as_dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "defaults": self.defaults, "chat_template": self.chat_template}


async def _get_json(client: httpx2.AsyncClient, url: str, timeout_s: float) -> tuple[bool, Any]:
    """(whether the GET reached the server, the JSON it answers with 200, or None: any other
    status, no JSON, more than 2 MB, or not all there within ``timeout_s``)."""
    try:
        return True, await asyncio.wait_for(_read_json(client, url), timeout_s)
    except (httpx2.ConnectError, httpx2.ConnectTimeout):
        return False, None
    except (TimeoutError, httpx2.HTTPError, OSError, ValueError):
        return True, None


async def _read_json(client: httpx2.AsyncClient, url: str) -> Any:
    body = b""
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            return None
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > 2_000_000:
                return None
    return json.loads(body) if body else None


def detect(endpoint: str, token: str | None = None, timeout_s: float = 3.0) -> ServerInfo:
    """Identify the server at ``endpoint`` (a base URL, with or without ``/v1``)."""
    return asyncio.run(_detect(endpoint, token, timeout_s))


async def _detect(endpoint: str, token: str | None, timeout_s: float) -> ServerInfo:
    base = endpoint.rstrip("/").removesuffix("/v1")
    sent: list[str] = []
    async with http_client(base, token, timeout_s) as client:
        for name in DETECTION_ORDER:
            probe = KINDS[name].probe
            reached, answer = await _get_json(client, f"{base}{probe.path}", timeout_s)
            sent += [f"{base}{probe.path}"] if reached else []
            if probe.matches(answer):
                return ServerInfo(name, probe.version(answer), probe.defaults(answer), probe.chat_template(answer), tuple(sent))
    return ServerInfo("unknown", sent=tuple(sent))
