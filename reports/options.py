"""Report options: the defaults mirror ``conf/report/default.yaml`` (a test keeps them equal)."""

from __future__ import annotations

import copy
import difflib
from typing import Any

DEFAULTS: dict[str, Any] = {
    # setting_name or setting_id of the baseline setting; null = first setting in grid order
    "baseline": None,
    # Pareto front: metric to maximise (up) and to minimise (down); threshold on `down` for
    # the recommendation (null = median of `down` over cells)
    "pareto": {"up": "distinct_2", "down": "seq_rep_4", "threshold": None},
    # metrics shown in plots and the HTML summary tables (missing ones are skipped);
    # CSV tables always hold every metric
    "key_metrics": ["distinct_2", "seq_rep_4", "self_bleu", "loop_rate", "rep_w", "words"],
    "bootstrap_resamples": 2000,
    "confidence": 0.95,
    "seed": 0,
    "plots": True,
    "max_heatmaps": 12,
    # output viewer ("Compare outputs"): outputs embedded in the page are bounded
    "browser": {"max_chars": 600, "max_prompts": 50, "max_samples": 5, "max_bytes": 10_000_000},
    # rows per page in long HTML tables
    "page_rows": 50,
}


# Keys of conf/report/ that belong to the CLI, not to build_report (accepted and ignored).
CLI_KEYS = {"enabled"}


class ReportError(ValueError):
    """A user-facing report problem (bad option, nothing to report)."""


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
    conf = opts["confidence"]
    if not (isinstance(conf, (int, float)) and 0 < conf < 1):
        raise ReportError(f"report.confidence must be in (0, 1), got {conf!r}.")
    if int(opts["bootstrap_resamples"]) < 100:
        raise ReportError(f"report.bootstrap_resamples must be >= 100, got {opts['bootstrap_resamples']!r}.")
    return opts
