"""Compose ``conf/`` with Hydra onto the schema, and turn Hydra's and OmegaConf's errors into
one-line user errors (key, value, what is accepted, "did you mean")."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException

from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.config import Config, field_spec, validate


# conf/ (YAML only) beside this package's folder: the repository's top-level conf/, or hfsweep/conf
# in a wheel (pyproject.toml ships it there beside hfsweep/sweeps).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def groups() -> list[str]:
    """The config groups (folders of ``conf/``), e.g. model, sweep, compat."""
    return sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra")


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_mapping(overrides: list[str]) -> dict:
    """Compose the config with CLI-style overrides into a plain, resolved mapping."""
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose("config", overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingConfigException as error:
        raise ConfigError(_missing_config_message(error, overrides)) from None
    except MissingMandatoryValue as error:
        raise ConfigError(_missing_value_message(error)) from None
    except (HydraException, OmegaConfBaseException) as error:
        cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
        if isinstance(cause, MissingMandatoryValue):
            raise ConfigError(_missing_value_message(cause)) from None
        raise ConfigError(_override_message(error, cause, overrides)) from None


def compose_config(overrides: list[str]) -> tuple[Config, dict]:
    """Compose and validate: the typed config and the resolved mapping (for config.yaml)."""
    mapping = compose_mapping(overrides)
    return from_mapping(mapping), mapping


def _missing_value_message(error) -> str:
    key = getattr(error, "full_key", None) or "a key"
    example = {"model.id": "model.id=org/name", "model.endpoint": "model.endpoint=http://127.0.0.1:8080"}.get(key, f"{key}=VALUE")
    return f"{key} is required by this config: set it, e.g. {example}"


def _missing_config_message(error, overrides: list[str]) -> str:
    text = str(error)
    for override in overrides:
        group, _, value = override.lstrip("+~").partition("=")
        if group in groups() and f"{group}/{value}" in text:
            options = group_options(group)
            close = difflib.get_close_matches(value, options, n=1)
            hint = f" Did you mean {group}={close[0]}?" if close else ""
            return f"{group} = {value!r} is not known: choose one of {', '.join(options)}.{hint}"
    return text.splitlines()[0]


def _schema_keys(section: str) -> list[str] | None:
    """The keys the schema accepts under a dotted section ('' = top level), None if not a dataclass."""
    cls: typing.Any = Config
    for part in section.split(".") if section else []:
        hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
        cls = hints.get(part)
    if not dataclasses.is_dataclass(cls):
        return None
    return [f.name for f in dataclasses.fields(cls)]


def _unknown_key_message(key: str) -> str:
    section, _, name = key.rpartition(".")
    accepted = _schema_keys(section)
    if accepted is None:
        return f"{key} is not a known config key"
    close = difflib.get_close_matches(name, accepted, n=1)
    hint = f" Did you mean {section + '.' if section else ''}{close[0]}?" if close else ""
    return f"{key} is not a known config key: accepted {', '.join(accepted)}.{hint}"


_TYPE_WORDS = {"Float": "a number", "Integer": "an integer", "Boolean": "true or false", "String": "text"}


def omegaconf_message(error) -> str:
    """One line for an OmegaConf type or key error: key, value, what is accepted."""
    key = getattr(error, "full_key", None) or ""
    text = str(error)
    if isinstance(error, (ConfigKeyError, ConfigAttributeError)) or "not in '" in text or "is not in struct" in text:
        missing = re.search(r"Key '([^']+)' (?:not in|is not in struct)", text)
        name = missing.group(1) if missing else key.rpartition(".")[2]
        section = key.rpartition(".")[0] if key.endswith(name) else key
        return _unknown_key_message(f"{section}.{name}" if section else name)
    if "is not a ListConfig" in text and key:
        return f"{key} is not accepted: a list, e.g. '{key}=[0.5,1.0]'"
    boolean = re.search(r"Value '(.*)' is not a valid bool", text)
    if boolean and key:
        return f"{key} = {boolean.group(1)!r} is not accepted: true or false"
    value = re.search(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", text)
    if value and key:
        raw, kind, target = value.groups()
        shown = raw if kind in ("int", "float") else repr(raw)
        meta = field_spec(key) or {}
        word = _TYPE_WORDS.get(target, target.lower())
        accepted = meta.get("accepted") or word
        if target == "Boolean":
            return f"{key} = {shown} is not accepted: true or false"
        return f"{key} = {shown} is not {word}: accepted {accepted}"
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"{key} is not accepted: {first}" if key else f"could not read the config: {first}"


def _override_message(error: Exception, cause: Exception, overrides: list[str]) -> str:
    text = str(error)
    match = re.search(r"Could not override '([^']+)'", text)
    if match:
        key = match.group(1)
        section = key.rpartition(".")[0]
        if section in ("sweep.grid", "sweep.presets"):
            value = next((o.partition("=")[2] for o in overrides if o.partition("=")[0] == key), "...")
            return f"{key} is not in this sweep's {section.split('.')[1]}: add it with '+{key}={value}'"
        return _unknown_key_message(key)
    if cause is not error:
        return omegaconf_message(cause)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"could not read the overrides: {first}"


def from_mapping(data: dict) -> Config:
    """Type-check a composed mapping (Hydra's output, or a run's config.yaml) against the
    schema and validate it. Wrong types and unknown keys become one-line ConfigErrors."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Config), {k: v for k, v in data.items() if k != "hydra"})
        config = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as error:
        raise ConfigError(omegaconf_message(error)) from None
    return validate(config)
