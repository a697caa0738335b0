"""Grid expansion: settings (points of the parameter grid) and cells (target x setting).

A setting's id hashes its resolved parameters alone, so it is the same for every model and
every job of a multirun; a cell's id hashes the target identity and the setting id.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from hfsweep.core import records
from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.config import Config, ModelTarget, Sampling, Sweep


def stable_hash(payload: Any, length: int = 12) -> str:
    """A short, stable hex digest of a JSON-serialisable value.

    >>> stable_hash({"b": 1, "a": 2}) == stable_hash({"a": 2, "b": 1})
    True
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Setting:
    """One point of the parameter grid, with its preset name ("" when not a preset).

    ``compat``: the profile that sends it when a preset names one other than the run's ("" =
    the run's). ``options``: under a client profile (any compat but none), the parameters the
    setting names (its grid axes and preset keys), which are what that client sends; None under
    compat=none. Both enter the id only when set, so a compat=none setting's id is its
    parameters' alone.
    """

    params: Sampling
    name: str = ""
    compat: str = ""
    options: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        sent = {key: value for key, value in (("compat", self.compat), ("options", self.options)) if value is not None and value != ""}
        return stable_hash({"params": self.params.identity(), **sent} if sent else self.params.identity())


@dataclass(frozen=True)
class Cell:
    """One (model target, setting) pair: the unit that gets `samples` completions per prompt."""

    target: ModelTarget
    setting: Setting

    @functools.cached_property
    def id(self) -> str:  # computed once per cell: a search reads it tens of thousands of times
        return stable_hash({"target": self.target.identity(), "setting": self.setting.id})


def _excluded(params: dict[str, Any], rules: tuple[dict[str, Any], ...]) -> bool:
    return any(all(params.get(key) == value for key, value in rule.items()) for rule in rules)


def expand_settings(base: Sampling, sweep: Sweep, compat: str = "none") -> list[Setting]:
    """Cartesian product of the grid axes (with ``sweep.families``: each family's axes crossed
    with the grid, one after the other, a setting named by its family), times the presets,
    minus exclusions, in stable order.

    Each setting starts from ``base``, then the grid point, then the preset (a preset wins). A
    preset's ``compat`` key sends it through that profile instead of the run's ``compat``.

    >>> from hfsweep.sweeps.config import Sampling, Sweep
    >>> settings = expand_settings(Sampling(), Sweep(grid={"temperature": (0.5, 1.0), "top_p": (0.9, 1.0)}))
    >>> [(s.params.temperature, s.params.top_p) for s in settings]
    [(0.5, 0.9), (0.5, 1.0), (1.0, 0.9), (1.0, 1.0)]
    """
    presets = list(sweep.presets.items()) or [("", {})]
    settings: list[Setting] = []
    seen: set[str] = set()
    for family, point in _points(sweep):
        for preset_name, preset in presets:
            values = {name: value for name, value in preset.items() if name != "compat"}
            params = {**base.as_dict(), **point, **values}
            if _excluded(params, sweep.exclude):
                continue
            profile = preset.get("compat", compat)
            options = tuple(name for name in records.PARAMS if name in point or name in values) if profile != "none" else None
            setting = Setting(Sampling(**params), preset_name or family, profile if profile != compat else "", options)
            if setting.id in seen:
                if family:  # a family that shares a setting with another would lose it: unequal budgets
                    raise ConfigError(f"sweep.families.{family} repeats a setting of an earlier family ({_point_text(point)}): "
                                      "accepted families whose settings differ, e.g. leave the neutral value out of a family's grid")
                continue
            seen.add(setting.id)
            settings.append(setting)
    if not settings:
        raise ConfigError(f"sweep '{sweep.name}' expands to no settings: every point matches sweep.exclude")
    return settings


def _points(sweep: Sweep) -> list[tuple[str, dict[str, Any]]]:
    """(family, grid point) in order: the grid's cartesian product, or with ``sweep.families``,
    each family's product with the grid (family "" without families)."""
    families = sweep.families or {"": {}}
    points = []
    for family, axes in families.items():
        grid = {**sweep.grid, **axes}
        names = list(grid)
        points += [(family, dict(zip(names, values))) for values in itertools.product(*(grid[a] for a in names))]
    return points


def _point_text(point: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in point.items())


def expand_cells(config: Config) -> list[Cell]:
    """All cells of a run, in grid order."""
    return [Cell(config.model, setting) for setting in expand_settings(config.sampling, config.sweep, config.compat)]


def swept_params(settings: list[Setting]) -> list[str]:
    """Parameters that take more than one value across the settings."""
    return records.swept_params({name: [getattr(s.params, name) for s in settings] for name in records.PARAMS})
