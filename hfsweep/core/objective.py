"""The objective: what "best" means for the recommendation and the adaptive search.

The best cell on ``metric`` (``goal`` max or min) among the cells meeting every constraint
(``"METRIC OP VALUE"``). When no metric is set, :func:`default_metric` says which one the run
has: pass_rate when the prompts have checks, else judge_score when a judge scored the run.

>>> Constraint.parse("pass_rate >= 0.85")
Constraint(metric='pass_rate', op='>=', value=0.85)
>>> Constraint.parse("loop_rate = 0")
Traceback (most recent call last):
hfsweep.core.errors.ConfigError: objective.constraints: 'loop_rate = 0' is not accepted: "METRIC OP VALUE" with OP one of >=, <=, >, <, e.g. "pass_rate >= 0.85"
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional

from hfsweep.core.errors import ConfigError

OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
GOALS = {"max": 1.0, "min": -1.0}  # the sign that makes a larger signed value better

# The default objective when objective.metric is null, in the order it is looked for.
DEFAULT_METRICS = (("pass_rate", "the prompts' checks"), ("judge_score", "the judge"))


@dataclass
class Objective:
    """``objective.*`` in config (a Hydra structured config, so lists are ``List``)."""

    metric: Optional[str] = None  # null = default_metric(): pass_rate with prompt checks, else judge_score with a judge
    goal: str = "max"  # max | min
    constraints: List[str] = field(default_factory=list)  # "METRIC OP VALUE", OP one of >=, <=, >, <


class Constraint(NamedTuple):
    """``metric op value``, e.g. ``Constraint("seq_rep_4", "<=", 0.1)``.

    >>> c = Constraint.parse("seq_rep_4 <= 0.1")
    >>> c.met(0.05), c.met(0.2), c.sign, str(c)
    (True, False, -1.0, 'seq_rep_4 <= 0.1')
    """

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = re.fullmatch(r"\s*(\w+)\s*(>=|<=|>|<)\s*(\S+)\s*", str(text))
        value = None
        if match:
            try:
                value = float(match.group(3))
            except ValueError:
                value = None
        if value is None:
            raise ConfigError(f"objective.constraints: {text!r} is not accepted: \"METRIC OP VALUE\" with OP one of "
                              f"{', '.join(OPERATORS)}, e.g. \"pass_rate >= 0.85\"")  # fmt: skip
        return cls(match.group(1), match.group(2), value)

    @property
    def sign(self) -> float:
        """+1 if a higher value is better for this constraint's metric, else -1."""
        return 1.0 if self.op in (">=", ">") else -1.0

    def met(self, value):
        """Whether ``value`` (a number or a numpy array) meets the constraint."""
        return OPERATORS[self.op](value, self.value)

    def bound(self, low, high):
        """The side of a CI that must meet the constraint for it to hold: the lower bound for
        ``>=`` / ``>``, the upper for ``<=`` / ``<`` (numbers or numpy arrays).

        >>> Constraint.parse("pass_rate >= 0.85").bound(0.81, 0.9), Constraint.parse("loop_rate <= 0.1").bound(0, 0.2)
        (0.81, 0.2)
        """
        return low if self.sign > 0 else high

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:.3g}"


def check_objective(objective: Objective) -> Objective:
    """The goal and the constraints' form (metric names are checked against the registry by the engine)."""
    if objective.goal not in GOALS:
        raise ConfigError(f"objective.goal = {objective.goal!r} is not accepted: choose one of max, min")
    for text in objective.constraints:
        Constraint.parse(text)
    return objective


def constraints(objective: Objective) -> list[Constraint]:
    return [Constraint.parse(text) for text in objective.constraints]


def default_metric(scored: set[str] | frozenset[str]) -> tuple[str, str] | None:
    """The default objective among the metrics a run has: (metric, where it comes from), or None.

    >>> default_metric({"distinct_2", "judge_score"})
    ('judge_score', 'the judge')
    >>> default_metric({"distinct_2"}) is None
    True
    """
    return next(((metric, source) for metric, source in DEFAULT_METRICS if metric in scored), None)
