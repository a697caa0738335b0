"""The report's options as one typed :class:`ReportOptions`: its defaults, then a run's
``config.yaml`` ``report`` section, then the caller's options, each layer over the last."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from hfsweep.core.errors import ReportError
from hfsweep.core.report_options import Browser, Mlflow, Pareto, ReportOptions, check_report_options

Layer = ReportOptions | Mapping[str, Any] | None


def _merge(base: dict, over: Mapping, path: str, strict: bool) -> None:
    for key, value in over.items():
        if key not in base:
            if not strict:
                continue
            close = difflib.get_close_matches(key, list(base), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ReportError(
                f"Unknown report option '{path}{key}'.{hint} Available: {', '.join(sorted(base))}."
            )
        if isinstance(base[key], dict) and value is not None:
            if not isinstance(value, Mapping):
                raise ReportError(f"Report option '{path}{key}' must be a mapping, got {value!r}.")
            _merge(base[key], value, f"{path}{key}.", strict)
        else:
            base[key] = value


def resolve_options(*layers: Layer, strict_last: bool = True) -> ReportOptions:
    """The defaults overlaid with each layer in turn, checked; unknown keys in the last layer are
    errors (earlier layers, e.g. a run's ``config.yaml`` ``report`` section, are lenient).

    >>> resolve_options({"pareto": {"up": "distinct_3"}}).pareto.up
    'distinct_3'
    """
    merged = dataclasses.asdict(ReportOptions())
    for index, layer in enumerate(layers):
        if layer:
            values = dataclasses.asdict(layer) if isinstance(layer, ReportOptions) else layer
            _merge(merged, values, "", strict_last and index == len(layers) - 1)
    options = ReportOptions(**{**merged, "pareto": Pareto(**merged["pareto"]), "browser": Browser(**merged["browser"]),
                               "mlflow": Mlflow(**merged["mlflow"])})  # fmt: skip
    return check_report_options(options)
