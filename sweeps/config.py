"""Typed, validated config: the one place where every value is checked before any request.

Hydra composes ``conf/`` into a plain mapping; :func:`from_mapping` turns it into the frozen
dataclasses below or raises :class:`ConfigError` naming the key, the value and what is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sweeps.errors import ConfigError

PARAMS = ("temperature", "top_k", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "seed")
TARGET_KINDS = ("embedded", "hf", "endpoint")
SERVER_KINDS = ("llama.cpp", "tgi", "openai")
MODES = ("chat", "text")
COMPATS = ("none", "langchain_hf")


@dataclass(frozen=True)
class Sampling:
    """Generation parameters of one request (also the base values of a sweep)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    max_tokens: int = 64
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAMS}


@dataclass(frozen=True)
class ModelTarget:
    """Where completions come from: an embedded GGUF, an HF provider, or an endpoint URL."""

    kind: str
    id: str
    mode: str = "chat"
    gguf: str | None = None
    endpoint: str | None = None
    provider: str | None = None
    server: str = "openai"
    slots: int = 4
    ctx_per_slot: int = 1024
    threads: int = 2
    system_prompt: str | None = None

    @property
    def label(self) -> str:
        return self.id

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


@dataclass(frozen=True)
class Sweep:
    """A grid over parameters, optional named presets, and exclusions."""

    name: str = "single"
    grid: dict[str, tuple] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    exclude: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Prompts:
    file: str | None = None
    limit: int | None = None
    items: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Runner:
    concurrency: int | None = None
    timeout_s: float = 120.0
    max_attempts: int = 6
    deadline_s: float = 900.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    cache: bool = True
    cache_path: str | None = None
    refresh: bool = False
    allow_ignored: bool = False
    progress: bool = True


@dataclass(frozen=True)
class Config:
    model: ModelTarget
    sampling: Sampling
    sweep: Sweep
    prompts: Prompts
    runner: Runner
    samples: int = 1
    compat: str = "none"
    evaluators: tuple[str, ...] | None = None
    out_dir: str = "runs"
    report: dict[str, Any] = field(default_factory=dict)


# --- checks -------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_param(key: str, value: Any) -> Any:
    """Check one sampling parameter against the accepted range; return its normal form.

    >>> check_param("sampling.top_k", None)
    0
    >>> check_param("sampling.temperature", 3)
    Traceback (most recent call last):
    sweeps.errors.ConfigError: sampling.temperature = 3 is out of range: accepted 0 .. 2
    """
    name = key.rsplit(".", 1)[-1]
    if name == "temperature":
        return _check_float(key, value, 0.0, 2.0, "0 .. 2")
    if name in ("frequency_penalty", "presence_penalty"):
        return _check_float(key, value, -2.0, 2.0, "-2 .. 2")
    if name == "top_p":
        number = _check_float(key, value, 0.0, 1.0, "(0, 1]")
        if number <= 0.0:
            raise ConfigError(f"{key} = {value!r} is out of range: accepted (0, 1]")
        return number
    if name == "top_k":
        if value is None:
            return 0
        return _check_int(key, value, 0, "an integer >= 0 (0 or null = off)")
    if name == "max_tokens":
        return _check_int(key, value, 1, "an integer >= 1")
    if name == "seed":
        return _check_int(key, value, 0, "an integer >= 0")
    raise ConfigError(f"{key} is not a sampling parameter: accepted {', '.join(PARAMS)}")


def _check_float(key: str, value: Any, low: float, high: float, accepted: str) -> float:
    if not _is_number(value):
        raise ConfigError(f"{key} = {value!r} is not a number: accepted {accepted}")
    if not low <= value <= high:
        raise ConfigError(f"{key} = {value!r} is out of range: accepted {accepted}")
    return float(value)


def _check_int(key: str, value: Any, low: int, accepted: str) -> int:
    if not _is_int(value):
        raise ConfigError(f"{key} = {value!r} is not an integer: accepted {accepted}")
    if value < low:
        raise ConfigError(f"{key} = {value!r} is out of range: accepted {accepted}")
    return value


def _choice(key: str, value: Any, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise ConfigError(f"{key} = {value!r} is not accepted: choose one of {', '.join(accepted)}")
    return value


def _known_keys(section: str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]} is not a known key: accepted {', '.join(sorted(allowed))}")


def _positive_int(key: str, value: Any) -> int:
    return _check_int(key, value, 1, "an integer >= 1")


def _positive_float(key: str, value: Any) -> float:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"{key} = {value!r} is not accepted: a number > 0")
    return float(value)


# --- sections -----------------------------------------------------------------------------


def _sampling(data: dict) -> Sampling:
    _known_keys("sampling", data, set(PARAMS))
    return Sampling(**{name: check_param(f"sampling.{name}", data[name]) for name in PARAMS if name in data})


def _model(data: dict) -> ModelTarget:
    allowed = {f.name for f in ModelTarget.__dataclass_fields__.values()}
    _known_keys("model", data, allowed)
    kind = _choice("model.kind", data.get("kind"), TARGET_KINDS)
    mode = _choice("model.mode", data.get("mode", "chat"), MODES)
    server = _choice("model.server", data.get("server") or "openai", SERVER_KINDS)
    model_id = data.get("id")
    endpoint = data.get("endpoint")
    if kind == "hf" and not (isinstance(model_id, str) and "/" in model_id):
        raise ConfigError(
            f"model.id = {model_id!r} is not a Hub model id: accepted 'org/name', e.g. model.id=meta-llama/Llama-3.1-8B-Instruct"
        )
    if kind == "endpoint":
        parsed = urlparse(endpoint) if isinstance(endpoint, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"model.endpoint = {endpoint!r} is not accepted: an http(s) URL, e.g. model.endpoint=http://127.0.0.1:8080")
        model_id = model_id or parsed.netloc
    if kind == "embedded":
        server = "llama.cpp"
        if not isinstance(data.get("gguf"), str):
            raise ConfigError(f"model.gguf = {data.get('gguf')!r} is not accepted: smollm2, gemma3 or a path to a .gguf file")
        model_id = model_id or data["gguf"]
    if not isinstance(model_id, str) or not model_id:
        raise ConfigError(f"model.id = {model_id!r} is not accepted: a non-empty model name")
    return ModelTarget(
        kind=kind,
        id=model_id,
        mode=mode,
        gguf=data.get("gguf"),
        endpoint=endpoint.rstrip("/") if isinstance(endpoint, str) else None,
        provider=data.get("provider"),
        server=server,
        slots=_positive_int("model.slots", data.get("slots", 4)),
        ctx_per_slot=_positive_int("model.ctx_per_slot", data.get("ctx_per_slot", 1024)),
        threads=_positive_int("model.threads", data.get("threads", 2)),
        system_prompt=data.get("system_prompt"),
    )


def _sweep(data: dict) -> Sweep:
    _known_keys("sweep", data, {"name", "grid", "presets", "exclude"})
    grid: dict[str, tuple] = {}
    for name, values in (data.get("grid") or {}).items():
        key = f"sweep.grid.{name}"
        if name not in PARAMS:
            raise ConfigError(f"{key} is not a sweepable parameter: accepted {', '.join(PARAMS)}")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{key} = {values!r} is not accepted: a non-empty list, e.g. '{key}=[0.5,1.0]'")
        checked = tuple(check_param(key, value) for value in values)
        if len(set(checked)) != len(checked):
            raise ConfigError(f"{key} = {list(values)!r} repeats a value: accepted a list of distinct values")
        grid[name] = checked
    presets: dict[str, dict[str, Any]] = {}
    for preset_name, params in (data.get("presets") or {}).items():
        if not isinstance(params, dict):
            raise ConfigError(f"sweep.presets.{preset_name} = {params!r} is not accepted: a mapping of parameters")
        presets[str(preset_name)] = {
            name: check_param(f"sweep.presets.{preset_name}.{name}", value) for name, value in params.items()
        }
    exclude = []
    for index, rule in enumerate(data.get("exclude") or []):
        if not isinstance(rule, dict) or not rule:
            raise ConfigError(f"sweep.exclude[{index}] = {rule!r} is not accepted: a mapping like {{temperature: 0, top_p: 0.9}}")
        exclude.append({name: check_param(f"sweep.exclude[{index}].{name}", value) for name, value in rule.items()})
    return Sweep(name=str(data.get("name", "single")), grid=grid, presets=presets, exclude=tuple(exclude))


def _prompts(data: dict) -> Prompts:
    _known_keys("prompts", data, {"file", "limit", "items"})
    limit = data.get("limit")
    if limit is not None:
        limit = _positive_int("prompts.limit", limit)
    file = data.get("file")
    if file is not None and not isinstance(file, str):
        raise ConfigError(f"prompts.file = {file!r} is not accepted: a path to a .jsonl, .csv or .txt file")
    return Prompts(file=file, limit=limit, items=tuple(data.get("items") or ()))


def _runner(data: dict) -> Runner:
    allowed = {f.name for f in Runner.__dataclass_fields__.values()}
    _known_keys("runner", data, allowed)
    values = dict(data)
    if values.get("concurrency") is not None:
        values["concurrency"] = _positive_int("runner.concurrency", values["concurrency"])
    values["max_attempts"] = _positive_int("runner.max_attempts", values.get("max_attempts", 6))
    for key in ("timeout_s", "deadline_s", "backoff_base_s", "backoff_max_s"):
        if key in values:
            values[key] = _positive_float(f"runner.{key}", values[key])
    for key in ("cache", "refresh", "allow_ignored", "progress"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"runner.{key} = {values[key]!r} is not accepted: true or false")
    return Runner(**values)


def from_mapping(data: dict) -> Config:
    """Build and validate a :class:`Config` from a composed mapping (Hydra's output as a dict)."""
    allowed = {"model", "sampling", "sweep", "prompts", "runner", "samples", "compat", "evaluators", "out_dir", "report"}
    _known_keys("config", {k: v for k, v in data.items() if k != "hydra"}, allowed)
    evaluators = data.get("evaluators")
    if evaluators is not None:
        if not isinstance(evaluators, (list, tuple)) or not all(isinstance(name, str) for name in evaluators):
            raise ConfigError(f"evaluators = {evaluators!r} is not accepted: a list of evaluator names, e.g. '[seq_rep_4,distinct_2]'")
        evaluators = tuple(evaluators)
    out_dir = data.get("out_dir", "runs")
    model = _model(data.get("model") or {})
    compat = _choice("compat", data.get("compat", "none"), COMPATS)
    if compat == "langchain_hf" and not (model.kind == "hf" or model.server == "tgi"):
        raise ConfigError(
            f"compat = 'langchain_hf' sends TGI's text route, which model {model.id!r} ({model.kind}, server {model.server}) "
            "does not serve: accepted model=hf, or model=endpoint model.server=tgi"
        )
    return Config(
        model=model,
        sampling=_sampling(data.get("sampling") or {}),
        sweep=_sweep(data.get("sweep") or {}),
        prompts=_prompts(data.get("prompts") or {}),
        runner=_runner(data.get("runner") or {}),
        samples=_positive_int("samples", data.get("samples", 1)),
        compat=compat,
        evaluators=evaluators,
        out_dir=str(Path(out_dir)),
        report=dict(data.get("report") or {}),
    )
