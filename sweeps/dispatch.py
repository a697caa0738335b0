"""Which backend sends a request: the one its target's server kind names for its mode and profile.

``BACKENDS`` maps the backend names of the kinds (sweeps/servers.py ``chat_backend`` /
``text_backend``) to their classes; :func:`make_backend` builds a target's; a run whose presets
use several profiles (``sweep.presets.NAME.compat``) gets a :class:`ProfileRouter`.
"""

from __future__ import annotations

from typing import Any

from hfsweep.sweeps.backends import Backend, ChatBackend, Completion, OpenAITextBackend, Request, TGITextBackend
from hfsweep.sweeps.capabilities import target_server_kind
from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.node_backends import (
    LangChainHFBackend,
    LangChainHFCompletionsBackend,
    LangChainHFCompletionsOnLlamaCppBackend,
    LangChainHFOnLlamaCppBackend,
)
from hfsweep.sweeps.servers import Capability


class ProfileRouter:
    """A run whose presets use several profiles (sweep.presets.NAME.compat): each request goes
    through the backend of its own profile (``Request.compat``, "" = the run's)."""

    def __init__(self, backends: dict[str, Backend], default: str):
        self.backends = backends
        self.default = default

    def _backend(self, request: Request) -> Backend:
        return self.backends[request.compat or self.default]

    def body(self, request: Request) -> dict[str, Any]:
        return self._backend(request).body(request)

    async def complete(self, request: Request) -> Completion:
        return await self._backend(request).complete(request)

    async def close(self) -> None:
        for backend in self.backends.values():
            await backend.close()


# backend name (a server kind's chat_backend / text_backend, sweeps/servers.py) -> its class
BACKENDS = {"chat": ChatBackend, "openai_text": OpenAITextBackend, "tgi_text": TGITextBackend, "langchain_hf": LangChainHFBackend,
            "langchain_hf_llama_cpp": LangChainHFOnLlamaCppBackend, "langchain_hf_completions": LangChainHFCompletionsBackend,
            "langchain_hf_completions_llama_cpp": LangChainHFCompletionsOnLlamaCppBackend}  # fmt: skip


def make_backend(target: ModelTarget, capability: Capability, base_url: str | None, token: str | None,
                 timeout_s: float, compat: str = "none", profiles: tuple[str, ...] = ()) -> Backend:  # fmt: skip
    """The backend the target's server kind names for its mode and compatibility profile; with
    ``profiles`` beyond ``compat`` (presets sent through other profiles), a :class:`ProfileRouter`."""
    backend_class = BACKENDS[target_server_kind(target, compat).backend_for(target.mode)]
    backend = backend_class(target, capability, base_url, token, timeout_s)
    others = [name for name in dict.fromkeys(profiles) if name != compat]
    if not others:
        return backend
    routed = {compat: backend}
    for name in others:
        kind = target_server_kind(target, name)
        routed[name] = BACKENDS[kind.backend_for(target.mode)](target, kind.capability_for(target.mode), base_url, token, timeout_s)
    return ProfileRouter(routed, compat)
