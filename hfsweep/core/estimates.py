"""The estimate types the search and the reports share (a leaf: it imports nothing of hfsweep).

* :class:`Estimate`: a mean over prompts with its confidence interval: the report's BCa
  bootstrap CIs (``hfsweep.reports.bootstrap``). The decisions (recommendation and search)
  use the Student-t bounds of ``hfsweep.core.decision``.
* :class:`Paired`: a paired difference over prompts with its CI and the signed-rank p-value
  (``hfsweep.reports.stats.paired_differences``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` prompts with its confidence interval ``low`` to ``high``.

    ``se`` and ``df``: the standard error of the mean and the degrees of freedom of the t
    distribution behind a Student-t interval (NaN and 0 for a bootstrap CI; an infinite
    ``se`` when there are fewer than 2 values). ``note`` says why a CI is missing or degenerate.

    >>> Estimate(0.5, 0.4, 0.6, 10)
    Estimate(mean=0.5, low=0.4, high=0.6, n=10, se=nan, df=0, note='')
    """

    mean: float
    low: float
    high: float
    n: int
    se: float = math.nan
    df: int = 0
    note: str = ""


@dataclass(frozen=True)
class Paired:
    """Paired difference (a - b per prompt) over the ``n`` prompts present in both: the mean
    ``diff``, its CI ``low`` to ``high``, the two-sided signed-rank ``p``, a ``note`` (why a CI or
    p is missing or degenerate) and ``sd``, the SD of the differences (ddof 1; for the power columns).
    """

    diff: float
    low: float
    high: float
    n: int
    p: float
    note: str = ""
    sd: float = math.nan
