"""How layers of report options are merged: the defaults of :class:`ReportOptions`
(``hfsweep.core.report_options``), a run's ``config.yaml``, then the caller's."""

from __future__ import annotations

import copy
import dataclasses
import difflib
from typing import Any

from hfsweep.core.errors import ReportError
from hfsweep.core.report_options import Browser, Pareto, ReportOptions, check_report_options

DEFAULTS: dict[str, Any] = {k: v for k, v in dataclasses.asdict(ReportOptions()).items() if k != "enabled"}


# Keys of conf/report/ that belong to the CLI, not to build_report (accepted and ignored).
CLI_KEYS = {"enabled"}


def _merge(base: dict, over: dict, path: str, strict: bool) -> None:
    for key, value in over.items():
        if not path and key in CLI_KEYS:
            continue
        if key not in base:
            if not strict:
                continue
            close = difflib.get_close_matches(key, list(base), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ReportError(
                f"Unknown report option '{path}{key}'.{hint} Available: {', '.join(sorted(base))}."
            )
        if isinstance(base[key], dict) and value is not None:
            if not isinstance(value, dict):
                raise ReportError(f"Report option '{path}{key}' must be a mapping, got {value!r}.")
            _merge(base[key], value, f"{path}{key}.", strict)
        else:
            base[key] = value


def resolve_options(*layers: dict | None, strict_last: bool = True) -> dict[str, Any]:
    """Defaults overlaid with each layer in turn; unknown keys in the last layer are errors
    (earlier layers, e.g. a run's ``config.yaml`` ``report`` section, are lenient).

    >>> resolve_options({"pareto": {"up": "distinct_3"}})["pareto"]["up"]
    'distinct_3'
    """
    opts = copy.deepcopy(DEFAULTS)
    for i, layer in enumerate(layers):
        if layer:
            _merge(opts, dict(layer), "", strict_last and i == len(layers) - 1)
    check_report_options(ReportOptions(**{**opts, "pareto": Pareto(**opts["pareto"]), "browser": Browser(**opts["browser"])}))
    return opts
