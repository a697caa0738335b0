"""``hfsweep probe``: check against a live target which parameters really change its output.

Same prompts, same seed; one parameter moved far from its neutral value at a time. If no
output changes, the target ignores that parameter (or maps it to nothing), whatever its
documentation says. The base request is sent twice first: if the two answers differ, the
target is not deterministic under a seed, a change could be noise, and every parameter is
reported as :data:`UNTESTABLE` (no parameter request is sent). Last, a greedy request
(temperature 0) is sent with two seeds: the same texts show the target deterministic for greedy
decoding, which is recorded for the runs that follow (:mod:`sweeps.greedy`: greedy cells then
send one request per prompt).

The hidden-defaults check (:func:`hidden_defaults`) works the same way for a server that was not
identified: the request with a sampler omitted (twice, for determinism), then with its neutral
value. A run measures it once per target and keeps it in ``hidden-defaults.json`` beside the
cache, only when every sampler was tested on a deterministic server: nothing unproven is kept.
Every request either check sends is counted (``Probed.requests``, ``HiddenDefaults.requests``).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from hfsweep.core.errors import CredentialError, TargetError
from hfsweep.sweeps.backends import Request, RequestFailure
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.credentials import refused, resolve_token
from hfsweep.sweeps.dispatch import make_backend
from hfsweep.sweeps.embedded import LlamaServer
from hfsweep.sweeps.greedy import record
from hfsweep.sweeps.grid import stable_hash
from hfsweep.sweeps.plan import check_target, make_plan
from hfsweep.sweeps.servers import ALL, NO_TOP_K, Capability
from hfsweep.sweeps.store import default_cache_path

# parameter -> the value it is moved to (from a base of temperature 1 and everything else neutral)
PROBES = {"temperature": 0.0, "top_k": 1, "top_p": 0.05, "frequency_penalty": 1.8, "presence_penalty": 1.8}
# samplers servers fill in when a request omits them -> the value that switches each off
HIDDEN = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, "repetition_penalty": 1.0, "typical_p": 1.0}
UNTESTABLE = "not deterministic: cannot test"  # the same seeded request gave two texts: a change could be noise
PROMPTS = 3  # prompts per check


@dataclass(frozen=True)
class ProbeResult:
    parameter: str
    value: float
    changed: int | None  # prompts whose output changed; None: not tested (the target is not deterministic)
    prompts: int
    expected: bool  # the capability table says the target honours it
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.changed is None:
            return UNTESTABLE
        observed = "honoured" if self.changed else "IGNORED"
        agrees = "" if (self.changed > 0) == self.expected else "  <- differs from the capability table"
        return f"{observed} ({self.changed}/{self.prompts} outputs changed){agrees}"


@dataclass(frozen=True)
class Probed:
    """What :func:`probe` found: deterministic under a seed, one result per parameter, requests
    sent, and whether greedy decoding gave the same texts under two seeds."""

    deterministic: bool
    results: list[ProbeResult]
    requests: int
    greedy_same: bool


@dataclass(frozen=True)
class HiddenDefaults:
    """What the hidden-defaults check found, and the requests it sent.

    ``changed``: sampler -> prompts whose output changed when its neutral value was sent instead
    of omitting it (a change: the server applies a default of its own), or None for a sampler
    that could not be tested (its request failed: ``errors`` says how). ``deterministic``: the
    request with every sampler omitted gave the same texts twice; if not, nothing was tested.
    """

    deterministic: bool
    changed: dict[str, int | None]
    prompts: int
    requests: int
    errors: dict[str, str]

    @property
    def proven(self) -> bool:
        """Every sampler was tested on a deterministic server (what may be kept for later runs)."""
        return self.deterministic and all(value is not None for value in self.changed.values())

    def verdict(self, name: str) -> str:
        changed = self.changed.get(name)
        if not self.deterministic:
            return UNTESTABLE
        if changed is None:
            return f"could not test: {self.errors.get(name, 'no answer')}"
        if not changed:
            return "no default applied"
        return f"the server applies a default of its own ({changed}/{self.prompts} outputs changed)"


def requests_of_hidden_defaults(prompts: int) -> int:
    """The most requests the hidden-defaults check sends over ``prompts`` prompts."""
    return prompts * (2 + len(HIDDEN))


def _neutral_params(config: Config) -> dict:
    """The base request of both checks: temperature 1, every other sampler neutral, few tokens."""
    return {**config.sampling.as_dict(), "temperature": 1.0, "top_k": 0, "top_p": 1.0,
            "frequency_penalty": 0.0, "presence_penalty": 0.0, "max_tokens": min(config.sampling.max_tokens, 32)}  # fmt: skip


class _Counted:
    """Sends one request per prompt, all at once, and counts what it sent."""

    def __init__(self, config: Config, prompts: list[str]):
        self.config = config
        self.prompts = prompts
        self.sent = 0

    async def texts(self, backend, params: dict) -> list[str]:
        self.sent += len(self.prompts)
        requests = (Request(p, params, self.config.model.system_prompt) for p in self.prompts)
        return await _gather(_complete(backend, request, self.config.runner.timeout_s) for request in requests)


async def _probe(config: Config, base_url: str | None, prompts: list[str]) -> Probed:
    plan = make_plan(config)
    base = _neutral_params(config)
    backend = make_backend(config.model, plan.capability, base_url, resolve_token(config.model), config.runner.timeout_s, config.compat)
    counted = _Counted(config, prompts)
    try:
        reference = await counted.texts(backend, base)
        deterministic = reference == await counted.texts(backend, base)
        results = []
        for name, value in PROBES.items():
            expected = name in plan.capability.honoured
            if not deterministic:
                results.append(ProbeResult(name, value, None, len(prompts), expected))
                continue
            try:
                moved = await counted.texts(backend, {**base, name: value})
            except RequestFailure as failure:
                if failure.status in (401, 403):
                    raise
                results.append(ProbeResult(name, value, 0, len(prompts), expected, f"{failure.kind} {failure.message[:120]}"))
                continue
            changed = sum(a != b for a, b in zip(reference, moved))
            results.append(ProbeResult(name, value, changed, len(prompts), expected))
        greedy = {**base, "temperature": 0.0}
        greedy_same = await counted.texts(backend, greedy) == await counted.texts(backend, {**greedy, "seed": greedy["seed"] + 1})
        return Probed(deterministic, results, counted.sent, greedy_same)
    except RequestFailure as failure:
        raise _failed(config, failure, "the probe") from None
    finally:
        await backend.close()


def _failed(config: Config, failure: RequestFailure, what: str) -> TargetError:
    """A request of the probe that failed, as the one-line error the CLI prints (a 401 or 403
    says which credential was refused, or that none was sent)."""
    if failure.status in (401, 403):
        return refused(config.model, failure.status, failure.message)
    return TargetError(f"{what} could not run: {config.model.id} answered {failure.kind} ({failure.message[:200]})")


async def _hidden_defaults(config: Config, base_url: str | None, prompts: list[str]) -> HiddenDefaults:
    params = _neutral_params(config)
    token = resolve_token(config.model)
    counted = _Counted(config, prompts)

    async def texts(capability: Capability) -> list[str]:
        backend = make_backend(config.model, capability, base_url, token, config.runner.timeout_s)
        try:
            return await counted.texts(backend, params)
        finally:
            await backend.close()

    omitted = await texts(Capability("probe", NO_TOP_K))
    if omitted != await texts(Capability("probe", NO_TOP_K)):
        return HiddenDefaults(False, dict.fromkeys(HIDDEN), len(prompts), counted.sent, {})
    found: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name, value in HIDDEN.items():
        sent = Capability("probe", ALL) if name == "top_k" else Capability("probe", NO_TOP_K, neutral={name: value})
        try:
            found[name] = sum(a != b for a, b in zip(omitted, await texts(sent)))
        except RequestFailure as failure:
            if failure.status in (401, 403):
                raise
            found[name], errors[name] = None, f"{failure.kind} {failure.message[:120]}"
    return HiddenDefaults(True, found, len(prompts), counted.sent, errors)


def hidden_defaults(config: Config, prompt_count: int = PROMPTS) -> HiddenDefaults:
    """The hidden-defaults check against the config's endpoint (a handful of seeded requests).
    A first request that fails is a :class:`TargetError` (a 401 or 403 says which credential was refused)."""
    prompts = [p.text for p in make_plan(config).prompts[:prompt_count]]
    try:
        return asyncio.run(_hidden_defaults(config, config.model.endpoint, prompts))
    except RequestFailure as failure:
        raise _failed(config, failure, "the hidden-defaults check") from None


def _hidden_defaults_file(config: Config) -> Path:
    return Path(config.runner.cache_path or default_cache_path()).with_name("hidden-defaults.json")


def known_hidden_defaults(config: Config) -> dict[str, int] | None:
    """What ``hidden-defaults.json`` holds for the config's target (None: not measured yet)."""
    path = _hidden_defaults_file(config)
    return (json.loads(path.read_text()) if path.is_file() else {}).get(stable_hash(config.model.identity()))


def recorded_hidden_defaults(config: Config) -> tuple[str, int]:
    """For a run against an unidentified server: the hidden-defaults check, measured once per
    target and kept in ``hidden-defaults.json`` when proven; (one sentence for the run's
    warnings, the requests the check sent: 0 when it was known already)."""
    changed, sent = known_hidden_defaults(config), 0
    if changed is None:
        try:
            found = hidden_defaults(config)
        except CredentialError:
            raise  # a refused credential stops the run before it starts
        except TargetError as error:
            return f"the server was not identified, and the hidden-defaults check failed, so nothing is known of its own defaults: {error}", 0
        changed, sent = found.changed, found.requests
        if not found.deterministic:
            return ("the server was not identified and is not deterministic under a seed (the same request gave two texts), so "
                    "the hidden-defaults check cannot test its own sampler defaults: cells that leave a sampler unset may be "
                    "shaped by the server; set model.server=KIND if it is one hfsweep knows"), sent  # fmt: skip
        if found.proven:
            path = _hidden_defaults_file(config)
            known = json.loads(path.read_text()) if path.is_file() else {}
            known[stable_hash(config.model.identity())] = changed
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1))
    applied = [name for name, count in changed.items() if count]
    untested = [name for name, count in changed.items() if count is None]
    not_tested = f" ({', '.join(untested)} could not be tested)" if untested else ""
    if not applied:
        return f"the server was not identified; the hidden-defaults probe found no sampler default of its own{not_tested}", sent
    return (f"the server was not identified and applies defaults of its own for {', '.join(applied)} (hidden-defaults probe)"
            f"{not_tested}: cells that leave them unset are shaped by the server; set model.server=KIND if it is one hfsweep knows"), sent


async def _gather(requests) -> list[str]:
    """Every request's text; the first failure is raised once all have ended (none is left
    running against a closed client)."""
    done = await asyncio.gather(*requests, return_exceptions=True)
    failed = next((result for result in done if isinstance(result, BaseException)), None)
    if failed is not None:
        raise failed
    return list(done)


async def _complete(backend, request: Request, timeout_s: float) -> str:
    """One request's text, within ``timeout_s`` for the whole answer (a server that trickles its
    bytes is a timeout, not a hang)."""
    try:
        return (await asyncio.wait_for(backend.complete(request), timeout_s)).text
    except TimeoutError:
        raise RequestFailure("timeout", f"no complete answer within runner.timeout_s = {timeout_s:g} s", retryable=True) from None


def probe(config: Config, prompt_count: int = PROMPTS) -> Probed:
    """Probe the config's target (one result per parameter, the requests it sent).
    The CLI adds :func:`hidden_defaults` for servers that were not identified."""
    check_target(config.model)
    prompts = [p.text for p in make_plan(config).prompts[:prompt_count]]
    with ExitStack() as stack:
        base_url = config.model.endpoint
        if config.model.kind == "embedded":
            base_url = stack.enter_context(LlamaServer(config.model)).url
        probed = asyncio.run(_probe(config, base_url, prompts))
    record(config, probed.greedy_same, len(prompts))
    return probed
