"""Adaptive, budgeted search: the best cell for the objective for a fraction of the grid.

Every request still goes through the runner (:func:`sweeps.runner.execute`): the cache, so a
re-run or a wider grid sends only what is new; retries; concurrency; and resume, since a
killed search re-run from the start replays its rounds from the cache and takes the same
decisions (the prompt order is fixed by the seed). Each round is logged in ``search.jsonl``.

* ``halving``: round 1 runs every cell on ``initial_prompts`` prompts; each round keeps the best
  1/eta of the cells that can still meet the constraints and doubles the prompts. A cell
  outside the best 1/eta is dropped only when the data say so: the upper confidence bound of
  its paired difference from the leader (per prompt, spread pooled over the comparisons) is
  below 0, or a constraint's confidence bound is on the wrong side. Ties carry on.
* ``sequential``: each round adds ``initial_prompts`` prompts (default 5) to every cell whose
  paired comparison with the leader (one-sided t on the pooled SD, BH-adjusted) is not decided,
  and to the leader while its CI half-width is above ``precision``.

The budget counts the search's requests (cached or not, so it is the same on a re-run) and the
completion tokens the server reported; a round is cut to what the budget still allows (tokens
are bounded by ``max_tokens`` per request before they are known), so neither is ever exceeded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from scipy.stats import false_discovery_control
from scipy.stats import t as student_t

from hfsweep.core import records
from hfsweep.core.estimates import Estimate
from hfsweep.core.objective import Constraint, constraints
from hfsweep.evaluators.scoring import score_completions
from hfsweep.sweeps.plan import Job, Plan, objective_metric


def estimate(values: list[float], confidence: float, sd: float | None = None, df: int = 0) -> Estimate:
    """Mean over prompts with a Student-t CI; ``sd`` (with ``df``): a spread pooled over cells,
    steadier than one cell's own on a few prompts (two prompts that happen to agree give an SD
    of 0). Infinite with fewer than 2 values.

    >>> e = estimate([0.5, 0.7, 0.6], 0.95)
    >>> round(e.mean, 3), round(e.high - e.mean, 3)
    (0.6, 0.248)
    """
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return Estimate(math.nan, -math.inf, math.inf, 0, se=math.inf)
    mean = statistics.fmean(finite)
    if len(finite) < 2:
        return Estimate(mean, -math.inf, math.inf, len(finite), se=math.inf)
    spread, df = (statistics.stdev(finite), len(finite) - 1) if sd is None else (sd, max(df, 1))
    se = spread / math.sqrt(len(finite))
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    return Estimate(mean, mean - half, mean + half, len(finite), se=se, df=df)


def pooled_sd(rows: list[list[float]]) -> tuple[float | None, int]:
    """The per-prompt SD pooled over cells, and its degrees of freedom (None, 0 when no cell
    has two values).

    >>> sd, df = pooled_sd([[0, 1], [1, 1], [0.5]])
    >>> round(sd, 3), df
    (0.5, 2)
    """
    finite = [f for f in ([v for v in r if not math.isnan(v)] for r in rows) if len(f) >= 2]
    if not finite:
        return None, 0
    df = sum(len(f) - 1 for f in finite)
    return math.sqrt(sum(statistics.variance(f) * (len(f) - 1) for f in finite) / df), df


@dataclass
class SearchState:
    metric: str
    goal: str
    constraints: list[Constraint]
    order: list[str]  # prompt ids, in the seeded order rounds take them
    alive: list[str]  # cell ids still sampled
    dropped: dict[str, str] = field(default_factory=dict)  # cell id -> the evidence
    log: list[dict] = field(default_factory=list)
    requests: int = 0
    tokens: int = 0
    stopped: str = ""


def _values(rows: list[dict], plan: Plan, names: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """metric -> cell id -> prompt id -> the prompt's value (mean over samples, or the group metric)."""


    checks = {p.id: getattr(p, "checks", ()) for p in plan.prompts}
    scores, groups = score_completions(pd.DataFrame(rows), names, checks)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        table = groups if name in groups else scores
        if name not in table or table.empty:
            out[name] = {}
            continue
        means = table.groupby(["cell_id", "prompt_id"])[name].mean()
        out[name] = {}
        for (cell, prompt), value in means.items():
            out[name].setdefault(cell, {})[prompt] = float(value)
    return out


def _row(values: dict, cell: str, prompts: list[str]) -> list[float]:
    return [values.get(cell, {}).get(p, math.nan) for p in prompts]


def _violates(est: Estimate, op: str, value: float) -> bool:
    """The constraint's bound is on the wrong side: the cell cannot meet it."""
    if op in (">=", ">"):
        return est.high < value if op == ">=" else est.high <= value
    return est.low > value if op == "<=" else est.low >= value


def _estimates(values: dict, cells: list[str], prompts: list[str], confidence: float) -> dict[str, Estimate]:
    rows = {c: _row(values, c, prompts) for c in cells}
    sd, df = pooled_sd(list(rows.values()))
    return {c: estimate(row, confidence, sd, df) for c, row in rows.items()}


def _differences(values: dict, leader: str, cells: list[str], prompts: list[str], goal: str, confidence: float) -> dict[str, Estimate]:
    """Per cell: the paired per-prompt difference cell - leader (sign so that < 0 is worse),
    with its spread pooled over the comparisons."""
    lead = _row(values, leader, prompts)
    sign = 1 if goal == "max" else -1
    diffs = {c: [sign * (a - b) for a, b in zip(_row(values, c, prompts), lead)] for c in cells if c != leader}
    sd, df = pooled_sd(list(diffs.values()))
    return {c: estimate(d, confidence, sd, df) for c, d in diffs.items()}


def decide(state: SearchState, values: dict, prompts: list[str], confidence: float, eta: int, sequential: bool) -> dict:
    """One round's decisions: who is dropped (and why), who leads. Mutates ``state``."""
    metric, goal, alpha = state.metric, state.goal, 1 - confidence
    est = _estimates(values[metric], state.alive, prompts, confidence)
    bounds = {name: _estimates(values[name], state.alive, prompts, confidence) for name, _, _ in state.constraints}
    feasible = []
    for cell in state.alive:
        for name, op, value in state.constraints:
            bound = bounds[name][cell]
            if _violates(bound, op, value):
                state.dropped[cell] = f"{name} {op} {value} cannot hold: CI {bound.low:.3g} to {bound.high:.3g} over {bound.n} prompts"
                break
        else:
            feasible.append(cell)
    if not feasible:
        state.alive = []
        return {"leader": None}
    meeting = [c for c in feasible
               if all(constraint.met(bounds[constraint.metric][c].mean) for constraint in state.constraints)] or feasible
    ranked = sorted(feasible, key=lambda c: (-est[c].mean if goal == "max" else est[c].mean) if not math.isnan(est[c].mean) else math.inf)
    leader = next(c for c in ranked if c in meeting)
    keep = set(ranked[: max(1, math.ceil(len(feasible) / eta))]) if not sequential else set(feasible)
    worse = _paired_worse(values[metric], leader, feasible, prompts, goal, alpha) if sequential else {}
    diffs = {} if sequential else _differences(values[metric], leader, feasible, prompts, goal, confidence)
    for cell in feasible:
        if cell == leader or (cell in keep and not sequential):
            continue
        d = diffs.get(cell)
        if d is not None and d.high < 0:
            state.dropped[cell] = (f"{metric} worse than the leader: paired difference {d.mean:+.3g}, "
                                   f"{confidence:.0%} CI up to {d.high:+.3g}, over {d.n} prompts")  # fmt: skip
        elif cell in worse:
            state.dropped[cell] = worse[cell]
    state.alive = [c for c in state.alive if c not in state.dropped]
    return {"leader": leader, "estimates": {c: [est[c].mean, est[c].low, est[c].high, est[c].n] for c in est}}


def _paired_worse(values: dict, leader: str, cells: list[str], prompts: list[str], goal: str, alpha: float) -> dict[str, str]:
    """Cells the paired test says are worse than the leader: the per-prompt difference's mean
    over its SD pooled over the comparisons (Student t; a pooled SD keeps its power on a few
    prompts, where a signed-rank test cannot reach p < 0.05 below 5 prompts), one-sided,
    Benjamini-Hochberg over the comparisons."""
    diffs = _differences(values, leader, cells, prompts, goal, 1 - alpha)
    tests = []
    for cell, d in diffs.items():
        if d.n < 2 or not math.isfinite(d.se):
            continue
        p = float(student_t.cdf(d.mean / d.se, d.df)) if d.se > 0 else (0.0 if d.mean < 0 else 1.0)
        tests.append((cell, p, d))
    if not tests:
        return {}
    adjusted = false_discovery_control([p for _, p, _ in tests])
    return {cell: f"paired difference {d.mean:+.3g} over {d.n} prompts, one-sided t on the pooled SD: p_BH {q:.3g}"
            for (cell, _, d), q in zip(tests, adjusted) if q < alpha}  # fmt: skip


def run_search(plan: Plan, run_dir: Path, run_id: str, execute) -> tuple[list[dict], object, bool, float, dict]:
    """Run the plan's search; returns (rows, runner stats of the last round, interrupted, wall
    seconds, the search summary). ``execute`` is :func:`sweeps.runner.execute`."""
    config = plan.config
    search = config.search

    metric = objective_metric(plan)
    order = [p.id for p in plan.prompts]
    random.Random(config.sampling.seed).shuffle(order)
    cells = [cell.id for cell in plan.cells]
    rounds = max(1, math.ceil(math.log(max(len(cells), 2), search.eta)))
    # halving: enough prompts for its rounds; sequential: steps of 5 (its BH-adjusted test, run after
    # every step, dropped the best cell in 2% of simulated searches with steps of 3, 0.5% with 5)
    least = 5 if search.strategy == "sequential" else 3
    first = min(len(order), search.initial_prompts or max(least, math.ceil(len(order) / 2 ** rounds)))
    state = SearchState(metric, config.objective.goal, constraints(config.objective), order, cells)
    names = sorted({metric, *(constraint.metric for constraint in state.constraints)})
    rows: dict[tuple, dict] = {}
    stats, interrupted, wall, n = None, False, 0.0, first
    while True:
        taken = set(order[:n])
        wanted = [j for j in plan.jobs if j.cell.id in state.alive and j.prompt.id in taken
                  and (j.cell.id, j.prompt.id, j.sample_index) not in rows]  # fmt: skip
        wanted, cut = _within_budget(wanted, state, search.budget)
        if wanted:
            new, round_stats, interrupted, seconds = execute(plan, wanted, run_dir, run_id, records.COMPLETIONS_JSONL)
            stats = round_stats if stats is None else _add(stats, round_stats)
            wall += seconds
            for row in new:
                rows[(row["cell_id"], row["prompt_id"], row["sample_index"])] = row
            state.requests += len(wanted)
            state.tokens += sum(r["completion_tokens"] or 0 for r in new)
        if interrupted:
            state.stopped = "interrupted"
            break
        values = _values(list(rows.values()), plan, names)
        alive_before = list(state.alive)
        result = decide(state, values, order[:n], search.confidence, search.eta, search.strategy == "sequential")
        sent = Counter(j.cell.id for j in wanted)
        state.log.append({"round": len(state.log) + 1, "prompts": n, "requests": len(wanted),
                          "cell_requests": {c: sent[c] for c in alive_before}, "total_requests": state.requests,
                          "total_tokens": state.tokens, "alive": alive_before, "dropped": {c: state.dropped[c] for c in alive_before
                          if c in state.dropped}, **result})  # fmt: skip
        leader = result.get("leader")
        if cut:
            state.stopped = "budget"
        elif leader is None:
            state.stopped = "no cell can meet the constraints"
        elif len(state.alive) == 1:
            state.stopped = "one cell left"
        elif n >= len(order) and search.strategy == "halving":
            state.stopped = "every prompt used; the remaining cells are not distinguishable"
        elif search.strategy == "sequential" and _sequential_done(state, leader, search.precision):
            state.stopped = "every comparison decided"
        elif n >= len(order):
            state.stopped = "every prompt used"
        if state.stopped:
            break
        n = min(2 * n if search.strategy == "halving" else n + first, len(order))
    full = len(plan.jobs)
    summary = {"strategy": search.strategy, "metric": metric, "goal": state.goal, "rounds": len(state.log),
               "requests": state.requests, "tokens": state.tokens, "full_grid_requests": full,
               "share_of_grid": round(state.requests / full, 4) if full else None, "stopped": state.stopped,
               "leader": state.log[-1].get("leader") if state.log else None, "alive": state.alive, "dropped": state.dropped}  # fmt: skip
    with (run_dir / records.SEARCH_LOG).open("w", encoding="utf-8") as handle:
        for entry in state.log:
            handle.write(json.dumps(entry) + "\n")
    return list(rows.values()), stats, interrupted, wall, summary


def _add(total, more):
    """Runner counts of two rounds together (the lowest concurrency either reached)."""
    summed = {f.name: getattr(total, f.name) + getattr(more, f.name) for f in dataclasses.fields(total) if f.name != "min_limit"}
    return dataclasses.replace(total, **summed, min_limit=min(total.min_limit or more.min_limit, more.min_limit or total.min_limit))


def _sequential_done(state: SearchState, leader: str, precision: float | None) -> bool:
    if len(state.alive) > 1:
        return False
    if precision is None:
        return True
    mean, low, high, _ = state.log[-1]["estimates"][leader]
    return (high - low) / 2 <= precision


def _within_budget(jobs: list[Job], state: SearchState, budget) -> tuple[list[Job], bool]:
    """The jobs the budget still allows (in order), and whether it cut any."""
    allowed = len(jobs)
    if budget.requests is not None:
        allowed = min(allowed, max(0, budget.requests - state.requests))
    if budget.tokens is not None:
        room, count = budget.tokens - state.tokens, 0
        for job in jobs[:allowed]:
            room -= job.request.params["max_tokens"]
            if room < 0:
                break
            count += 1
        allowed = count
    return jobs[:allowed], allowed < len(jobs)
