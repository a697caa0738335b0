"""Adaptive, budgeted search: the best cell for the objective for a fraction of the grid.

Every request still goes through the runner (:func:`sweeps.runner.execute`): the cache, so a
re-run or a wider grid sends only what is new; retries; concurrency; and resume, since a
killed search re-run from the start replays its rounds from the cache and takes the same
decisions (the prompt order is fixed by the seed). Each round is logged in ``search.jsonl``.

Each look at the data decides by the report's own rule (:func:`hfsweep.core.decision.decide`):
a cell is dropped when one of its constraints cannot hold at its one-sided bound, or when it is
significantly worse (one-sided paired t) than the best cell whose constraints hold; cells whose
constraints are undecided are kept and sampled, never crowned. Every bound and test is at the
level ``(1 - search.confidence) / (cells x looks)``, so over the whole search a cell that could
still be feasible and best is dropped at most at the stated error rate, allowing for the best
being the luckiest of many noisy cells.

A cell that is not dropped may **wait**: when its chance of beating the best cell whose
constraints hold (:func:`beat_chance`: both means normal around their estimates, on the shrunk
SDs), times its chance of meeting the constraints (:func:`feasible_chance`), is below
``1 - search.confidence``, the next look does not sample it. That is where the
prompts go, not a claim about the cell: it stays a candidate with the prompts it has, and the
first look at which its chance is back above that samples it again, on every prompt it missed.
Each look after the first samples at most ``1/search.eta`` as many cells as the one before (never
fewer than ``eta``; :func:`widths`): the leaders (the best cell and the rule's choice), then the
others by that chance, a cell left out at one look ranked again at the next (:func:`to_sample`).
That is successive halving's step as a priority, not a drop: the prompts go deep on few cells
early, which the choice needs (a cell on 24 prompts has a bound one on 4 cannot reach). The
chances also order a look's requests, the best cell first, so a round cut by the budget spends
it on the cells most likely to win. The strategies differ only in how many prompts each look
takes (:func:`schedule`):

* ``halving``: the first look takes ``initial_prompts`` prompts (default: enough for
  log_eta(cells) doublings of the prompt set, at least 2), and each look doubles them.
* ``sequential``: each look adds ``initial_prompts`` prompts (the same default); with
  ``precision`` the last cell is sampled on until its CI half-width is at most that.

The search's leader is the rule's choice at the last look; the report recommends by the same
rule on the same data (the dropped cells are not candidates), at the same level (``looks``).

The budget counts the search's requests (cached or not, so it is the same on a re-run) and the
completion tokens the server reported, and with ``runner.price`` their cost (copies of greedy
samples cost nothing); a round is cut to what the budget still allows (tokens are bounded by
``max_tokens`` per request before they are known, a cost by :func:`hfsweep.core.usage.request_bound`),
so none is ever exceeded. A cut round does not end the search while the budget still allows a
request: the next look asks again for what was cut, with the spend known so far.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hfsweep.core import decision, records, usage
from hfsweep.core.objective import GOALS, Constraint, constraints
from hfsweep.evaluators.scoring import score_completions
from hfsweep.sweeps.plan import Job, Plan, objective_metric


@dataclass
class SearchState:
    metric: str
    goal: str
    constraints: list[Constraint]
    order: list[str]  # prompt ids, in the seeded order rounds take them
    alive: list[str]  # cell ids not dropped
    waiting: dict[str, str] = field(default_factory=dict)  # alive cells the next look skips -> why (a priority, not a claim)
    dropped: dict[str, str] = field(default_factory=dict)  # cell id -> the evidence
    log: list[dict] = field(default_factory=list)
    requests: int = 0
    tokens: int = 0
    cost: float = 0.0  # dollars of the requests made, at runner.price (copies excluded)
    prompt_tokens: dict[str, int] = field(default_factory=dict)  # prompt id -> the most prompt tokens seen for it
    stopped: str = ""
    chance: dict[str, float] = field(default_factory=dict)  # live cell -> its chance of beating the best and meeting the constraints (the next look's priority)
    leaders: tuple[str, ...] = ()  # the best cell whose constraints hold and the rule's choice: sampled at every look


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


def _rows(values: dict, cells: list[str], prompts: list[str]) -> np.ndarray:
    return np.array([[values.get(cell, {}).get(p, math.nan) for p in prompts] for cell in cells], dtype=float).reshape(len(cells), len(prompts))


def decide(state: SearchState, values: dict, prompts: list[str], confidence: float, *, looks: int, cells: int,
           complexity: dict[str, int]) -> dict:  # fmt: skip
    """One look's decisions by the report's rule (:func:`hfsweep.core.decision.decide`, at the
    level of ``cells`` cells and ``looks`` looks): a cell is dropped when one of its constraints
    cannot hold at its bound, or when it is significantly worse than the best cell whose
    constraints hold. The leader is the rule's choice (None while no cell's constraints hold).
    Mutates ``state``."""
    alive = list(state.alive)
    objective = _rows(values[state.metric], alive, prompts)
    constrained = [(c, _rows(values[c.metric], alive, prompts)) for c in state.constraints]
    d = decision.decide(objective, state.goal, constrained, confidence, looks=looks, cells=cells,
                        complexity=np.array([complexity[c] for c in alive]))  # fmt: skip
    n = np.isfinite(objective).sum(axis=1)
    for i, cell in enumerate(alive):
        if d.cannot[i]:
            c = next(c for c, missed in d.misses.items() if missed[i])
            state.dropped[cell] = (f"{c} cannot hold: its one-sided bound misses it at level {d.level:.2g} "
                                   f"over {int(n[i])} prompts ({d.family})")  # fmt: skip
        elif d.worse[i]:
            diff = GOALS[state.goal] * (d.means[i] - d.means[d.best])
            state.dropped[cell] = (f"{state.metric} worse than the best cell meeting the constraints: paired difference "
                                   f"{diff:+.3g} over {int(n[i])} prompts, one-sided paired t p {d.p[i]:.2g} < "
                                   f"{d.level:.2g} ({d.family})")  # fmt: skip
    state.alive = [c for c in state.alive if c not in state.dropped]
    state.waiting, state.chance = {}, {}
    state.leaders = tuple(dict.fromkeys(alive[i] for i in (d.best, d.chosen) if i is not None and alive[i] in state.alive))
    if d.best is not None:  # wait: too little chance of beating the best's mean and meeting the constraints
        chance = beat_chance(objective, d.best, GOALS[state.goal]) * feasible_chance(constrained, len(alive))
        for i, cell in enumerate(alive):
            if cell not in state.alive:
                continue
            state.chance[cell] = float(chance[i])
            if i not in (d.best, d.chosen) and chance[i] < 1 - confidence:
                state.waiting[cell] = (f"{state.metric} mean {d.means[i]:.3g} over {int(n[i])} prompts: chance {chance[i]:.2g} "
                                       f"of beating the best's {d.means[d.best]:.3g}" + (" and meeting the constraints" if constrained else "")
                                       + f", below {1 - confidence:.0%}: not sampled further, not shown worse")  # fmt: skip
    means, low, high = decision.intervals(objective, confidence)
    leader = None if d.chosen is None else alive[d.chosen]
    return {"leader": leader, "tied": [alive[i] for i in np.flatnonzero(d.tied)], "level": d.level,
            "estimates": {c: [means[i], low[i], high[i], int(n[i])] for i, c in enumerate(alive)}}  # fmt: skip


def beat_chance(rows: np.ndarray, reference: int, sign: float) -> np.ndarray:
    """Per row: the chance its true mean is beyond the ``reference`` row's (``sign`` +1: higher
    is better), with each mean normal around its estimate with the shrunk SD over sqrt(prompts)
    (:func:`hfsweep.core.decision.shrunk`): ``Phi(sign (m_i - m_ref) / sqrt(se_i^2 + se_ref^2))``.
    1 for the reference and for a row without a value. A priority for the next look, not a test:
    the normal quantile where the drops use Student t, and the rows unpaired (a prompt effect
    shared by both rows widens the spread, so the chance errs high).

    >>> [round(float(c), 3) for c in beat_chance(np.array([[1.0, 1.0, 0.5], [0.5, 0.0, 0.5], [1.0, 0.5, 1.0]]), 0, 1.0)]
    [1.0, 0.017, 0.5]
    """
    means, sds, n = decision.shrunk(rows)  # NaN mean and SD for a row without a value
    spread = sds**2 / np.maximum(n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        chance = stats.norm.cdf(sign * (means - means[reference]) / np.sqrt(spread + spread[reference]))
    chance[~np.isfinite(chance)] = 1.0  # no value, or equal means without spread
    chance[reference] = 1.0
    return chance


def feasible_chance(constrained: list[tuple[Constraint, np.ndarray]], count: int) -> np.ndarray:
    """Per row (``count`` of them): the chance its true means meet every constraint, each normal around its estimate
    with the shrunk SD over sqrt(prompts), the constraints taken as independent:
    ``prod Phi(s (m - value) / se)``, ``s`` +1 for ``>=``. 1 without constraints or a value; a
    priority like :func:`beat_chance`, not a test.

    >>> rate = np.array([[1.0, 1.0, 2 / 3, 1.0], [2 / 3, 1 / 3, 2 / 3, 1.0], [1 / 3, 0.0, 1 / 3, 0.0]])
    >>> [round(float(c), 3) for c in feasible_chance([(Constraint.parse("pass_rate >= 0.85"), rate)], 3)]
    [0.771, 0.079, 0.0]
    """
    out = np.ones(count)
    for constraint, rows in constrained:
        means, sds, n = decision.shrunk(rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            chance = stats.norm.cdf(constraint.sign * (means - constraint.value) / (sds / np.sqrt(np.maximum(n, 1))))
        chance[~np.isfinite(chance)] = 1.0  # no value, or a mean on the value without spread
        out *= chance
    return out


def to_sample(state: SearchState, missing: set[str], width: int) -> set[str]:
    """The cells a look samples: the leaders, and the best ``width`` of the live cells not
    waiting that miss one of the look's prompts, ranked by their chance of beating the best;
    every such cell while no chance is known (the first look, or no cell's constraints hold yet).

    >>> state = SearchState("pass_rate", "max", [], [], ["A", "B", "C", "D", "E"], waiting={"E": "behind"},
    ...                     chance={"A": 1.0, "B": 0.2, "C": 0.6, "D": 0.4, "E": 0.01}, leaders=("A",))
    >>> sorted(to_sample(state, {"A", "B", "C", "D", "E"}, 2)), sorted(to_sample(state, {"B", "C", "D"}, 2))
    (['A', 'C'], ['C', 'D'])
    >>> sorted(to_sample(SearchState("pass_rate", "max", [], [], ["A", "B", "C"]), {"A", "B", "C"}, 1))  # no chance known
    ['A', 'B', 'C']
    """
    ranked = [c for c in state.alive if c not in state.waiting and c in missing]
    if not state.chance:
        return set(ranked)
    ranked.sort(key=lambda c: (c not in state.leaders, -state.chance.get(c, 1.0)))
    return {c for c in ranked if c in state.leaders} | set(ranked[:width])


def widths(cells: int, looks: int, eta: int) -> list[int]:
    """How many cells each look samples at most (the leaders besides): every cell at the first
    look, then ``1/eta`` of the previous look's number (rounded up), never fewer than ``eta``.

    >>> widths(48, 5, 3), widths(200, 4, 3)
    ([48, 16, 6, 3, 3], [200, 67, 23, 8])
    """
    out = [cells]
    while len(out) < looks:
        out.append(max(min(eta, cells), math.ceil(out[-1] / eta)))
    return out


def schedule(strategy: str, prompts: int, first: int) -> list[int]:
    """The prompts each look takes: halving doubles them, sequential adds ``first`` at a time.

    >>> schedule("halving", 24, 3), schedule("sequential", 16, 5)
    ([3, 6, 12, 24], [5, 10, 15, 16])
    """
    steps = [min(first, prompts)]
    while steps[-1] < prompts:
        steps.append(min(2 * steps[-1] if strategy == "halving" else steps[-1] + first, prompts))
    return steps


def run_search(plan: Plan, run_dir: Path, run_id: str, execute) -> tuple[list[dict], object, bool, float, dict]:
    """Run the plan's search; returns (rows, runner stats of the last round, interrupted, wall
    seconds, the search summary). ``execute`` is :func:`sweeps.runner.execute`."""
    config = plan.config
    search = config.search

    metric = objective_metric(plan)
    order = [p.id for p in plan.prompts]
    random.Random(config.sampling.seed).shuffle(order)
    position = {prompt: i for i, prompt in enumerate(order)}
    cells = [cell.id for cell in plan.cells]
    rounds = max(1, math.ceil(math.log(max(len(cells), 2), search.eta)))
    # halving: enough prompts for its rounds (at least 2); sequential: steps of as many
    first = min(len(order), search.initial_prompts or max(2, math.ceil(len(order) / 2 ** rounds)))
    looks = schedule(search.strategy, len(order), first)
    width = dict(zip(looks, widths(len(cells), len(looks), search.eta)))
    params = {job.cell.id: job.request.params for job in plan.jobs}
    complexity = dict(zip(cells, decision.simplicity([params.get(c, {}) for c in cells]).tolist()))
    state = SearchState(metric, config.objective.goal, constraints(config.objective), order, cells)
    names = sorted({metric, *(constraint.metric for constraint in state.constraints)})
    rows: dict[tuple, dict] = {}
    stats, interrupted, wall = None, False, 0.0
    for n in looks:
        taken = set(order[:n])
        missing = [j for j in plan.jobs if j.prompt.id in taken and (j.cell.id, j.prompt.id, j.sample_index) not in rows]
        sampled = to_sample(state, {j.cell.id for j in missing}, width[n])
        wanted = [j for j in missing if j.cell.id in sampled]
        # the most promising cells first (the best, then by chance of beating it), each on its prompts in order:
        # what a round cut by the budget keeps (before any chance is known, every cell's next prompt, in grid order)
        wanted.sort(key=lambda j: (-state.chance.get(j.cell.id, 1.0), position[j.prompt.id]))
        wanted, cut = _within_budget(wanted, state, search.budget, config.runner.price)
        if wanted:
            new, round_stats, interrupted, seconds = execute(plan, wanted, run_dir, run_id, records.COMPLETIONS_JSONL)
            stats = round_stats if stats is None else _add(stats, round_stats)
            wall += seconds
            for row in new:
                rows[(row["cell_id"], row["prompt_id"], row["sample_index"])] = row
            state.requests += len(wanted)
            state.tokens += sum(r["completion_tokens"] or 0 for r in new)
            _count_cost(state, new, config.runner.price)
        if interrupted:
            state.stopped = "interrupted"
            break
        values = _values(list(rows.values()), plan, names)
        alive_before = list(state.alive)
        result = decide(state, values, order[:n], search.confidence, looks=len(looks), cells=len(cells), complexity=complexity)
        sent = Counter(j.cell.id for j in wanted)
        state.log.append({"round": len(state.log) + 1, "prompts": n, "requests": len(wanted),
                          "cell_requests": {c: sent[c] for c in alive_before}, "total_requests": state.requests,
                          "total_tokens": state.tokens, "alive": alive_before, "waiting": dict(state.waiting),
                          "chance": dict(state.chance), "dropped": {c: state.dropped[c] for c in alive_before if c in state.dropped},
                          **result})  # fmt: skip
        leader = result["leader"]
        if cut and (not wanted or n >= len(order)):  # a round cut by a loose bound may leave room for the next
            state.stopped = "budget"
        elif not state.alive:
            state.stopped = "no cell can meet the constraints"
        elif len(state.alive) == 1 and leader is not None and _precise(result["estimates"][leader], search.precision):
            state.stopped = "one cell left"
        elif n >= len(order):
            state.stopped = ("every prompt used" + (f"; {len(result['tied'])} cells statistically tied" if len(result["tied"]) > 1 else "")
                             + ("; no cell's constraints hold at their bound" if leader is None else ""))  # fmt: skip
        if state.stopped:
            break
    full = len(plan.jobs)
    summary = {"strategy": search.strategy, "metric": metric, "goal": state.goal, "rounds": len(state.log),
               "requests": state.requests, "tokens": state.tokens, "cost": round(state.cost, 6), "full_grid_requests": full,
               "share_of_grid": round(state.requests / full, 4) if full else None, "stopped": state.stopped,
               "leader": state.log[-1].get("leader") if state.log else None, "alive": state.alive, "waiting": state.waiting,
               "dropped": state.dropped,
               "looks": len(looks), "confidence": search.confidence}  # fmt: skip
    with (run_dir / records.SEARCH_LOG).open("w", encoding="utf-8") as handle:
        for entry in state.log:
            handle.write(json.dumps(entry) + "\n")
    return list(rows.values()), stats, interrupted, wall, summary


def _add(total, more):
    """Runner counts of two rounds together (the lowest concurrency either reached)."""
    summed = {f.name: getattr(total, f.name) + getattr(more, f.name) for f in dataclasses.fields(total) if f.name != "min_limit"}
    return dataclasses.replace(total, **summed, min_limit=min(total.min_limit or more.min_limit, more.min_limit or total.min_limit))


def _precise(estimate: list, precision: float | None) -> bool:
    """Whether the leader's CI half-width is at most ``precision`` (always, without one)."""
    _, low, high, _ = estimate
    return precision is None or (math.isfinite(low) and (high - low) / 2 <= precision)


def _count_cost(state: SearchState, rows: list[dict], price) -> None:
    """Add the cost of a round's requests (not its copies) and the prompt tokens seen per prompt."""
    if not usage.priced(price):
        return
    for row in rows:
        if row.get("copy_of") is None:
            state.cost += usage.cost(row["prompt_tokens"] or 0, row["completion_tokens"] or 0, price)
        if row["prompt_tokens"] is not None:
            state.prompt_tokens[row["prompt_id"]] = max(state.prompt_tokens.get(row["prompt_id"], 0), row["prompt_tokens"])


def _within_budget(jobs: list[Job], state: SearchState, budget, price=None) -> tuple[list[Job], bool]:
    """The jobs the budget still allows (in order), and whether it cut any."""
    allowed = len(jobs)
    if budget.cost is not None:
        room, count, least = budget.cost - state.cost, 0, min(state.prompt_tokens.values(), default=None)
        for job in jobs:
            text = (job.request.system_prompt or "") + job.request.prompt
            room -= usage.request_bound(state.prompt_tokens.get(job.prompt.id), text, job.request.params["max_tokens"], price, least)
            if room < 0:
                break
            count += 1
        allowed = count
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
