"""The tests behind the node's verdicts (reports/node_claims.py), run and corrected together.

A claim about a direction ("increase this to reduce repetition") is tested as paired differences
by prompt (``reports.stats.paired_differences``: bootstrap CI, signed-rank p) between each
accepted value and the option's reference, and between neighbouring values; every test of every
option is corrected together (``reports.stats.adjust_pvalues``, Benjamini-Hochberg). A test
counts when its adjusted p is below 1 - report.confidence and its CI excludes 0: in the claimed
direction it backs the sentence, against it it reverses it. A point estimate never decides.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hfsweep.core.node import BY_PARAM, node_value_refusal
from hfsweep.core.report_options import ReportOptions
from hfsweep.reports import stats
from hfsweep.reports.formatting import fnum
from hfsweep.reports.load import RunData
from hfsweep.reports.node_design import Design, Level, Values


@dataclass
class Test:
    """One paired comparison: ``a`` minus ``b`` per prompt; ``expected``: the sign the sentence predicts."""

    part: str
    metric: str
    a: str
    b: str
    expected: int
    left: np.ndarray
    right: np.ndarray
    a_value: float = float("nan")
    result: object = None
    p_adj: float = float("nan")

    def shown(self, alpha: float) -> int:
        """+1 / -1: a difference the data show (adjusted p < alpha, CI on one side of 0); 0: none."""
        r = self.result
        if r is None or not np.isfinite(self.p_adj) or self.p_adj >= alpha:
            return 0
        return 1 if r.low > 0 else -1 if r.high < 0 else 0

    def text(self) -> str:
        r = self.result
        return f"{self.a} vs {self.b}: {self.metric} {r.diff:+.3g} [{fnum(r.low)}, {fnum(r.high)}], p_adj {p_text(self.p_adj)}, n {r.n}"


def p_text(p: float) -> str:
    return "–" if not np.isfinite(p) else "< 0.001" if p < 0.001 else f"{p:.3g}"


class Checker:
    """The tests of one design, run and corrected together, then read per option."""

    def __init__(self, data: RunData, design: Design, opts: ReportOptions):
        self.data, self.design, self.opts = data, design, opts
        self.values = Values(data, design.prompts)
        self.alpha = 1.0 - float(opts.confidence)
        self.tests: list[Test] = []

    def label(self, param: str, level: Level | None, plain: bool = False) -> str:
        """A level in the node's terms ("Top P 0.9", "Top P not added"), or sent the plain way."""
        if plain:
            return "nothing sent as named" if level is None else f"{param} {fnum(level.value)} sent as named"
        option = BY_PARAM[param].label
        return f"{option} not added" if level is None else f"{option} {fnum(level.value)}"

    def direction_tests(self, part: str, param: str, levels: list[Level], reference: Level | None, ref_value: float,
                        metric: str, sign: int, fill: float | None = None, only: list[str] | None = None,
                        base: str | None = None, plain: bool = False) -> list[Test]:  # fmt: skip
        """Each level against the reference (a cell, or ``base`` = the option not added, at ``ref_value``),
        and each level against its neighbour; ``sign``: +1 if the sentence says the metric rises with the value."""
        ref_cell = reference.cell_id if reference is not None else base
        if ref_cell is None:
            return []
        ref_label = self.label(param, reference, plain)
        out = []
        pairs = [(level, ref_cell, ref_label, ref_value) for level in levels if level.cell_id != ref_cell]
        pairs += [(high, low.cell_id, self.label(param, low, plain), low.value) for low, high in itertools.pairwise(levels)
                  if ref_cell not in (low.cell_id, high.cell_id)]  # fmt: skip
        for level, other, other_label, other_value in pairs:
            expected = sign * int(np.sign(level.value - other_value))
            if expected == 0:
                continue
            out.append(Test(part, metric, self.label(param, level, plain), other_label, expected,
                            self.values.of(level.cell_id, metric, fill, only), self.values.of(other, metric, fill, only), level.value))
        self.tests += out
        return out

    def add(self, test: Test) -> Test:
        self.tests.append(test)
        return test

    def agreeing(self, tests: list[Test]) -> list[Test]:
        return [t for t in tests if t.shown(self.alpha) == t.expected]

    def against(self, tests: list[Test]) -> list[Test]:
        return [t for t in tests if t.shown(self.alpha) == -t.expected]

    def run(self) -> None:
        kw = {"confidence": float(self.opts.confidence), "n_resamples": int(self.opts.bootstrap_resamples), "seed": int(self.opts.seed)}
        results = stats.paired_differences([(t.left, t.right) for t in self.tests], **kw) if self.tests else []
        adjusted = stats.adjust_pvalues([r.p for r in results]) if results else []
        for test, result, p_adj in zip(self.tests, results, adjusted):
            test.result, test.p_adj = result, float(p_adj)

    def reading(self, tests: list[Test]) -> tuple[str, str]:
        """("holds" | "reversed" | "not shown", the evidence): the strongest test each way."""
        agree, against = self.agreeing(tests), self.against(tests)
        if not tests:
            return "not shown", "nothing to compare"

        def strongest(group):
            return max(group, key=lambda t: abs(t.result.diff)).text()

        parts = [f"{len(agree)} of {len(tests)} comparisons back it" + (f" ({strongest(agree)})" if agree else "")]
        if against:
            parts.append(f"{len(against)} go against it ({strongest(against)})")
        if not agree and not against:
            finite = [t for t in tests if t.result is not None and np.isfinite(t.result.diff)]
            if finite:
                parts.append(f"none shown; largest: {strongest(finite)}")
        return ("reversed" if against else "holds" if agree else "not shown"), "; ".join(parts)


def refused_text(design: Design, param: str) -> str:
    """The UI's values a TGI endpoint refuses: those the run sent (measured) and the rest (by TGI's rule)."""
    option = BY_PARAM[param]
    by_rule = [v for v in option.ui_values() if node_value_refusal(param, v, design.route)]
    measured = [level.value for level in design.node.get(param, []) if level.refused]
    if not by_rule and not measured:
        return ""
    runs = _runs(by_rule, option.ui_values())
    first = next((level.refused for level in design.node.get(param, []) if level.refused), "")
    return (f"refused by a TGI endpoint: {runs} ({len(by_rule)} of the UI's {len(option.ui_values())} values; "
            f"measured at {', '.join(fnum(v) for v in measured) or 'none'}{': ' + first.split(' (TGI')[0] if first else ''})")  # fmt: skip


def _runs(values: list[float], steps: list[float]) -> str:
    """Consecutive UI steps joined: ``-2 .. 0``, ``0.1 .. 0.9``."""
    index = {round(v, 9): i for i, v in enumerate(steps)}
    out, start, prev = [], None, None
    for v in values:
        i = index[round(v, 9)]
        if start is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            out.append((start, prev))
        start = prev = i
    if start is not None:
        out.append((start, prev))
    return ", ".join(fnum(steps[a]) if a == b else f"{fnum(steps[a])} .. {fnum(steps[b])}" for a, b in out)


def identical_share(data: RunData, cell_id: str) -> tuple[int, int]:
    """(prompts whose samples all gave one text, prompts with at least 2 samples) for a cell."""
    rows = data.completions[(data.completions["cell_id"] == cell_id) & data.completions["error"].isna()]
    counts = rows.groupby("prompt_id")["text"].agg(["nunique", "size"])
    many = counts[counts["size"] >= 2]
    return int((many["nunique"] == 1).sum()), len(many)
