"""Sampler families compared at an equal tuning budget (``sweep.families``, e.g. ``sweep=samplers``).

A family is a named grid of the sweep (its cells carry the family's name as ``setting_name``).
Comparing each family's best cell on the prompts that picked it favours the family with the
luckiest cell (the winner's curse grows with the number of cells tried), so the prompts are
split in two fixed halves (:func:`split_prompts`): each family's best cell is picked on the
*selection* half, on the objective's metric, and the bests are compared on the *held-out*
half only, paired by prompt (:func:`hfsweep.reports.stats.paired_differences`: bootstrap CI and
Wilcoxon p), every family pair corrected together with Holm's method
(:func:`hfsweep.reports.stats.holm`). A difference counts when its Holm-adjusted p is below
``1 - report.confidence``; when none does, the note says the data cannot decide.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hfsweep.core import decision
from hfsweep.reports.bootstrap import bootstrap_cis
from hfsweep.reports.formatting import fnum
from hfsweep.reports.stats import holm, paired_differences

BEST_COLS = ["target", "family", "cells", "setting", "cell_id", "metric", "selection_mean", "selection_prompts",
             "value", "ci_low", "ci_high", "n"]  # fmt: skip
PAIR_COLS = ["target", "family_a", "family_b", "setting_a", "setting_b", "metric", "diff", "diff_ci_low", "diff_ci_high",
             "n", "p", "p_holm", "decided"]  # fmt: skip


def family_names(configs: list[Mapping]) -> list[str]:
    """The families of the runs' ``sweep.families`` (first-seen order; none: an empty list).

    >>> family_names([{"sweep": {"families": {"top_p": {}, "min_p": {}}}}, {"sweep": {}}])
    ['top_p', 'min_p']
    """
    names: dict[str, None] = {}
    for config in configs:
        families = (config.get("sweep") or {}).get("families") or {}
        names.update(dict.fromkeys(map(str, families)))
    return list(names)


def split_prompts(prompts: list[str]) -> tuple[list[str], list[str]]:
    """(selection half, held-out half): the prompts in order of the SHA-256 of their id, the first
    ceil(n/2) select. Fixed for a prompt set, whatever the run, the order or the seed.

    >>> split_prompts(["a", "b", "c", "d", "e"])
    (['d', 'c', 'b'], ['e', 'a'])
    """
    ranked = sorted(prompts, key=lambda prompt: hashlib.sha256(str(prompt).encode("utf-8")).hexdigest())
    half = (len(ranked) + 1) // 2
    return ranked[:half], ranked[half:]


def compare_families(context, prompts: list[str], families: list[str], metric: str, goal: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Per target: each family's best cell (picked on the selection half) with its held-out mean
    and CI, the paired comparisons of the bests (held-out half, Holm over the family pairs), and
    the note that says what the data decide. ``context``: the report's :class:`tables.Context`,
    whose metric matrices have one column per prompt of ``prompts``, in that order."""
    cells = context.cells
    select, held = split_prompts(prompts)
    column = {prompt: i for i, prompt in enumerate(prompts)}
    s_cols, h_cols = [column[p] for p in select], [column[p] for p in held]
    mat = context.mats[metric]
    sign = 1.0 if goal == "max" else -1.0
    alpha = 1.0 - float(context.opts.confidence)
    bests, pairs, lines = [], [], []
    for target in context.targets:
        picked = {}
        for family in families:
            rows = np.flatnonzero((cells["target"] == target).to_numpy() & (cells["setting_name"] == family).to_numpy()
                                  & context.present)  # fmt: skip
            if not rows.size:
                continue
            scores = sign * decision.row_means(mat[np.ix_(rows, s_cols)])
            if not np.isfinite(scores).any():
                continue
            best = int(rows[int(np.nanargmax(scores))])
            picked[family] = best
            bests.append({"target": target, "family": family, "cells": int(rows.size), "setting": cells["setting"].iloc[best],
                          "cell_id": cells["cell_id"].iloc[best], "metric": metric,
                          "selection_mean": float(sign * np.nanmax(scores)),
                          "selection_prompts": int(np.isfinite(mat[best, s_cols]).sum())})  # fmt: skip
        held_values = [mat[row, h_cols] for row in picked.values()]
        for record, estimate in zip(bests[len(bests) - len(picked):], bootstrap_cis(held_values, **context.kw)):
            record.update(value=estimate.mean, ci_low=estimate.low, ci_high=estimate.high, n=estimate.n)
        combos = list(itertools.combinations(picked, 2))
        tests = paired_differences([(mat[picked[a], h_cols], mat[picked[b], h_cols]) for a, b in combos], **context.kw)
        adjusted = holm([t.p for t in tests]) if tests else np.array([])
        target_pairs = []
        for (a, b), test, p_holm in zip(combos, tests, adjusted):
            decided = bool(np.isfinite(p_holm) and p_holm < alpha)
            better = (a if sign * test.diff > 0 else b) if decided else ""
            target_pairs.append({"target": target, "family_a": a, "family_b": b, "setting_a": cells["setting"].iloc[picked[a]],
                                 "setting_b": cells["setting"].iloc[picked[b]], "metric": metric, "diff": test.diff,
                                 "diff_ci_low": test.low, "diff_ci_high": test.high, "n": test.n, "p": test.p,
                                 "p_holm": float(p_holm), "decided": better})  # fmt: skip
        pairs += target_pairs
        budgets = {record["family"]: record["cells"] for record in bests[len(bests) - len(picked):]}
        lines.append(_note(target, metric, goal, budgets, target_pairs, len(h_cols), alpha))
    return pd.DataFrame(bests, columns=BEST_COLS), pd.DataFrame(pairs, columns=PAIR_COLS), "\n".join(lines)


def _note(target: str, metric: str, goal: str, budgets: dict[str, int], pairs: list[dict], held: int, alpha: float) -> str:
    """One line per target: the family that beats every other, the pairs that differ, or that the
    data cannot decide; and whether the families had unequal budgets (cells)."""
    families = list(budgets)
    unequal = len(set(budgets.values())) > 1
    budget = f" (unequal budgets: {', '.join(f'{f} {n} cells' for f, n in budgets.items())})" if unequal else ""
    head = (f"{target}: sampler families on {metric} ({'higher' if goal == 'max' else 'lower'} is better){budget}, "
            f"bests picked on one half of the prompts, compared on the other {held}")
    if len(families) < 2:
        return f"{head}: fewer than two families have values; nothing to compare."
    decided = [pair for pair in pairs if pair["decided"]]
    if not decided:
        return f"{head}: the data cannot decide between {', '.join(families)} (no pair differs at Holm-adjusted p < {fnum(alpha)})."
    wins = {family: sum(pair["decided"] == family for pair in decided) for family in families}
    top = [family for family, count in wins.items() if count == len(families) - 1]
    differ = "; ".join(f"{pair['decided']} over {pair['family_b'] if pair['decided'] == pair['family_a'] else pair['family_a']} "
                       f"by {fnum(abs(pair['diff']))} (Holm p {fnum(pair['p_holm'])})" for pair in decided)  # fmt: skip
    undecided = len(pairs) - len(decided)
    rest = f"; {undecided} other pair(s) the data cannot decide" if undecided else ""
    if top:
        return f"{head}: {top[0]} is best, ahead of every other family ({differ})."
    return f"{head}: no family is ahead of every other; {differ}{rest}."
