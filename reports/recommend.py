"""The recommended cell: one target's decision (:mod:`hfsweep.core.decision`) in the report's terms.

:func:`recommend` runs the rule the adaptive search also runs (:func:`hfsweep.core.decision.decide`)
on one target's cells: constraints at the one-sided bound of each cell's mean at the report's
confidence, Bonferroni over the cells; the tied set of candidates not significantly worse than
the best on the objective; the setting of that set with the best worst case on the objective
(its one-sided bound), then the simplest, then the largest worst-case constraint margin. A cell whose mean meets every constraint but whose
bound does not is *undecided*: not a candidate, and the page names it with the prompts that
would settle it (:func:`reports.power.prompts_to_settle`).

The chosen cell comes with its BCa CI and the paired test (:func:`reports.stats.paired_difference`)
against the runner-up: the best other cell of the tied set, else the best other candidate.
Those tests (one per target) are adjusted by Holm among themselves (``p_holm``), not in the
report's BH family: they compare cells picked *because* they scored well, so read them as
"how far apart are the top two", no more; whether the data single one out is the tied set's answer.

The report drives it from the run's ``objective`` (:func:`from_objective`): ``objective.metric``,
else pass_rate when the prompts have checks, else judge_score when a judge scored the run;
with none of them there is no recommendation, only the quality-diversity front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hfsweep.core import decision
from hfsweep.core.errors import ReportError
from hfsweep.core.estimates import Estimate, Paired
from hfsweep.core.objective import GOALS, OPERATORS, Constraint, default_metric
from hfsweep.core.records import SWEEPABLE
from hfsweep.reports import stats
from hfsweep.reports.bootstrap import bootstrap_ci
from hfsweep.reports.load import _fmt_value
from hfsweep.reports.power import prompts_to_settle


@dataclass(frozen=True)
class Choice:
    """What :func:`recommend` found for one target (indexes are rows of the given cells).

    ``feasible``: the candidates (every constraint holds at its bound); ``tied``: the candidates
    not significantly worse than the best (the chosen cell among them); ``level``: the per-test
    error rate behind both."""
    index: int | None
    estimate: Estimate | None
    runner_up: int | None
    test: Paired | None
    feasible: np.ndarray
    tied: np.ndarray
    level: float
    family: str  # how the level was corrected, in words: "Bonferroni over 12 cells"
    note: str = ""
    undecided: tuple[Undecided, ...] = ()  # cells meeting every constraint on their mean, not at the bound


@dataclass(frozen=True)
class Undecided:
    """A cell whose mean meets a constraint but whose one-sided bound does not (the first such
    constraint): it is not a candidate; ``prompts`` would settle it if the mean and SD held."""
    index: int
    constraint: Constraint
    mean: float
    bound: float
    prompts: float


def _undecided(d: decision.Decision, constraints: Sequence[Constraint], values: Mapping[str, np.ndarray]) -> tuple[Undecided, ...]:
    out = []
    for i in map(int, np.flatnonzero(d.on_means & ~d.holds)):
        for c in constraints:
            bound = float(d.bounds[c][i])
            if not (np.isfinite(bound) and c.met(bound)):
                mean = float(decision.row_means(np.asarray(values[c.metric], dtype=float)[[i]])[0])
                sd = float(d.sds[c.metric][i])
                out.append(Undecided(i, c, mean, bound, prompts_to_settle(sd, abs(mean - c.value), 1 - d.level)))
                break
    return tuple(out)


def recommend(cells: pd.DataFrame, values: Mapping[str, np.ndarray], metric: str, goal: str = "max",
              constraints: Sequence[Constraint | tuple] = (), *, exclude: np.ndarray | None = None, looks: int = 1,
              confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Choice:
    """The recommended cell of one target on ``metric`` (``goal`` 'max' or 'min') under the
    constraints, by :func:`hfsweep.core.decision.decide` (module docstring).

    Args:
        cells: the target's cells, one row each, in grid order (their parameter columns decide
            which setting is the simplest).
        values: per metric, a ``len(cells) x prompts`` array of per-prompt values.
        metric, goal: the objective.
        constraints: ``Constraint`` or ``(metric, op, value)`` with op in <=, <, >=, >.
        exclude: cells that are not candidates (an adaptive search dropped them on evidence,
            so their means rest on fewer prompts).
        looks: the looks that search took at the data (the level counts them).

    A and B have the same values on ``up``; B's top_p is off, so it is the simpler pick; C is
    better but fails the constraint:

    >>> cells = pd.DataFrame({"cell_id": ["A", "B", "C"], "top_p": [0.9, 1.0, 1.0]})
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 0.05, 12)
    >>> values = {"up": np.array([[0.8], [0.8], [0.9]]) + noise, "down": np.repeat([[0.2], [0.1], [0.5]], 12, axis=1)}
    >>> c = recommend(cells, values, "up", "max", [("down", "<=", 0.3)])
    >>> cells["cell_id"][c.index], cells["cell_id"][c.runner_up], c.tied.tolist()
    ('B', 'A', [True, True, False])
    """
    if goal not in GOALS:
        raise ReportError(f"Objective goal must be 'max' or 'min', got {goal!r}.")
    parsed_constraints = [c if isinstance(c, Constraint) else Constraint(*c) for c in constraints]
    for c in parsed_constraints:
        if c.op not in OPERATORS:
            raise ReportError(f"Constraint operator must be one of {', '.join(OPERATORS)}, got {c.op!r} ({c.metric}).")
    missing = [m for m in [metric, *(c.metric for c in parsed_constraints)] if m not in values]
    if missing:
        raise ReportError(f"Objective metric(s) {', '.join(missing)} not in the scores. "
                          f"Available: {', '.join(values)}.")
    d = decision.decide(np.asarray(values[metric], dtype=float), goal,
                        [(c, np.asarray(values[c.metric], dtype=float)) for c in parsed_constraints], confidence,
                        looks=looks, exclude=exclude, complexity=decision.simplicity(cells.to_dict("records")))  # fmt: skip
    undecided = _undecided(d, parsed_constraints, values)
    family = d.family
    if d.chosen is None:
        what = " and ".join(map(str, parsed_constraints)) or f"a value of {metric}"
        return Choice(None, None, None, None, d.holds, d.tied, d.level, family, f"no cell has {what}", undecided)
    kw = dict(confidence=confidence, n_resamples=n_resamples, seed=seed)
    chosen = d.chosen
    est = bootstrap_ci(values[metric][chosen], **kw)
    signed = GOALS[goal] * d.means
    others = [i for i in np.flatnonzero(d.holds).tolist() if i != chosen]
    if not others:
        return Choice(chosen, est, None, None, d.holds, d.tied, d.level, family, "the only cell meeting the constraints", undecided)
    runner_up = max(others, key=lambda i: (bool(d.tied[i]), signed[i], -i))
    test = stats.paired_difference(values[metric][chosen], values[metric][runner_up], **kw)
    return Choice(chosen, est, runner_up, test, d.holds, d.tied, d.level, family, undecided=undecided)


NO_OBJECTIVE = ("No recommendation: it needs a quality measure, which this run does not have: prompt checks "
                "(pass_rate), a judge (judge_score) or an explicit objective.metric. Without one, the most diverse "
                "cell is only the most random one; the quality-diversity front below shows the trade-off instead.")


def from_objective(context, objective: Mapping | None) -> tuple[str | None, str, list[Constraint], str]:
    """(metric, goal, constraints, how it was chosen) from the run's ``objective`` config:
    ``objective.metric`` if set, else pass_rate when the prompts have checks, else judge_score
    when a judge scored the run; metric None (and why) when there is no quality measure."""

    objective = dict(objective or {})
    parsed_constraints = [Constraint.parse(text) for text in objective.get("constraints") or ()]
    goal = objective.get("goal") or "max"

    def scored(metric: str) -> bool:
        return metric in context.metrics and bool(np.isfinite(context.mats[metric]).any())

    metric = objective.get("metric")
    default = default_metric({name for name in context.metrics if scored(name)})
    if metric:
        how = ""  # the user named it: nothing to add
    elif default is not None:
        metric, source = default
        goal, how = "max", f"{source} ({metric}, the default objective)"
    else:
        return None, goal, [], NO_OBJECTIVE
    missing = [m for m in (metric, *(c.metric for c in parsed_constraints)) if not scored(m)]
    if missing:
        return None, goal, [], f"No recommendation: {', '.join(missing)} has no value in this run's scores."
    return metric, goal, parsed_constraints, how


REC_COLS = ["target", "setting", "setting_id", *SWEEPABLE, "metric", "value", "ci_low", "ci_high", "constraints_met",
            "constraints", "tied", "level", "runner_up", "runner_up_setting_id", "diff", "diff_ci_low", "diff_ci_high",
            "n", "p", "p_holm", "note"]


def recommendations(context, metric: str, goal: str = "max", constraints: Sequence[Constraint] = (),
                    how: str = "") -> tuple[pd.DataFrame, list[Choice], str]:
    """One :func:`recommend` per target: (recommendation table, choices, text for the page)."""
    parsed_constraints = [c if isinstance(c, Constraint) else Constraint(*c) for c in constraints]
    names = [metric, *(c.metric for c in parsed_constraints)]
    rows, choices, texts = [], [], []
    for t in context.targets:
        cells = context.cells[context.cells["target"] == t].reset_index(drop=True)
        idx = [context.row[c] for c in cells["cell_id"]]
        dropped = cells["cell_id"].isin(context.search_dropped).to_numpy()
        ch = recommend(cells, {m: context.mats[m][idx] for m in names}, metric, goal, parsed_constraints, exclude=dropped,
                       looks=context.search_looks, **context.kw)
        choices.append(ch)
        rows.append(_row(t, cells, ch, metric, parsed_constraints))
        texts.append(_text(context, t, cells, ch, metric, goal, parsed_constraints, how))
        if dropped.any():
            texts.append(f"{int(dropped.sum())} cell(s) the adaptive search dropped on evidence were not candidates.")
    df = pd.DataFrame(rows, columns=REC_COLS)
    df["p_holm"] = stats.holm(df["p"].to_numpy(dtype=float)) if len(df) else []
    return df, choices, " ".join(texts)


def _row(t, cells, ch: Choice, metric, parsed_constraints) -> tuple:
    ctext = "; ".join(map(str, parsed_constraints))
    if ch.index is None:
        return (t, "", "", *[np.nan] * len(SWEEPABLE), metric, np.nan, np.nan, np.nan, False, ctext, 0, ch.level,
                "", "", np.nan, np.nan, np.nan, 0, np.nan, np.nan, ch.note)
    c = cells.iloc[ch.index]
    r = cells.iloc[ch.runner_up] if ch.runner_up is not None else None
    test = ch.test or Paired(np.nan, np.nan, np.nan, 0, np.nan)
    return (t, c["setting"], c["setting_id"], *[c.get(p, np.nan) for p in SWEEPABLE], metric, ch.estimate.mean,
            ch.estimate.low, ch.estimate.high, True, ctext, int(ch.tied.sum()), ch.level, "" if r is None else r["setting"],
            "" if r is None else r["setting_id"], test.diff, test.low, test.high, test.n, test.p, np.nan,
            "; ".join(s for s in (ch.note, ch.estimate.note, test.note) if s))


def setting_label(cell, swept: Sequence[str], joiner: str = " ") -> str:
    """A cell's setting in words: its preset, then its swept parameters (``temperature 0.3``;
    ``temperature=0.3`` with ``joiner="="``, as parameters to set).

    >>> setting_label(pd.Series({"setting_name": "", "temperature": 0.3, "top_p": 1.0}), ["temperature", "top_p"], "=")
    'temperature=0.3, top_p=1'
    """
    parts = []
    if isinstance(cell.get("setting_name"), str) and cell["setting_name"]:
        parts.append(f"preset {cell['setting_name']}")
    parts += [f"{p}{joiner}{_fmt_value(cell[p])}" for p in swept if p in cell]
    return ", ".join(parts) or "the only setting"


def _label(context, cell) -> str:
    return setting_label(cell, context.swept)


def tied_labels(context_swept: Sequence[str], cells: pd.DataFrame, ch: Choice, joiner: str = " ", shown: int = 5) -> str:
    """The tied set's other settings in words (at most ``shown``, then how many more)."""
    others = [i for i in np.flatnonzero(ch.tied).tolist() if i != ch.index]
    labels = [setting_label(cells.iloc[i], context_swept, joiner) for i in others[:shown]]
    more = f" and {len(others) - shown} more" if len(others) > shown else ""
    return "; ".join(labels) + more


def _text(context, t, cells, ch: Choice, metric, goal, parsed_constraints, how) -> str:
    who = f"{t}: " if len(context.targets) > 1 else ""
    confidence = context.kw["confidence"]
    conf = int(round(confidence * 100))
    where = " and ".join(f"{c.metric} {'at most' if c.op == '<=' else c.op} {c.value:.3g}" for c in parsed_constraints)
    where = f" with {where} at the one-sided {conf}% bound ({ch.family})" + (f"; {how}" if how else "") if where else ""
    if ch.index is None:
        return f"{who}No cell{where.replace(' with', ' has', 1) or ' has a value'}." + _undecided_text(context, cells, ch, conf)
    c, e = cells.iloc[ch.index], ch.estimate
    ci = f", {conf}% CI {e.low:.3g} to {e.high:.3g}" if np.isfinite(e.low) else ""
    row = [context.row[c["cell_id"]]]
    cvals = ", ".join(f"{decision.row_means(context.mats[k.metric][row])[0]:.3g} {k.metric}" for k in parsed_constraints)
    text = (f"{who}Recommended for {'highest' if goal == 'max' else 'lowest'} {metric}{where}: {_label(context, c)} "
            f"({metric} {e.mean:.3g}{ci}" + (f"; {cvals}" if cvals else "") + ").")
    tied = int(ch.tied.sum())
    if ch.runner_up is not None and tied == 1:
        text += (f" The data single it out: every other candidate is worse on {metric} (one-sided paired t at the "
                 f"{conf}% level, {ch.family}).")  # fmt: skip
    elif tied > 1:
        text += (f" The data do not single out one setting: {tied - 1} other(s) are not significantly worse than the best "
                 f"(one-sided paired t at the {conf}% level, {ch.family}): {tied_labels(context.swept, cells, ch)}. "
                 f"This one has the best worst case on {metric} (the one-sided bound of its mean at that level); "
                 "equal bounds go to the simplest setting (fewest samplers away from their neutral values).")  # fmt: skip
    if ch.test is not None:
        r = cells.iloc[ch.runner_up]
        text += (f" Runner-up {_label(context, r)}: difference {ch.test.diff:.3g} "
                 f"[{ch.test.low:.3g}, {ch.test.high:.3g}], Wilcoxon p {ch.test.p:.3g} over {ch.test.n} prompts.")
    return text + _undecided_text(context, cells, ch, conf)


def _undecided_text(context, cells, ch: Choice, conf: int, shown: int = 3) -> str:
    """The cells that meet every constraint on their mean only: not candidates, and what would settle them."""
    if not ch.undecided:
        return ""
    parts = [f"{_label(context, cells.iloc[u.index])} ({u.constraint.metric} {u.mean:.3g}, bound {u.bound:.3g}; "
             + (f"about {u.prompts:.0f} prompts would settle it)" if np.isfinite(u.prompts) else "more prompts would not settle it)")
             for u in ch.undecided[:shown]]  # fmt: skip
    more = f" and {len(ch.undecided) - shown} more" if len(ch.undecided) > shown else ""
    return (f" Undecided, so not candidates: {len(ch.undecided)} cell(s) meet every constraint on their mean but not at "
            f"the one-sided {conf}% bound ({ch.family}): {'; '.join(parts)}{more}.")


def pareto_table(context, cm: pd.DataFrame, chosen: Sequence[str]) -> pd.DataFrame:
    """Cells with their (up, down) means and CI of ``up``, Pareto-front membership among the
    cells of the same target, and the recommended cell(s) ``chosen`` (one per target)."""
    up, down = context.opts.pareto.up, context.opts.pareto.down
    if up not in context.metrics or down not in context.metrics:
        return pd.DataFrame()
    wide = cm.pivot(index="cell_id", columns="metric", values="mean")
    lo = cm[cm["metric"] == up].set_index("cell_id")
    df = context.cells[["cell_id", "target", "setting"]].copy()
    df[up] = df["cell_id"].map(wide[up])
    df[f"{up}_ci_low"] = df["cell_id"].map(lo["ci_low"])
    df[f"{up}_ci_high"] = df["cell_id"].map(lo["ci_high"])
    df[down] = df["cell_id"].map(wide[down])
    df["on_front"] = False
    for _, g in df.groupby("target", sort=False):
        df.loc[g.index, "on_front"] = stats.pareto_front(g[up], g[down])
    df["recommended"] = df["cell_id"].isin(list(chosen))
    return df
