"""Which part of a sweep's design supports a per-parameter effect.

A parameter's effect is only defined where its levels are compared at the same values of the
other parameters. Averaging a level over whichever cells have it mixes in the other
parameters: on the ``decoding`` presets the only cell at temperature 0.7 also has top_k 40,
so a top_k effect shows up as a temperature effect.

For a *factor* (one parameter, or two for a heatmap) and one target's cells:

* a *context* is one combination of the other swept parameters' values;
* the *crossed part* is the largest block of cells ``levels x contexts`` in which every level
  of the block appears in every context of the block (largest = most cells; ties: more
  levels, then the lower levels). It needs at least 2 levels; a factor without one (e.g. a
  preset that changes two parameters at once) has no per-parameter effect.

Only the part's cells enter effects, Friedman tests and heatmaps (``reports.tables``); there a
level's value for a prompt is the mean over the part's contexts, and a prompt missing any cell
of the part is dropped (complete blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from hfsweep.reports.load import _fmt_value

MAX_CANDIDATES = 5000  # level sets tried per factor; real sweeps have a handful


def _key(v):
    """A hashable, sortable parameter value: NaN/None (server default) -> None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _sort_key(level: tuple):
    return tuple((x is None, 0 if x is None else x) for x in level)


@dataclass(frozen=True)
class Part:
    """The crossed part of one factor: ``cell_ids[i, j]`` is the cell at ``levels[i]`` in
    ``contexts[j]`` (``levels`` sorted, ``contexts`` in grid order)."""

    factor: tuple[str, ...]
    others: tuple[str, ...]
    levels: list[tuple]
    contexts: list[tuple]
    cell_ids: np.ndarray

    @property
    def held(self) -> str:
        """What the other parameters do in the part, in words.

        >>> Part(("top_k",), ("temperature", "top_p"), [(0,), (40,)], [(1.0, 1.0)], np.array([["a"], ["b"]])).held
        'temperature=1, top_p=1'
        """
        if not self.others:
            return "nothing else swept"
        if len(self.contexts) == 1:
            return ", ".join(f"{p}={_fmt_value(v)}" for p, v in zip(self.others, self.contexts[0]))
        varying = [p for i, p in enumerate(self.others) if len({c[i] for c in self.contexts}) > 1]
        fixed = [f"{p}={_fmt_value(self.contexts[0][i])}" for i, p in enumerate(self.others) if p not in varying]
        text = f"mean over {len(self.contexts)} combinations of {', '.join(varying)}"
        return text + (f" at {', '.join(fixed)}" if fixed else "")


def crossed_part(cells: pd.DataFrame, factor: Sequence[str], others: Sequence[str]) -> Part | None:
    """The crossed part of ``factor`` among ``cells`` (one target's cells, one row per cell,
    columns ``cell_id`` and the parameters), or None if no two levels share a context.

    Decoding presets (greedy, pure, t_0.9, top_k_40, top_k_640, top_k_40_t_0.7, nucleus_0.95):
    temperature is crossed only at top_k 0, top_p 1; temperature 0.7 is outside the part.

    >>> presets = pd.DataFrame({"cell_id": ["g", "p", "t9", "k40", "k640", "k40t7", "n95"],
    ...     "temperature": [0, 1, .9, 1, 1, .7, 1], "top_k": [0, 0, 0, 40, 640, 40, 0],
    ...     "top_p": [1, 1, 1, 1, 1, 1, .95]})
    >>> part = crossed_part(presets, ["temperature"], ["top_k", "top_p"])
    >>> part.levels, part.held, part.cell_ids.tolist()
    ([(0.0,), (0.9,), (1.0,)], 'top_k=0, top_p=1', [['g'], ['t9'], ['p']])
    >>> crossed_part(presets, ["top_k"], ["temperature", "top_p"]).cell_ids.tolist()
    [['p'], ['k40'], ['k640']]

    A grid with one cell excluded: the two levels that appear everywhere, in both contexts.

    >>> grid = pd.DataFrame({"cell_id": ["a", "b", "c", "d", "e"], "temperature": [0.7, 1, 0, 0.7, 1],
    ...                      "top_p": [0.9, 0.9, 1, 1, 1]})
    >>> part = crossed_part(grid, ["temperature"], ["top_p"])
    >>> part.levels, part.held
    ([(0.7,), (1.0,)], 'mean over 2 combinations of top_p')

    Two presets that each change a different parameter: nothing is crossed.

    >>> crossed_part(pd.DataFrame({"cell_id": ["x", "y"], "temperature": [0.7, 1], "top_k": [0, 40]}),
    ...              ["temperature"], ["top_k"]) is None
    True
    """
    factor, others = tuple(factor), tuple(others)
    at: dict[tuple, dict[tuple, str]] = {}  # context -> level -> cell_id (first cell if repeated)
    for r in cells[["cell_id", *factor, *others]].itertuples(index=False):
        level = tuple(_key(v) for v in r[1:1 + len(factor)])
        context = tuple(_key(v) for v in r[1 + len(factor):])
        at.setdefault(context, {}).setdefault(level, r[0])
    sets = [frozenset(levels) for levels in at.values()]
    candidates = {s for s in sets if len(s) >= 2}
    frontier = list(candidates)
    while frontier and len(candidates) < MAX_CANDIDATES:  # close under intersection
        new = []
        for a in frontier:
            for b in list(candidates):
                both = a & b
                if len(both) >= 2 and both not in candidates:
                    candidates.add(both)
                    new.append(both)
        frontier = new
    best, best_score = None, None
    for cand in sorted(candidates, key=lambda s: sorted(map(_sort_key, s))):
        n_ctx = sum(cand <= s for s in sets)
        score = (len(cand) * n_ctx, len(cand))
        if best_score is None or score > best_score:
            best, best_score = cand, score
    if best is None:
        return None
    levels = sorted(best, key=_sort_key)
    contexts = [c for c, s in zip(at, sets) if best <= s]
    ids = np.array([[at[c][lv] for c in contexts] for lv in levels], dtype=object)
    return Part(factor, others, levels, contexts, ids)


def design_table(cells: pd.DataFrame, swept: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """Per target and swept parameter: its levels, the crossed part and what is left out.

    Returns (table, parts) with ``parts[(target, parameter)]`` the :class:`Part` or None.
    Parameters that take one value for a target are skipped for it.
    """
    rows, parts = [], {}
    for t, tc in cells.groupby("target", sort=False):
        for p in swept:
            levels = sorted({_key(v) for v in tc[p]}, key=lambda v: _sort_key((v,)))
            if len(levels) < 2:
                continue
            others = [q for q in swept if q != p and tc[q].nunique(dropna=False) > 1]
            part = crossed_part(tc, [p], others)
            parts[(t, p)] = part
            fmt = lambda vs: ", ".join(_fmt_value(v) or "default" for v in vs)  # noqa: E731
            if part is None:
                rows.append((t, p, fmt(levels), "", 0, "", 0, len(tc),
                             f"no two levels of {p} appear with the same values of {', '.join(others)}: "
                             "no per-parameter effect; the settings are compared pairwise (setting_pairs)"))
                continue
            inside = [lv[0] for lv in part.levels]
            out = [v for v in levels if v not in inside]
            used = part.cell_ids.size
            note = f"level(s) {fmt(out)} outside the crossed part" if out else ""
            if used < len(tc) and not out:
                note = f"{len(tc) - used} cell(s) outside the crossed part"
            rows.append((t, p, fmt(levels), fmt(inside), len(part.contexts), part.held, used, len(tc), note))
    cols = ["target", "parameter", "levels", "part_levels", "contexts", "held", "cells_used", "cells", "note"]
    return pd.DataFrame(rows, columns=cols), parts
