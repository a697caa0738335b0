"""The brake on cost: a run whose plan holds more than ``runner.max_requests`` requests, or
whose bound on completion tokens is above ``runner.max_tokens_total``, stops before anything is
built, written or sent, with the estimate, unless the user said yes (``hfsweep run --yes``,
which lifts the brake: both set to null).

The estimate is the plan's size, computed before its requests are made (``samples=100000``
stops at once, not after building millions of them): cells x prompts x samples, cached or not
(so a run is braked the same on a re-run), at most an adaptive search's request budget, plus
one judge request per completion when a judge is set. Its bound on completion tokens is each
cell's ``max_tokens`` over its requests, and the judge's.
"""

from __future__ import annotations

from dataclasses import dataclass

from hfsweep.core.errors import CostError
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.grid import Cell


@dataclass(frozen=True)
class Estimate:
    """What a run would send: requests (the judge's included) and the completion-token bound."""

    requests: int
    tokens: int
    judge: int = 0  # of the requests, the judge's

    def describe(self) -> str:
        """The estimate in words.

        >>> Estimate(25000, 1_600_000, 12500).describe()
        '25,000 requests (12,500 of them to the judge), at most 1,600,000 completion tokens'
        """
        judged = f" ({self.judge:,} of them to the judge)" if self.judge else ""
        return f"{self.requests:,} requests{judged}, at most {self.tokens:,} completion tokens"


def estimate(config: Config, cells: list[Cell], prompts: int) -> Estimate:
    """What a plan of ``cells`` x ``prompts`` x ``config.samples`` requests would send."""
    per_cell = prompts * config.samples
    requests = per_cell * len(cells)
    tokens = per_cell * sum(cell.setting.params.max_tokens for cell in cells)
    budget = config.search.budget.requests
    if config.search.strategy != "grid" and budget is not None and budget < requests:
        tokens, requests = tokens * budget // requests, budget
    judge = requests if config.judge.model is not None else 0
    return Estimate(requests + judge, tokens + judge * config.judge.max_tokens, judge)


def check_cost(config: Config, cells: list[Cell], prompts: int) -> Estimate:
    """The plan's estimate; :class:`CostError` when it is above ``runner.max_requests`` or
    ``runner.max_tokens_total``."""
    found = estimate(config, cells, prompts)
    runner = config.runner
    for key, limit, value in (("runner.max_requests", runner.max_requests, found.requests),
                              ("runner.max_tokens_total", runner.max_tokens_total, found.tokens)):  # fmt: skip
        if limit is not None and value > limit:
            raise CostError(f"this run would send {found.describe()} (cached requests included), above {key} = {limit:,}: "
                            f"pass --yes to send them, or set {key}=N (null = no brake)", found.requests)  # fmt: skip
    return found
