"""The config schema: typed dataclasses registered in Hydra's ConfigStore, and their checks.

Every default and type lives once, here; ``conf/`` YAML only chooses and overrides (Hydra's
structured-config pattern). OmegaConf checks types and keys while Hydra composes; ranges and
cross-field rules are checked by :func:`validate`, before any request. Each range sits next to
its field (``accepted``), and every failure is one :class:`ConfigError` line naming the key,
the value and what is accepted. The range checker and the objective live in ``hfsweep.core``; the report's options
(``hfsweep.core.report_options``) are checked here too.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

from hydra.core.config_store import ConfigStore

from hfsweep.core import secrets
from hfsweep.core.errors import ConfigError
from hfsweep.core.objective import Objective, check_objective
from hfsweep.core.ranges import INTEGER_MAX, check_section, check_value, is_integer_field, spec
from hfsweep.core.records import LATER_SAMPLERS, PARAMS
from hfsweep.core.report_options import ReportOptions, check_report_options
from hfsweep.sweeps.servers import COMPAT_PROFILES, SERVER_OPTIONS, server_kind

TARGET_KINDS = ("embedded", "hf", "endpoint")
SERVER_KINDS = ("auto", *SERVER_OPTIONS)  # the registered kinds (sweeps/servers.py)
MODES = ("chat", "text")
COMPATS = ("none", *COMPAT_PROFILES)


@dataclass
class Sampling:
    """Generation parameters of one request (also the base values of a sweep)."""

    temperature: float = spec(1.0, accepted="0 .. 2", low=0, high=2)
    top_k: Optional[int] = spec(0, accepted="an integer >= 0 (0 or null = off)", low=0)
    top_p: float = spec(1.0, accepted="(0, 1]", low=0, high=1, open_low=True)
    min_p: float = spec(LATER_SAMPLERS["min_p"], accepted="0 .. 1 (0 = off)", low=0, high=1)
    typical_p: float = spec(LATER_SAMPLERS["typical_p"], accepted="(0, 1] (1 = off)", low=0, high=1, open_low=True)
    top_n_sigma: float = spec(LATER_SAMPLERS["top_n_sigma"], accepted="-1 (off) or a number > 0", low=-1)
    frequency_penalty: float = spec(0.0, accepted="-2 .. 2", low=-2, high=2)
    presence_penalty: float = spec(0.0, accepted="-2 .. 2", low=-2, high=2)
    max_tokens: int = spec(64, accepted="an integer >= 1", low=1)
    seed: int = spec(0, accepted="an integer >= 0", low=0)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAMS}

    def identity(self) -> dict[str, Any]:
        """What a setting's id and the cache key hash: every parameter, but a later sampler
        (min_p, typical_p, top_n_sigma) only when it is on, so a setting with them off keeps the
        id and cache key it had before they existed."""
        return {name: value for name, value in self.as_dict().items()
                if name not in LATER_SAMPLERS or value != LATER_SAMPLERS[name]}  # fmt: skip


@dataclass
class ModelTarget:
    """Where completions come from: an embedded GGUF, an HF provider, or an endpoint URL."""

    kind: str = spec("embedded", accepted="embedded, hf or endpoint", choices=TARGET_KINDS)
    id: Optional[str] = None  # alias (embedded), Hub id (hf), model name for multi-model servers (endpoint)
    mode: str = spec("chat", accepted="chat, text", choices=MODES)
    gguf: Optional[str] = None  # embedded: smollm2, gemma3, or a path to a .gguf file
    endpoint: Optional[str] = None  # endpoint: the server's URL
    provider: Optional[str] = None  # hf: auto, or a provider name
    # endpoint: what the server runs, which decides the parameters it honours and the neutral values
    # sent; auto = detected before the run from the routes it exposes (sweeps/detect.py)
    server: str = spec("auto", accepted=", ".join(SERVER_KINDS), choices=SERVER_KINDS)
    slots: int = spec(4, accepted="an integer >= 1", low=1)  # llama-server parallel slots = the runner's concurrency
    ctx_per_slot: int = spec(1024, accepted="an integer >= 1", low=1)
    threads: int = spec(2, accepted="an integer >= 1", low=1)
    system_prompt: Optional[str] = None
    # the environment variable whose value is sent as the bearer credential (a vLLM or TGI key;
    # HF_TOKEN to send the Hugging Face token to a host that is not Hugging Face's); null = the rules
    # of sweeps/credentials.py (the HF token to Hugging Face's hosts only, nothing elsewhere)
    api_key_env: Optional[str] = None

    def identity(self) -> dict[str, Any]:
        """What makes two targets the same for ids and the cache (no ports, no secrets)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "mode": self.mode,
            "endpoint": self.endpoint,
            "provider": self.provider,
            "server": self.server,
            "gguf": self.gguf,
            "system_prompt": self.system_prompt,
        }


@dataclass
class Sweep:
    """A grid over parameters, optional named presets, and exclusions. ``families``: named
    grids, each crossed with ``grid``; the settings are their union (a family's name is its
    settings' ``setting_name``), instead of one cartesian product (docs/config.md)."""

    name: str = "single"
    grid: Dict[str, List[Any]] = field(default_factory=dict)
    families: Dict[str, Dict[str, List[Any]]] = field(default_factory=dict)
    presets: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    exclude: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class Prompts:
    """The default set (``items``) or a user's file (a path, or ``hf://datasets/OWNER/NAME/PATH``);
    ``limit`` keeps the first N; the ``*_column`` keys name a file's columns (null = the usual names)."""

    file: Optional[str] = None
    limit: Optional[int] = spec(None, accepted="an integer >= 1", low=1)
    items: List[Any] = field(default_factory=list)
    column: Optional[str] = None  # the prompt's text; null = `prompt`, else `text`
    id_column: Optional[str] = None  # null = `id` when there is one, else p001, p002, ...
    checks_column: Optional[str] = None  # a list of {type, value} (or that list as JSON); null = `checks` when there is one


@dataclass
class Price:
    """What the target charges, in dollars per million tokens (null = no price: no cost shown)."""

    input_per_mtok: Optional[float] = spec(None, accepted="a number >= 0 (dollars per million prompt tokens)", low=0)
    output_per_mtok: Optional[float] = spec(None, accepted="a number >= 0 (dollars per million completion tokens)", low=0)


@dataclass
class Runner:
    concurrency: Optional[int] = spec(None, accepted="an integer >= 1 (null = the server's slots, or 8)", low=1)
    timeout_s: float = spec(120.0, accepted="a number > 0", low=0, open_low=True)  # per attempt, the whole answer (body included)
    max_attempts: int = spec(6, accepted="an integer >= 1", low=1)  # 429, 5xx, timeouts, dropped connections are retried
    deadline_s: float = spec(900.0, accepted="a number > 0", low=0, open_low=True)  # per request, retries included
    backoff_base_s: float = spec(0.5, accepted="a number > 0", low=0, open_low=True)  # exponential, with jitter
    backoff_max_s: float = spec(30.0, accepted="a number > 0", low=0, open_low=True)  # Retry-After wins when sent
    cache: bool = True  # reuse finished completions; resume after a crash
    cache_path: Optional[str] = None  # null = ~/.cache/hfsweep/completions.sqlite (or $HFSWEEP_CACHE_DIR)
    refresh: bool = False  # send every request again and overwrite the cache
    copy_greedy: bool = True  # greedy cells on a target shown deterministic: one request per prompt, the other samples copied
    price: Price = field(default_factory=Price)  # for the cost view and search.budget.cost
    allow_ignored: bool = False  # run a sweep over a parameter the target ignores (marked in the report)
    # the brake on cost: a run that would send more requests, or whose bound on completion tokens is
    # higher, stops before sending (`hfsweep run --yes` lifts both)
    max_requests: Optional[int] = spec(20000, accepted="an integer >= 1 (null = no brake)", low=1)
    max_tokens_total: Optional[int] = spec(10_000_000, accepted="an integer >= 1 (null = no brake)", low=1)
    progress: bool = True


SEARCH_STRATEGIES = ("grid", "halving", "sequential")


@dataclass
class Budget:
    requests: Optional[int] = spec(None, accepted="an integer >= 1 (null = no cap)", low=1)  # (cell, prompt, sample) requests
    tokens: Optional[int] = spec(None, accepted="an integer >= 1 (null = no cap)", low=1)  # completion tokens, as reported
    cost: Optional[float] = spec(None, accepted="a number > 0 in dollars (null = no cap; needs runner.price)", low=0, open_low=True)


@dataclass
class Search:
    """How the cells are sampled: the full grid, or an adaptive search for ``objective``."""

    strategy: str = spec("grid", accepted="grid, halving, sequential", choices=SEARCH_STRATEGIES)
    eta: int = spec(3, accepted="an integer >= 2", low=2)  # each look samples 1/eta as many cells as the one before; log_eta(cells) doublings set the first look
    initial_prompts: Optional[int] = spec(None, accepted="an integer >= 2 (null = enough for the rounds)", low=2)
    precision: Optional[float] = spec(None, accepted="a number > 0 (null = none)", low=0, open_low=True)  # sequential: CI half-width
    confidence: float = spec(0.95, accepted="a number in (0, 1)", low=0, high=0.999, open_low=True)
    budget: Budget = field(default_factory=Budget)


JUDGE_PARSE_RULES = ("score_1_10", "pass_fail")
DEFAULT_RUBRIC = (
    "You are grading an answer. Rate how well the answer responds to the request: correct, "
    "relevant, coherent and complete. Reply with one integer from 1 (useless) to 10 (excellent) "
    "and nothing else.\n\nRequest: {prompt}\n\nAnswer: {output}\n\nScore (1-10):"
)


@dataclass
class Judge:
    """``judge.model`` null = no judge; otherwise any target, the rubric, how to read its answer."""

    model: Optional[ModelTarget] = None
    rubric: str = DEFAULT_RUBRIC  # {prompt} and {output} are filled in
    parse: str = spec("score_1_10", accepted="score_1_10, pass_fail", choices=JUDGE_PARSE_RULES)
    max_tokens: int = spec(8, accepted="an integer >= 1", low=1)


@dataclass
class Config:
    model: ModelTarget = field(default_factory=ModelTarget)
    sampling: Sampling = field(default_factory=Sampling)
    sweep: Sweep = field(default_factory=Sweep)
    prompts: Prompts = field(default_factory=Prompts)
    runner: Runner = field(default_factory=Runner)
    report: ReportOptions = field(default_factory=ReportOptions)
    objective: Objective = field(default_factory=Objective)
    judge: Judge = field(default_factory=Judge)
    search: Search = field(default_factory=Search)
    samples: int = spec(2, accepted="an integer >= 1", low=1)  # completions per prompt per cell
    compat: str = spec("none", accepted=", ".join(COMPATS), choices=COMPATS)
    evaluators: Optional[List[str]] = None  # null = the default set
    out_dir: str = "runs"


# The schema in Hydra's ConfigStore, where it is defined (``conf/config.yaml`` extends ``schema``).
ConfigStore.instance().store(name="schema", node=Config)


# --- checks -------------------------------------------------------------------------------


def field_spec(key: str) -> dict | None:
    """The ``accepted``/range metadata of a dotted key of the schema (None if it has none).

    >>> field_spec("sampling.top_p")["accepted"]
    '(0, 1]'
    """
    cls: Any = Config
    meta = None
    for part in key.split("."):
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in fields:
            return None
        meta = dict(fields[part].metadata) or None
        cls = fields[part].type if isinstance(fields[part].type, type) else _resolve(cls, part)
    return meta


def _resolve(cls: Any, name: str) -> Any:
    return typing.get_type_hints(cls).get(name)


_SAMPLING_FIELDS = {f.name: f for f in dataclasses.fields(Sampling)}


def check_param(key: str, value: Any) -> Any:
    """Check one sampling parameter (named by the last part of ``key``) against its range.

    >>> check_param("sampling.top_k", None)
    0
    >>> check_param("sampling.temperature", 3)
    Traceback (most recent call last):
    hfsweep.core.errors.ConfigError: sampling.temperature = 3 is out of range: accepted 0 .. 2
    """
    name = key.rsplit(".", 1)[-1]
    if name not in _SAMPLING_FIELDS:
        raise ConfigError(f"{key} is not a sampling parameter: accepted {', '.join(PARAMS)}")
    if name == "top_k" and value is None:
        return 0
    f = _SAMPLING_FIELDS[name]
    checked = check_value(key, value, dict(f.metadata), integer=is_integer_field(f))
    if name == "top_n_sigma" and -1 < checked <= 0:  # llama.cpp: any n <= 0 is off; one spelling of off
        raise ConfigError(f"{key} = {value!r} is out of range: accepted {f.metadata['accepted']}")
    return checked


# --- sections -----------------------------------------------------------------------------


def _model(model: ModelTarget, key: str = "model") -> ModelTarget:
    model = check_section(f"{key}.", model)
    model_id, endpoint, server = model.id, model.endpoint, model.server
    required = {"hf": ("id", "model.id=org/name"), "endpoint": ("endpoint", "model.endpoint=http://127.0.0.1:8080")}
    if model.kind in required and getattr(model, required[model.kind][0]) is None:
        name, example = required[model.kind]
        raise ConfigError(f"{key}.{name} is required by {key.split('.')[0]}={model.kind}: set it, e.g. {example.replace('model.', key + '.')}")
    if model.kind == "hf" and not (isinstance(model_id, str) and "/" in model_id):
        raise ConfigError(
            f"{key}.id = {model_id!r} is not a Hub model id: accepted 'org/name', e.g. {key}.id=meta-llama/Llama-3.1-8B-Instruct"
        )
    if model.kind == "endpoint":
        parsed = urlparse(endpoint) if isinstance(endpoint, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{key}.endpoint = {endpoint!r} is not accepted: an http(s) URL, e.g. {key}.endpoint=http://127.0.0.1:8080")
        model_id, endpoint = model_id or parsed.netloc, endpoint.rstrip("/")
    if model.kind == "embedded":
        server = server_kind("embedded", server).name  # llama.cpp: the embedded target runs llama-server
        if not isinstance(model.gguf, str):
            raise ConfigError(f"{key}.gguf = {model.gguf!r} is not accepted: smollm2, gemma3 or a path to a .gguf file")
        model_id = model_id or model.gguf
    if not isinstance(model_id, str) or not model_id:
        raise ConfigError(f"{key}.id = {model_id!r} is not accepted: a non-empty model name")
    _check_api_key_env(model, key)
    return dataclasses.replace(model, id=model_id, endpoint=endpoint, server=server)


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_api_key_env(model: ModelTarget, key: str) -> None:
    """``api_key_env``: the name of an environment variable (its value becomes a known secret)."""
    name = model.api_key_env
    if name is None:
        return
    if not isinstance(name, str) or not ENV_NAME.match(name):
        raise ConfigError(f"{key}.api_key_env = {name!r} is not accepted: the name of an environment variable, "
                          f"e.g. {key}.api_key_env=VLLM_API_KEY")  # fmt: skip
    if model.kind == "embedded":
        raise ConfigError(f"{key}.api_key_env = {name!r} is not accepted with the embedded server, which needs no key: "
                          "accepted with model=endpoint or model=hf")  # fmt: skip
    secrets.register_env(name)


def _grid(axes: dict, prefix: str) -> dict[str, tuple]:
    """One grid's axes checked: each a non-empty list of distinct values in its parameter's range."""
    grid: dict[str, tuple] = {}
    for name, values in axes.items():
        key = f"{prefix}.{name}"
        if name not in PARAMS:
            raise ConfigError(f"{key} is not a sweepable parameter: accepted {', '.join(PARAMS)}")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{key} = {values!r} is not accepted: a non-empty list, e.g. '{key}=[0.5,1.0]'")
        checked = tuple(check_param(key, value) for value in values)
        if len(set(checked)) != len(checked):
            raise ConfigError(f"{key} = {list(values)!r} repeats a value: accepted a list of distinct values")
        grid[name] = checked
    return grid


def _families(sweep: Sweep) -> dict[str, dict[str, tuple]]:
    """``sweep.families``: named grids over axes not in ``sweep.grid``, not combined with presets."""
    families = {}
    for family, axes in sweep.families.items():
        key = f"sweep.families.{family}"
        if not isinstance(axes, dict) or not axes:
            raise ConfigError(f"{key} = {axes!r} is not accepted: a grid, e.g. '{key}={{min_p: [0.05, 0.1]}}'")
        shared = sorted(set(axes) & set(sweep.grid))
        if shared:
            raise ConfigError(f"{key}.{shared[0]} is also an axis of sweep.grid: accepted a family's own axes (sweep.grid "
                              "applies to every family)")  # fmt: skip
        families[str(family)] = _grid(axes, key)
    if families and sweep.presets:
        raise ConfigError(f"sweep.families ({', '.join(families)}) is not accepted with sweep.presets: a family names its "
                          "settings as a preset does; use one or the other")  # fmt: skip
    return families


def _sweep(sweep: Sweep) -> Sweep:
    grid = _grid(sweep.grid, "sweep.grid")
    presets: dict[str, dict[str, Any]] = {}
    for preset_name, params in sweep.presets.items():
        if not isinstance(params, dict):
            raise ConfigError(f"sweep.presets.{preset_name} = {params!r} is not accepted: a mapping of parameters")
        presets[str(preset_name)] = {name: _preset_compat(preset_name, v) if name == "compat" else
                                     check_param(f"sweep.presets.{preset_name}.{name}", v) for name, v in params.items()}  # fmt: skip
    exclude = []
    for index, rule in enumerate(sweep.exclude):
        if not isinstance(rule, dict) or not rule:
            raise ConfigError(f"sweep.exclude[{index}] = {rule!r} is not accepted: a mapping like {{temperature: 0, top_p: 0.9}}")
        exclude.append({name: check_param(f"sweep.exclude[{index}].{name}", value) for name, value in rule.items()})
    return Sweep(name=sweep.name, grid=grid, families=_families(sweep), presets=presets, exclude=tuple(exclude))


def _check_price(config: Config) -> None:
    """``runner.price`` gives both prices or neither; ``search.budget.cost`` needs both."""
    price, cost = config.runner.price, config.search.budget.cost
    given = [name for name in ("input_per_mtok", "output_per_mtok") if getattr(price, name) is not None]
    if len(given) == 1:
        missing = "output_per_mtok" if given == ["input_per_mtok"] else "input_per_mtok"
        raise ConfigError(f"runner.price.{given[0]} is set but runner.price.{missing} is not: set both "
                          "(dollars per million tokens; 0 for a side that is free)")  # fmt: skip
    if cost is not None and (price.input_per_mtok is None or price.output_per_mtok is None):
        raise ConfigError(f"search.budget.cost = {cost!r} needs the target's prices: set runner.price.input_per_mtok and "
                          "runner.price.output_per_mtok (dollars per million tokens)")  # fmt: skip


def _check_last_seed(sampling: Sampling, sweep: Sweep, samples: int) -> None:
    """Sample i of a cell is sent with seed + i: the largest seed sent must fit what servers read."""
    seeds = [sampling.seed, *sweep.grid.get("seed", ()), *(p["seed"] for p in sweep.presets.values() if "seed" in p)]
    last = max(seeds) + samples - 1
    if last > INTEGER_MAX:
        raise ConfigError(f"sampling.seed = {max(seeds)} with samples = {samples} sends seeds up to {last}: "
                          f"accepted seed + samples - 1 <= {INTEGER_MAX} (2**31 - 1, the largest integer every server reads)")  # fmt: skip


def _preset_compat(preset: str, value: Any) -> str:
    """A preset's ``compat``: the profile that sends it instead of the run's (e.g. the plain way beside the node's)."""
    if value not in COMPATS:
        raise ConfigError(f"sweep.presets.{preset}.compat = {value!r} is not accepted: choose one of {', '.join(COMPATS)}")
    return value


def validate(config: Config) -> Config:
    """Check ranges and cross-field rules; return the config with values in normal form."""
    config = check_section("", config)
    model = _model(config.model)
    server_kind(model.kind, model.server, config.compat)  # a profile refuses a server it can neither reach nor emulate
    sampling = Sampling(**{name: check_param(f"sampling.{name}", getattr(config.sampling, name)) for name in PARAMS})
    sweep = _sweep(config.sweep)
    _check_last_seed(sampling, sweep, config.samples)
    judge = check_section("judge.", config.judge)
    if judge.model is not None:
        judge = dataclasses.replace(judge, model=_model(judge.model, "judge.model"))
        if "{output}" not in judge.rubric:
            raise ConfigError("judge.rubric has no {output}: accepted a template with {output} (and usually {prompt})")
    prompts = check_section("prompts.", config.prompts)
    prompts = dataclasses.replace(prompts, items=tuple(prompts.items))
    _check_price(config)
    return dataclasses.replace(
        config,
        model=model,
        sampling=sampling,
        sweep=sweep,
        prompts=prompts,
        runner=check_section("runner.", config.runner),
        report=check_report_options(config.report),
        judge=judge,
        search=dataclasses.replace(check_section("search.", config.search),
                                   budget=check_section("search.budget.", config.search.budget)),
        objective=check_objective(dataclasses.replace(config.objective, constraints=tuple(config.objective.constraints))),
        evaluators=tuple(config.evaluators) if config.evaluators is not None else None,
        out_dir=str(Path(config.out_dir)),
    )
