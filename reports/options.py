"""Report options: their schema (:class:`ReportOptions`, registered with the rest of the config
schema by ``sweeps.config``), their range checks, and how layers of options are merged."""

from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, List, Optional


@dataclass
class Pareto:
    """The quality-diversity front the page draws (the recommendation comes from ``objective``)."""

    up: str = "distinct_2"  # metric to maximise (diversity)
    down: Optional[str] = None  # metric to minimise; null = perplexity where the target gave log-probs, else seq_rep_4


@dataclass
class Browser:
    """The output viewer ("Compare outputs"): what the page embeds of the samples (it says what it left out)."""

    max_chars: int = 600
    max_prompts: int = 50
    max_samples: int = 5
    max_bytes: int = 5_000_000  # the viewer's JSON in the page; the tables of 2,000 cells take ~8 MB more


OPERATORS = (">=", "<=", ">", "<")


@dataclass
class Objective:
    """What "best" means for the recommendation (and the adaptive search): the best cell on
    ``metric`` (``goal`` max or min) among the cells meeting every constraint."""

    metric: Optional[str] = None  # null = pass_rate with prompt checks, else judge_score with a judge, else none
    goal: str = "max"  # max | min
    constraints: List[str] = field(default_factory=list)  # "METRIC OP VALUE", OP one of >=, <=, >, <


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``"METRIC OP VALUE"`` as (metric, op, value).

    >>> parse_constraint("pass_rate >= 0.85")
    ('pass_rate', '>=', 0.85)
    >>> parse_constraint("loop_rate = 0")
    Traceback (most recent call last):
    hfsweep.core.errors.ReportError: objective.constraints: 'loop_rate = 0' is not accepted: "METRIC OP VALUE" with OP one of >=, <=, >, <, e.g. "pass_rate >= 0.85"
    """
    import re

    match = re.fullmatch(r"\s*(\w+)\s*(>=|<=|>|<)\s*(\S+)\s*", str(text))
    value = None
    if match:
        try:
            value = float(match.group(3))
        except ValueError:
            value = None
    if value is None:
        raise ReportError(f"objective.constraints: {text!r} is not accepted: \"METRIC OP VALUE\" with OP one of "
                          f"{', '.join(OPERATORS)}, e.g. \"pass_rate >= 0.85\"")  # fmt: skip
    return match.group(1), match.group(2), value


def check_objective(objective: Objective) -> Objective:
    """The goal and the constraints' form (metric names are checked against the registry by the engine)."""
    if objective.goal not in ("max", "min"):
        raise ReportError(f"objective.goal = {objective.goal!r} is not accepted: choose one of max, min")
    for text in objective.constraints:
        parse_constraint(text)
    return objective


@dataclass
class ReportOptions:
    """The report's options (``report.*`` in config): the schema, its defaults and types."""

    enabled: bool = True  # `hfsweep run` writes the report at the end (the CLI's concern, not build_report's)
    baseline: Optional[str] = None  # setting_name or setting_id; null = the first setting in grid order
    pareto: Pareto = field(default_factory=Pareto)
    # metrics shown in plots and the HTML summary tables (missing ones are skipped); CSVs hold every metric
    key_metrics: List[str] = field(default_factory=lambda: ["distinct_2", "seq_rep_4", "self_bleu", "loop_rate", "rep_w", "words"])
    bootstrap_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    plots: bool = True
    max_heatmaps: int = 12
    browser: Browser = field(default_factory=Browser)
    page_rows: int = 50  # rows per page in long HTML tables


def check_report_options(opts: ReportOptions) -> ReportOptions:
    """Ranges of the report options (types are checked by the schema).

    >>> check_report_options(ReportOptions(confidence=95))
    Traceback (most recent call last):
    hfsweep.core.errors.ReportError: report.confidence = 95 is out of range: accepted a number in (0, 1)
    """
    _check_ranges(dataclasses.asdict(opts))
    return opts


def _check_ranges(opts: dict[str, Any]) -> None:
    conf = opts["confidence"]
    if not (isinstance(conf, (int, float)) and 0 < conf < 1):
        raise ReportError(f"report.confidence = {conf!r} is out of range: accepted a number in (0, 1)")
    if not isinstance(opts["bootstrap_resamples"], int) or opts["bootstrap_resamples"] < 100:
        raise ReportError(f"report.bootstrap_resamples = {opts['bootstrap_resamples']!r} is out of range: accepted an integer >= 100")
    for key in ("max_heatmaps", "page_rows"):
        if not isinstance(opts[key], int) or opts[key] < 1:
            raise ReportError(f"report.{key} = {opts[key]!r} is out of range: accepted an integer >= 1")
    for key, value in opts["browser"].items():
        if not isinstance(value, int) or value < 1:
            raise ReportError(f"report.browser.{key} = {value!r} is out of range: accepted an integer >= 1")


DEFAULTS: dict[str, Any] = {k: v for k, v in dataclasses.asdict(ReportOptions()).items() if k != "enabled"}


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
    _check_ranges(opts)
    return opts
