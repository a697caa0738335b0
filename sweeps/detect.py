"""What software serves an endpoint, found from the routes it exposes, before any completion.

Each server kind answers a discovery route of its own; a few GETs (never a completion, at most
one per kind with a probe) tell them apart, give the version, and where the server exposes
them, its default generation settings and chat template. Each kind's probe (the route, how its
answer is recognised and read) is its entry in sweeps/servers.py; the probes are tried in
``DETECTION_ORDER`` (llama.cpp's ``/props``, TGI's ``/info``, Ollama's ``/api/version``, vLLM's
``/version``, llama-cpp-python's ``/openapi.json``). Defaults: the sampler keys only
(``SAMPLER_KEYS`` in sweeps/servers.py).

Nothing answering: the kind is ``unknown`` and the sweep must not assume anything about the
server's own sampler defaults (``hfsweep probe`` measures them).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from hfsweep.sweeps.servers import DETECTION_ORDER, KINDS


@dataclass(frozen=True)
class ServerInfo:
    """What detection found: kind (one of ``DETECTION_ORDER``, or ``unknown``), version, the
    server's default generation settings and the chat template in use, where it says."""

    kind: str
    version: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    chat_template: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "defaults": self.defaults, "chat_template": self.chat_template}


def _get_json(url: str, token: str | None, timeout_s: float) -> Any:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if response.status != 200:
                return None
            return json.loads(response.read(2_000_000) or b"null")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def detect(endpoint: str, token: str | None = None, timeout_s: float = 3.0) -> ServerInfo:
    """Identify the server at ``endpoint`` (a base URL) with one GET per probe, in ``DETECTION_ORDER``."""
    base = endpoint.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    for name in DETECTION_ORDER:
        probe = KINDS[name].probe
        answer = _get_json(f"{base}{probe.path}", token, timeout_s)
        if probe.matches(answer):
            return ServerInfo(name, probe.version(answer), probe.defaults(answer), probe.chat_template(answer))
    return ServerInfo("unknown")
