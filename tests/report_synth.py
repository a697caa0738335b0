"""Synthetic data for the report's statistics tests: designs, per-prompt values, run directories.

Values go through the same code the report runs: ``reports.load.cell_table`` builds the cells,
``reports.tables.Context`` the per-prompt matrices, ``reports.build.statistics`` every table.
Run directories are written by the tests' one builder (``tests/run_dirs.py``), so
``build_report`` and ``reports.sample_size.sample_size`` read them like real runs.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from hfsweep.reports import build, tables
from hfsweep.core.records import LATER_SAMPLERS, SWEEPABLE
from hfsweep.reports.load import cell_table
from hfsweep.reports.options import resolve_options
from tests.run_dirs import completion, write_run

BASE = dict(temperature=1.0, top_k=0, top_p=1.0, frequency_penalty=0.0, presence_penalty=0.0, max_tokens=64, **LATER_SAMPLERS)
LEVELS = {"temperature": [0.3, 0.7, 1.0, 1.3], "top_k": [0, 20, 40, 80], "top_p": [0.8, 0.9, 0.95, 1.0],
          "presence_penalty": [0.0, 0.5, 1.0]}
DECODING = {  # conf/sweep/decoding.yaml
    "greedy": {"temperature": 0.0}, "pure": {"temperature": 1.0}, "t_0.9": {"temperature": 0.9},
    "top_k_40": {"top_k": 40}, "top_k_640": {"top_k": 640}, "top_k_40_t_0.7": {"top_k": 40, "temperature": 0.7},
    "nucleus_0.95": {"top_p": 0.95},
}


def _h(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def presets(named: dict[str, dict]) -> list[dict]:
    """Settings from named presets over :data:`BASE` (as ``sweep.presets``)."""
    return [dict(BASE, name=n, **over) for n, over in named.items()]


def grid(axes: dict[str, list]) -> list[dict]:
    """The full grid over ``axes`` (as ``sweep.grid``)."""
    names = list(axes)
    return [dict(BASE, name="", **dict(zip(names, vals))) for vals in itertools.product(*axes.values())]


def random_design(rng: np.random.Generator) -> tuple[str, list[dict]]:
    """A random design: a full grid, a grid with exclusions, or presets (1-2 parameters each)."""
    kind = ["grid", "exclusions", "presets"][int(rng.integers(3))]
    if kind == "presets":
        named = {}
        for i in range(int(rng.integers(4, 8))):
            params = rng.choice(list(LEVELS), size=int(rng.integers(1, 3)), replace=False)
            named[f"preset_{i}"] = {str(p): LEVELS[str(p)][int(rng.integers(len(LEVELS[str(p)])))] for p in params}
        settings = presets(named)
    else:
        params = rng.choice(list(LEVELS), size=int(rng.integers(2, 4)), replace=False)
        axes = {str(p): sorted(rng.choice(LEVELS[str(p)], size=int(rng.integers(2, 4)), replace=False).tolist())
                for p in params}
        settings = grid(axes)
        if kind == "exclusions":
            drop = rng.choice(len(settings), size=min(len(settings) - 3, int(rng.integers(1, 4))), replace=False)
            settings = [s for i, s in enumerate(settings) if i not in set(drop.tolist())]
    seen, out = set(), []
    for s in settings:  # the runner drops settings with the same parameters
        key = tuple(s[p] for p in SWEEPABLE)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return kind, out


def cells_frame(settings: list[dict], targets: list[str]) -> pd.DataFrame:
    """The report's cell table (``reports.load.cell_table``) for settings x targets."""
    rows = []
    for t in targets:
        for s in settings:
            params = {p: s[p] for p in SWEEPABLE}
            sid = _h(*params.values())
            rows.append(dict(cell_id=_h(t, sid), run_id="synthetic", setting_id=sid, setting_name=s.get("name", ""),
                             target_kind="endpoint", model=t, endpoint=None, provider=None, mode="text", **params))
    return cell_table(pd.DataFrame(rows))


def context(cells: pd.DataFrame, values: dict[str, np.ndarray], prompts: int, objective: dict | None = None,
            **opts) -> tables.Context:  # fmt: skip
    """A ``tables.Context`` from per-metric ``cells x prompts`` arrays (NaN = no value), with
    the run's ``objective`` (as its config.yaml would give it)."""
    pids = [f"p{i}" for i in range(prompts)]
    idx = pd.MultiIndex.from_product([cells["cell_id"], pids], names=["cell_id", "prompt_id"])
    wide = pd.DataFrame({m: np.asarray(v, dtype=float).reshape(-1) for m, v in values.items()}, index=idx)
    options = resolve_options(dict({"bootstrap_resamples": 100, "key_metrics": []}, **opts))
    return tables.Context(cells, wide, list(values), pids, options, objective)


def statistics(ctx: tables.Context) -> dict[str, pd.DataFrame]:
    """Every statistical table, as the report computes them."""
    return build.statistics(ctx, ctx.metrics[:1])[0]


def write_planted_run(out: Path, settings: list[dict], per_sample: dict[str, np.ndarray],
                      group: dict[str, np.ndarray] | None = None, model: str = "synthetic-model",
                      objective: dict | None = None) -> Path:  # fmt: skip
    """A run directory (``tests/run_dirs.py``) with completions, and scores and group scores as
    the scorer writes them, holding planted values: ``per_sample[m]`` is ``cells x prompts x
    samples``, ``group[m]`` ``cells x prompts``. ``objective`` goes to config.yaml, as a run's."""
    first = next(iter(per_sample.values()))
    n_cells, n_prompts, n_samples = first.shape
    comp, scores, groups = [], [], []
    for c, s in enumerate(settings):
        params = {p: s[p] for p in SWEEPABLE}
        sid = _h(*params.values())
        keys = dict(run_id="synthetic", cell_id=_h(model, sid), setting_id=sid, setting_name=s.get("name", ""),
                    target_kind="endpoint", model=model, mode="text", **params)
        for p in range(n_prompts):
            for k in range(n_samples):
                text = f"synthetic text {c} {p} {k} " + " ".join(["word"] * (k + 3))
                comp.append(completion(**keys, seed=k, prompt_id=f"p{p}", prompt=f"prompt {p}", sample_index=k, text=text,
                                       finish_reason="stop", prompt_tokens=5, completion_tokens=len(text.split()),
                                       cache_key=_h(sid, p, k)))  # fmt: skip
                scores.append(dict(**keys, prompt_id=f"p{p}", sample_index=k, seed=k, finish_reason="stop",
                                   **{m: float(v[c, p, k]) for m, v in per_sample.items()}))
            groups.append(dict(**keys, prompt_id=f"p{p}", n_samples=n_samples,
                               **{m: float(v[c, p]) for m, v in (group or {}).items()}))
    config = {"model": {"id": model}, "samples": n_samples, **({"objective": objective} if objective else {})}
    return write_run(out, comp, scores=scores, group_scores=groups, config=config,
                     summary={"run_id": "synthetic", "wall_s": 1.0, "warnings": []})
