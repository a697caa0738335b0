"""The report's options (``report.*`` in config): schema, defaults, types and ranges.

The config schema holds them (``Config.report``) and the report reads them; both check them
with the one range checker.

>>> check_report_options(ReportOptions(confidence=95))
Traceback (most recent call last):
hfsweep.core.errors.ReportError: report.confidence = 95 is out of range: accepted a number in (0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from hfsweep.core.errors import ReportError
from hfsweep.core.ranges import check_section, spec


@dataclass
class Pareto:
    """The quality-diversity front the page draws (the recommendation comes from ``objective``)."""

    up: str = "distinct_2"  # metric to maximise (diversity)
    down: Optional[str] = None  # metric to minimise; null = perplexity where the target gave log-probs, else seq_rep_4


AT_LEAST_ONE = {"accepted": "an integer >= 1", "low": 1}


@dataclass
class Browser:
    """The output viewer ("Compare outputs"): what the page embeds of the samples (it says what it left out)."""

    max_chars: int = spec(600, **AT_LEAST_ONE)
    max_prompts: int = spec(50, **AT_LEAST_ONE)
    max_samples: int = spec(5, **AT_LEAST_ONE)
    max_bytes: int = spec(5_000_000, **AT_LEAST_ONE)  # the viewer's JSON in the page; the tables of 2,000 cells take ~8 MB more


@dataclass
class Mlflow:
    """``report.mlflow.*``: log the run to MLflow after its report (``reports/tracking.py``; the ``mlflow`` extra)."""

    enabled: bool = False
    tracking_uri: Optional[str] = None  # null = MLflow's default (MLFLOW_TRACKING_URI, else its local store)
    experiment: str = "hfsweep"


@dataclass
class ReportOptions:
    """The report's options (``report.*`` in config): the schema, its defaults and types."""

    enabled: bool = True  # `hfsweep run` writes the report at the end (the CLI's concern, not build_report's)
    baseline: Optional[str] = None  # setting_name or setting_id; null = the first setting in grid order
    pareto: Pareto = field(default_factory=Pareto)
    # metrics shown in plots and the HTML summary tables (missing ones are skipped); CSVs hold every metric
    key_metrics: List[str] = field(default_factory=lambda: ["distinct_2", "seq_rep_4", "self_bleu", "loop_rate", "rep_w", "words"])
    bootstrap_resamples: int = spec(2000, accepted="an integer >= 100", low=100)
    confidence: float = spec(0.95, accepted="a number in (0, 1)", low=0, high=1, open_low=True)
    seed: int = spec(0, accepted="an integer >= 0", low=0)  # the bootstrap's
    plots: bool = True
    max_heatmaps: int = spec(12, **AT_LEAST_ONE)
    browser: Browser = field(default_factory=Browser)
    page_rows: int = spec(50, **AT_LEAST_ONE)  # rows per page in long HTML tables
    mlflow: Mlflow = field(default_factory=Mlflow)


def check_report_options(options: ReportOptions) -> ReportOptions:
    """Ranges of the report options (types are checked by the schema)."""
    return check_section("report.", options, ReportError)
