"""The verdict: the answer in a few plain lines, first on the page and in the terminal.

Per target: the setting to use, written as the parameters to set, with its objective value and
CI; whether the data single it out (the tied set of :mod:`hfsweep.core.decision` holds it alone)
or name other settings that are as good, and then about how many prompts would separate it from
the runner-up; the cells left undecided by their constraints. Then the warnings that change the reading (the run's warnings, truncation).
It is written beside the page as ``verdict.json`` (``hfsweep.core.records.VERDICT``) for scripts,
and ``hfsweep run`` / ``hfsweep report`` print its lines.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from hfsweep.core import records
from hfsweep.reports import recommend
from hfsweep.reports.power import prompts_needed
from hfsweep.reports.recommend import Choice, setting_label


def verdict_lines(cells: pd.DataFrame, recommendation: pd.DataFrame, choices: list[Choice], swept: list[str],
                  confidence: float) -> list[str]:  # fmt: skip
    """The recommendation's lines of the verdict, per target (see the module docstring)."""
    conf = int(round(confidence * 100))
    lines = []
    several = recommendation["target"].nunique() > 1 if len(recommendation) else False
    for row, choice in zip(recommendation.itertuples(index=False), choices):
        who = f"{row.target}: " if several else ""
        if choice.index is None:
            lines.append(f"{who}no recommendation: {row.note}" + (f" ({len(choice.undecided)} cell(s) undecided)" if choice.undecided else ""))
            continue
        target_cells = cells[cells["target"] == row.target].reset_index(drop=True)
        chosen = target_cells.iloc[choice.index]
        ci = f", {conf}% CI {row.ci_low:.3g} to {row.ci_high:.3g}" if np.isfinite(row.ci_low) else ""
        lines.append(f"{who}set {setting_label(chosen, swept, '=')}: {row.metric} {row.value:.3g}{ci}"
                     + (f" ({row.constraints} at the {conf}% bound)" if row.constraints else "") + ".")  # fmt: skip
        tied = int(choice.tied.sum())
        family = choice.family
        if choice.test is not None and tied == 1:
            lines.append(f"  The data single it out: every other candidate is worse on {row.metric} at the {conf}% level "
                         f"({family}).")  # fmt: skip
        elif tied > 1:
            lines.append(f"  The data do not single out one setting: it is statistically tied with {tied - 1} other(s) at "
                         f"the {conf}% level ({family}): {recommend.tied_labels(swept, target_cells, choice, '=')}. "
                         f"This one has the best worst case on {row.metric} (the one-sided bound of its mean).")  # fmt: skip
        if choice.test is not None and tied > 1:
            test = choice.test
            runner_up = setting_label(target_cells.iloc[choice.runner_up], swept, "=")
            needed = prompts_needed(test.sd, abs(test.diff)) if np.isfinite(test.sd) else math.inf
            separate = (f"about {needed:.0f} prompts would separate them" if np.isfinite(needed)
                        else "no practical number of prompts would separate them")  # fmt: skip
            lines.append(f"  Against {runner_up}: difference {test.diff:.3g} over {test.n} prompts; {separate}.")
        if choice.undecided:
            lines.append(f"  {len(choice.undecided)} cell(s) meet the constraints only on their mean (undecided, not candidates).")
    return lines


def warning_lines(summary: dict, completions: pd.DataFrame) -> list[str]:
    """The warnings that change how the verdict reads: the runs' own (ignored parameters, hidden
    server defaults, mixed providers, template tokens, ...) and the share of cut texts."""
    lines = [f"warning: {warning}" for warning in summary.get("warnings", [])]
    answered = int((~records.error_mask(completions)).sum())
    truncated = int(records.truncated_mask(completions).sum())
    if answered and truncated:
        lines.append(f"warning: {100 * truncated / answered:.0f}% of the completions stopped at max_tokens "
                     "(sampling.max_tokens): their texts are cut")  # fmt: skip
    errors = len(completions) - answered
    if errors:
        lines.append(f"warning: {errors} of {len(completions)} requests failed (error rows, left out of the scores)")
    return lines


def write(folder: Path, lines: list[str], recommendation: pd.DataFrame) -> Path:
    path = Path(folder) / records.VERDICT
    rows = json.loads(recommendation.to_json(orient="records"))
    path.write_text(json.dumps({"lines": lines, "recommendation": rows}, indent=2), encoding="utf-8")
    return path


def read(folder: Path) -> list[str]:
    """The verdict's lines written beside a page (its files folder), or none."""
    try:
        return list(json.loads((Path(folder) / records.VERDICT).read_text(encoding="utf-8"))["lines"])
    except (OSError, ValueError, KeyError):
        return []
