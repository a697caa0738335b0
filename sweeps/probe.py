"""``hfsweep probe``: check against a live target which parameters really change its output.

Same prompts, same seed; one parameter moved far from its neutral value at a time. If no
output changes, the target ignores that parameter (or maps it to nothing), whatever its
documentation says. The base request is sent twice first: if the two answers differ, the
target is not deterministic under a seed and the probe says it cannot conclude.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from hfsweep.sweeps.backends import Request, RequestFailure
from hfsweep.sweeps.dispatch import make_backend
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.embedded import LlamaServer
from hfsweep.sweeps.grid import stable_hash
from hfsweep.sweeps.plan import check_target, make_plan, resolve_token
from hfsweep.sweeps.servers import ALL, NO_TOP_K, Capability
from hfsweep.sweeps.store import default_cache_path

# parameter -> the value it is moved to (from a base of temperature 1 and everything else neutral)
PROBES = {"temperature": 0.0, "top_k": 1, "top_p": 0.05, "frequency_penalty": 1.8, "presence_penalty": 1.8}
# samplers servers fill in when a request omits them -> the value that switches each off
HIDDEN = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, "repetition_penalty": 1.0, "typical_p": 1.0}


@dataclass(frozen=True)
class ProbeResult:
    parameter: str
    value: float
    changed: int  # prompts whose output changed
    prompts: int
    expected: bool  # the capability table says the target honours it
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error:
            return f"error: {self.error}"
        observed = "honoured" if self.changed else "IGNORED"
        agrees = "" if (self.changed > 0) == self.expected else "  <- differs from the capability table"
        return f"{observed} ({self.changed}/{self.prompts} outputs changed){agrees}"


async def _probe(config: Config, base_url: str | None, prompts: list[str]) -> tuple[bool, list[ProbeResult]]:
    plan = make_plan(config)
    base = {**config.sampling.as_dict(), "temperature": 1.0, "top_k": 0, "top_p": 1.0,
            "frequency_penalty": 0.0, "presence_penalty": 0.0, "max_tokens": min(config.sampling.max_tokens, 32)}  # fmt: skip
    backend = make_backend(config.model, plan.capability, base_url, resolve_token(config.model), config.runner.timeout_s, config.compat)
    system = config.model.system_prompt

    async def texts(params: dict) -> list[str]:
        return list(await asyncio.gather(*(_complete(backend, Request(p, params, system)) for p in prompts)))

    try:
        reference = await texts(base)
        deterministic = reference == await texts(base)
        results = []
        for name, value in PROBES.items():
            expected = name in plan.capability.honoured
            try:
                moved = await texts({**base, name: value})
            except RequestFailure as failure:
                results.append(ProbeResult(name, value, 0, len(prompts), expected, f"{failure.kind} {failure.message[:120]}"))
                continue
            changed = sum(a != b for a, b in zip(reference, moved))
            results.append(ProbeResult(name, value, changed, len(prompts), expected))
        return deterministic, results
    finally:
        await backend.close()


async def _hidden_defaults(config: Config, base_url: str | None, prompts: list[str]) -> dict[str, int]:
    """Sampler -> prompts whose output changed when its neutral value was sent instead of
    omitting it: a change means the server applies a default of its own for it."""
    params = {**config.sampling.as_dict(), "temperature": 1.0, "top_k": 0, "top_p": 1.0,
              "frequency_penalty": 0.0, "presence_penalty": 0.0, "max_tokens": min(config.sampling.max_tokens, 32)}  # fmt: skip
    token = resolve_token(config.model)

    async def texts(capability: Capability) -> list[str]:
        backend = make_backend(config.model, capability, base_url, token, config.runner.timeout_s)
        try:
            return list(await asyncio.gather(*(_complete(backend, Request(p, params, config.model.system_prompt)) for p in prompts)))
        finally:
            await backend.close()

    omitted = await texts(Capability("probe", NO_TOP_K))
    found = {}
    for name, value in HIDDEN.items():
        sent = Capability("probe", ALL) if name == "top_k" else Capability("probe", NO_TOP_K, neutral={name: value})
        try:
            found[name] = sum(a != b for a, b in zip(omitted, await texts(sent)))
        except RequestFailure:
            found[name] = 0  # a sampler the server refuses is not one it applies
    return found


def hidden_defaults(config: Config, prompt_count: int = 3) -> dict[str, int]:
    """:func:`_hidden_defaults` against the config's endpoint (a handful of seeded requests)."""
    prompts = [p.text for p in make_plan(config).prompts[:prompt_count]]
    return asyncio.run(_hidden_defaults(config, config.model.endpoint, prompts))


def recorded_hidden_defaults(config: Config) -> str:
    """For a run against an unidentified server: the hidden-defaults check, measured once per
    target and kept beside the completion cache; one sentence for the run's warnings."""
    path = Path(config.runner.cache_path or default_cache_path()).with_name("hidden-defaults.json")
    key = stable_hash(config.model.identity())
    known = json.loads(path.read_text()) if path.is_file() else {}
    if key not in known:
        known[key] = hidden_defaults(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1))
    applied = [name for name, changed in known[key].items() if changed]
    if not applied:
        return "the server was not identified; the hidden-defaults probe found no sampler default of its own"
    return (f"the server was not identified and applies defaults of its own for {', '.join(applied)} (hidden-defaults probe): "
            "cells that leave them unset are shaped by the server; set model.server=KIND if it is one hfsweep knows")


async def _complete(backend, request: Request) -> str:
    return (await backend.complete(request)).text


def probe(config: Config, prompt_count: int = 3) -> tuple[bool, list[ProbeResult]]:
    """Probe the config's target; returns (deterministic under a seed, one result per parameter).
    The CLI adds :func:`hidden_defaults` for servers that were not identified."""
    check_target(config.model)
    prompts = [p.text for p in make_plan(config).prompts[:prompt_count]]
    with ExitStack() as stack:
        base_url = config.model.endpoint
        if config.model.kind == "embedded":
            base_url = stack.enter_context(LlamaServer(config.model)).url
        return asyncio.run(_probe(config, base_url, prompts))
