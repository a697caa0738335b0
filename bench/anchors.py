"""The anchor strategies of ``bench/bench_strategies.py``, run on a full grid's per-(cell,
prompt) scores: each strategy pays ``samples`` requests for each (cell, prompt) it evaluates
(once: a second look at the same pair is a cache hit), and its final choice is made by the
report's rule (:func:`hfsweep.core.decision.decide`) on the data it evaluated, so constraints
count the same way for every strategy. A helper module; run on its own it does nothing.

* ``frace``: irace-style F-race (:mod:`racing`) over all cells, one prompt at a time in the
  seeded prompt order, first test after 5 prompts, alpha 0.05, until one cell is left or the
  prompts run out; the eliminated cells are not candidates.
* ``wilcoxon``: Optuna's ``WilcoxonPruner`` (p 0.1) over every cell once (``GridSampler``),
  prompts as instances evaluated one at a time in the same fixed order, a pruned trial
  returning its mean so far (as the pruner's docs advise); pruned cells are not candidates.
  The pruner's signed-rank p-values come from :func:`racing.signed_rank`, equal to scipy's
  (``tests/test_bench_racing.py``) and a thousand times faster on this data.
* ``tpe`` / ``optuna-random``: Optuna's TPE (no pruning; each trial's constraints set with
  ``Trial.set_constraint``: their mean's distance past the bound) and random sampler, each trial a cell (one categorical per parameter)
  evaluated on every prompt, up to the budget's number of distinct cells.
* ``random``: distinct cells drawn at random without Optuna, each on every prompt.

The racing strategies rank cells by a penalised score per prompt: the objective minus the
constraint's violation on that prompt (``max(0, loop_rate - 0.1)``), the usual way to give irace
or a pruner a constraint. Each strategy runs once; its result at a smaller budget is the prefix
of its run that fits in the budget (the run up to that point does not depend on the budget).
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `make bench` runs every bench/*.py as a script

import numpy as np  # noqa: E402

from bench.racing import race_step, signed_rank  # noqa: E402
from bench.strategy_shapes import key  # noqa: E402
from hfsweep.core import decision  # noqa: E402
from hfsweep.core.extras import require  # noqa: E402
from hfsweep.core.objective import GOALS, Constraint  # noqa: E402

FIRST_TEST = 5  # irace's firstTest
ALPHA = 0.05  # irace's 1 - confidence
P_THRESHOLD = 0.1  # WilcoxonPruner's default


@dataclass
class Problem:
    """One shape and seed: ``values[metric]`` is cells x prompts (grid order, file order)."""

    params: list[dict]
    values: dict[str, np.ndarray]
    metric: str
    goal: str
    constraints: list[Constraint]
    samples: int
    order: list[int]  # prompt columns in the seeded order
    seed: int
    confidence: float = 0.95

    @property
    def shape(self) -> tuple[int, int]:
        return self.values[self.metric].shape

    @property
    def index(self) -> dict[tuple, int]:
        return {key(p): i for i, p in enumerate(self.params)}

    @property
    def space(self) -> dict[str, list]:
        """Per parameter, its grid values in order."""
        return {name: list(dict.fromkeys(p[name] for p in self.params)) for name in self.params[0]}


@dataclass
class Outcome:
    """A strategy's result at one budget: the chosen cell (None: no recommendation), the
    requests it paid, the cells it dropped on evidence."""

    chosen: int | None
    requests: int
    dropped: set[int] = field(default_factory=set)


def choose(problem: Problem, seen: np.ndarray, exclude: set[int] = frozenset(), looks: int = 1) -> int | None:
    """The report's rule on the evaluated (cell, prompt) pairs ``seen``, the ``exclude``d cells not candidates."""
    def masked(metric: str) -> np.ndarray:
        return np.where(seen, problem.values[metric], np.nan)

    mask = np.zeros(len(problem.params), dtype=bool)
    mask[list(exclude)] = True
    d = decision.decide(masked(problem.metric), problem.goal, [(c, masked(c.metric)) for c in problem.constraints],
                        problem.confidence, looks=looks, exclude=mask, complexity=decision.simplicity(problem.params))  # fmt: skip
    return d.chosen


def race_scores(problem: Problem) -> np.ndarray:
    """Per (cell, prompt): the objective (higher is better) minus each constraint's violation."""
    score = GOALS[problem.goal] * problem.values[problem.metric]
    for c in problem.constraints:
        score = score - np.maximum(0.0, -c.sign * (problem.values[c.metric] - c.value))
    return score


def frace(problem: Problem, budgets: list[int | None]) -> list[Outcome]:
    """The F-race, once, read at each budget (None: its own stop)."""
    cells, _ = problem.shape
    scores = race_scores(problem)
    alive = np.ones(cells, dtype=bool)
    seen = np.zeros(problem.shape, dtype=bool)
    steps = []  # (requests after the step, seen, alive after its test)
    requests = 0
    for n, prompt in enumerate(problem.order, start=1):
        requests += int(alive.sum()) * problem.samples
        seen[alive, prompt] = True
        if n >= FIRST_TEST and alive.sum() > 1:
            racing = np.flatnonzero(alive)
            alive[racing[~race_step(scores[np.ix_(racing, problem.order[:n])], ALPHA)]] = False
        steps.append((requests, seen.copy(), alive.copy()))
        if alive.sum() == 1:
            break
    out = []
    for budget in budgets:
        done = [s for s in steps if budget is None or s[0] <= budget]
        if not done:
            out.append(Outcome(None, 0))
            continue
        spent, seen_then, alive_then = done[-1]
        dropped = set(np.flatnonzero(~alive_then).tolist())
        out.append(Outcome(choose(problem, seen_then, dropped), spent, dropped))
    return out


def _optuna():
    optuna = require("optuna", "bench")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@contextlib.contextmanager
def _counted_signed_rank():
    """Optuna's WilcoxonPruner with :func:`racing.signed_rank` as its ``scipy.stats.wilcoxon``
    (its module's one use of scipy), for the duration of a study."""
    module = sys.modules["optuna.pruners._wilcoxon"]
    original = module.ss
    module.ss = types.SimpleNamespace(wilcoxon=signed_rank)
    try:
        yield
    finally:
        module.ss = original


def wilcoxon(problem: Problem, budgets: list[int | None]) -> list[Outcome]:
    """Optuna's WilcoxonPruner over every cell once, read at each budget (None: its own stop)."""
    optuna = _optuna()
    cells, _ = problem.shape
    scores, index, space = race_scores(problem), problem.index, problem.space
    events: list[tuple[int, int, int]] = []  # (requests after, cell, prompt)
    ends: dict[int, tuple[int, bool]] = {}  # cell -> (requests at its end, pruned)

    def objective(trial) -> float:
        cell = index[key({name: trial.suggest_categorical(name, values) for name, values in space.items()})]
        results = []
        for prompt in problem.order:
            events.append(((events[-1][0] if events else 0) + problem.samples, cell, prompt))
            results.append(float(scores[cell, prompt]))
            trial.report(results[-1], prompt)
            if trial.should_prune():
                ends[cell] = (events[-1][0], True)
                return sum(results) / len(results)
        ends[cell] = (events[-1][0], False)
        return sum(results) / len(results)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.GridSampler(space, seed=problem.seed),
                                pruner=optuna.pruners.WilcoxonPruner(p_threshold=P_THRESHOLD))  # fmt: skip
    with _counted_signed_rank():
        study.optimize(objective, n_trials=cells)
    out = []
    for budget in budgets:
        limit = math.inf if budget is None else budget
        seen = np.zeros(problem.shape, dtype=bool)
        spent = 0
        for after, cell, prompt in events:
            if after > limit:
                break
            seen[cell, prompt], spent = True, after
        pruned = {c for c, (at, was) in ends.items() if was and at <= limit}
        unfinished = {c for c in range(cells) if seen[c].any() and (c not in ends or ends[c][0] > limit)}
        out.append(Outcome(choose(problem, seen, pruned | unfinished), spent, pruned))
    return out


def sampled(problem: Problem, budgets: list[int], sampler: str) -> list[Outcome]:
    """``tpe``, ``optuna-random`` or ``random``: distinct cells on every prompt, read at each budget."""
    cells, prompts = problem.shape
    per_cell = prompts * problem.samples
    most = min(cells, max(budgets) // per_cell)
    if sampler == "random":
        order = np.random.default_rng(problem.seed).permutation(cells)[:most].tolist()
    else:
        order = _optuna_order(problem, sampler, most)
    out = []
    for budget in budgets:
        taken = order[: budget // per_cell]
        seen = np.zeros(problem.shape, dtype=bool)
        seen[taken] = True
        out.append(Outcome(choose(problem, seen), len(taken) * per_cell))
    return out


def _optuna_order(problem: Problem, sampler: str, most: int) -> list[int]:
    """The distinct cells Optuna's sampler asks for, in order, up to ``most`` (a repeated cell is
    told its known value again at no cost; at most 20 asks per cell of the grid)."""
    optuna = _optuna()
    cells, _ = problem.shape
    index, space = problem.index, problem.space
    objective = np.nanmean(problem.values[problem.metric], axis=1)
    violation = np.array([[-c.sign * (np.nanmean(problem.values[c.metric][i]) - c.value) for c in problem.constraints]
                          for i in range(cells)]).reshape(cells, len(problem.constraints))  # fmt: skip
    if sampler == "tpe":
        chosen = optuna.samplers.TPESampler(seed=problem.seed)  # reads the trials' constraints (Trial.set_constraint)
    else:
        chosen = optuna.samplers.RandomSampler(seed=problem.seed)
    study = optuna.create_study(direction="maximize" if problem.goal == "max" else "minimize", sampler=chosen)
    distributions = {name: optuna.distributions.CategoricalDistribution(values) for name, values in space.items()}
    order: list[int] = []
    for _ in range(20 * cells):
        if len(order) >= most:
            break
        trial = study.ask(distributions)
        cell = index[key(trial.params)]
        for c, value in zip(problem.constraints, violation[cell]):
            trial.set_constraint(str(c), float(value))
        study.tell(trial, float(objective[cell]))
        if cell not in order:
            order.append(cell)
    return order
