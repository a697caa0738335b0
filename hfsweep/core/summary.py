"""``summary.json``: what a run did, typed and versioned (the record schema's version).

The runner writes it (:func:`write`), the judge adds its part (:func:`add_judge`), and the
reports read it (:func:`read`) by attribute. A missing or unreadable file reads as None; a
summary of another schema version is refused like the completions are.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write(folder, RunSummary(run_id="r1", requests=4, finished=4, warnings=["w"]))
>>> summary = read(folder)
>>> summary.run_id, summary.requests, summary.warnings, summary.judge
('r1', 4, ['w'], None)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfsweep.core import records, secrets


@dataclass(frozen=True)
class TargetSummary:
    """The model target a run sent its requests to."""

    kind: str
    model: str | None
    endpoint: str | None = None
    provider: str | None = None
    mode: str = "chat"


@dataclass(frozen=True)
class JudgeSummary:
    """What the judge did: judgments made, unparseable, failed, requests sent."""

    model: str | None
    kind: str
    judged: int
    unparseable: int
    errors: int
    sent: int


@dataclass(frozen=True)
class RunSummary:
    """One run's ``summary.json``.

    ``server``: what server detection found (kind, version, defaults, chat template), or None.
    ``search``: an adaptive search's outcome (strategy, metric, rounds, ...), or None for a grid.
    ``cache_hits`` counts the ``copies`` too: greedy samples copied from sample 0, not sent.
    ``greedy``: what the run found of its greedy cells (``sweeps.greedy``), or None without any.
    """

    run_id: str
    started_at: str | None = None
    finished_at: str | None = None
    wall_s: float | None = None
    interrupted: bool = False
    requests: int = 0
    finished: int = 0
    sent: int = 0
    check_requests: int = 0  # the hidden-defaults check's requests before the run (not in ``sent``)
    cache_hits: int = 0
    copies: int = 0
    errors: int = 0
    retries: int = 0
    min_concurrency: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    targets: tuple[TargetSummary, ...] = ()
    capability: str | None = None
    server: dict[str, Any] | None = None
    sweep: str | None = None
    grid: dict[str, list] = field(default_factory=dict)
    presets: list = field(default_factory=list)
    swept: list[str] = field(default_factory=list)
    cells: int = 0
    samples: int = 0
    prompts: int = 0
    warnings: list[str] = field(default_factory=list)
    search: dict[str, Any] | None = None
    greedy: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None  # requests, tokens and cost per cell and in total (hfsweep.core.usage)
    judge: JudgeSummary | None = None
    schema_version: int = records.SCHEMA_VERSION


def write(run_dir: Path, summary: RunSummary) -> None:
    (Path(run_dir) / records.SUMMARY).write_text(json.dumps(secrets.redact(dataclasses.asdict(summary)), indent=2))


def read(run_dir: Path) -> RunSummary | None:
    """The run's summary, or None when it has none (a run killed before its end)."""
    path = Path(run_dir) / records.SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    records.check_version([data.get("schema_version", records.SCHEMA_VERSION)], run_dir)
    known = {f.name for f in dataclasses.fields(RunSummary)}
    values = {key: value for key, value in data.items() if key in known}
    values["targets"] = tuple(TargetSummary(**target) for target in values.get("targets") or ())
    values["judge"] = JudgeSummary(**values["judge"]) if values.get("judge") else None
    return RunSummary(**values)


def add_judge(run_dir: Path, judge: JudgeSummary, warning: str | None = None) -> None:
    """Record the judge's part in the run's summary (a run without one gets a minimal one)."""
    summary = read(run_dir) or RunSummary(run_id=Path(run_dir).name)
    warnings = [*summary.warnings, warning] if warning else summary.warnings
    write(run_dir, dataclasses.replace(summary, judge=judge, warnings=warnings))
