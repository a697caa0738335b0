"""Compose ``conf/`` with Hydra and turn Hydra's errors into one-line user errors."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from sweeps.config import Config, from_mapping
from sweeps.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_mapping(overrides: list[str]) -> dict:
    """Compose the config with CLI-style overrides into a plain, resolved mapping."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose("config", overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingConfigException as error:
        raise ConfigError(_missing_config_message(error, overrides)) from None
    except MissingMandatoryValue as error:
        key = getattr(error, "full_key", None) or "a key"
        example = {"model.id": "model.id=org/name", "model.endpoint": "model.endpoint=http://127.0.0.1:8080"}.get(key, f"{key}=VALUE")
        raise ConfigError(f"{key} is required by this config: set it, e.g. {example}") from None
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(_override_message(error, overrides)) from None


def compose_config(overrides: list[str]) -> tuple[Config, dict]:
    """Compose and validate: the typed config and the resolved mapping (for config.yaml)."""
    mapping = compose_mapping(overrides)
    return from_mapping(mapping), mapping


def _missing_config_message(error, overrides: list[str]) -> str:
    text = str(error)
    for override in overrides:
        group, _, value = override.lstrip("+~").partition("=")
        if group in ("model", "sampling", "sweep", "prompts", "runner", "report") and f"{group}/{value}" in text:
            options = group_options(group)
            close = difflib.get_close_matches(value, options, n=1)
            hint = f" Did you mean {group}={close[0]}?" if close else ""
            return f"{group} = {value!r} is not known: choose one of {', '.join(options)}.{hint}"
    return text.splitlines()[0]


def _override_message(error: Exception, overrides: list[str]) -> str:
    text = str(error)
    match = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' is not in struct", text)
    if not match:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return f"could not read the overrides: {first}"
    key = match.group(1)
    section, _, name = key.rpartition(".")
    if section in ("sweep.grid", "sweep.presets"):
        value = next((o.partition("=")[2] for o in overrides if o.partition("=")[0] == key), "...")
        return f"{key} is not in this sweep's {section.split('.')[1]}: add it with '+{key}={value}'"
    groups = [o for o in overrides if "=" in o and "." not in o.partition("=")[0] and not o.startswith(("+", "~"))]
    try:
        known = compose_mapping(groups)
        for part in section.split(".") if section else []:
            known = known[part]
        accepted = sorted(k for k in known if k != "hydra")
    except (KeyError, TypeError, ConfigError):
        return f"{key} is not a known config key"
    close = difflib.get_close_matches(name, accepted, n=1)
    hint = f" Did you mean {section + '.' if section else ''}{close[0]}?" if close else ""
    return f"{key} is not a known config key: accepted {', '.join(accepted)}.{hint}"
