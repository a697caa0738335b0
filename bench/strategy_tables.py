"""The markdown tables of ``bench/bench_strategies.py``. A helper module; run on its own it does nothing.

``points``: strategy -> budget label -> one (hit, requests) per seed.
"""

from __future__ import annotations

import math

from scipy import stats

TARGET = 0.9  # "9/10 hits"


def reached(by_label: dict[str, list[tuple[bool, int]]]) -> tuple[float, int, int] | None:
    """(mean requests, hits, seeds) at the fewest mean requests at which a strategy hit in at
    least 9/10 of the seeds (None: at no budget)."""
    found = [(sum(r for _, r in rows) / len(rows), sum(h for h, _ in rows), len(rows)) for rows in by_label.values()
             if rows and sum(h for h, _ in rows) >= math.ceil(TARGET * len(rows) - 1e-9)]  # fmt: skip
    return min(found, default=None)


def needed(by_label: dict[str, list[tuple[bool, int]]]) -> float | None:
    """The fewest mean requests at which a strategy hit in at least 9/10 of the seeds (None: at no budget)."""
    found = reached(by_label)
    return None if found is None else found[0]


def hit_rate(by_label: dict[str, list[tuple[bool, int]]]) -> str:
    """The hits at :func:`reached`'s point with their Wilson 95% interval: how far the seeds pin the rate.

    >>> hit_rate({"20%": [(True, 600)] * 27 + [(False, 600)] * 3})
    '27/30 (74-97%)'
    """
    found = reached(by_label)
    if found is None:
        return ""
    _, hits, seeds = found
    ci = stats.binomtest(hits, seeds).proportion_ci(0.95, method="wilson")
    return f"{hits}/{seeds} ({100 * ci.low:.0f}-{ci.high:.0%})"


def point(rows: list[tuple[bool, int]]) -> str:
    if not rows:
        return ""
    return f"{sum(h for h, _ in rows)}/{len(rows)} @ {sum(r for _, r in rows) / len(rows):,.0f}"


def best_anchor(points: dict, anchors: tuple[str, ...]) -> tuple[str | None, float | None]:
    found = [(needed(points[a]), a) for a in anchors if a in points and needed(points[a]) is not None]
    if not found:
        return None, None
    requests, name = min(found)
    return name, requests


def ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None:
        return "not reached"
    if theirs is None:
        return "no anchor reaches 9/10"
    return f"{mine / theirs:.2f}"


def curve_table(points: dict, labels: list[str], own: str, hfsweep: tuple[str, ...], anchors: tuple[str, ...]) -> str:
    """One shape: per strategy, hits and mean requests at each budget and at its own stop."""
    name, theirs = best_anchor(points, anchors)
    head = ["strategy", *[f"budget {label}" for label in labels], own, "requests for 9/10", "vs best anchor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for strategy in ("grid", *hfsweep, *anchors):
        if strategy not in points:
            continue
        mine = needed(points[strategy])
        shown = f"{mine:,.0f}" if mine is not None else "not reached"
        versus = ratio(mine, theirs) if strategy in hfsweep else ("best anchor" if strategy == name else "")
        title = f"hfsweep {strategy}" if strategy in hfsweep else strategy
        cells = [point(points[strategy].get(label, [])) for label in [*labels, own]]
        lines.append("| " + " | ".join([title, *cells, shown, versus]) + " |")
    return "\n".join(lines)


def ratio_table(by_shape: dict, hfsweep: tuple[str, ...], anchors: tuple[str, ...]) -> str:
    """Per shape: the best anchor's requests for 9/10, and each hfsweep strategy's against it."""
    head = ["shape", "best anchor", "its requests for 9/10, hits (95% CI)", *[f"{s}: requests, ratio, hits (95% CI)" for s in hfsweep]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for shape, points in by_shape.items():
        name, theirs = best_anchor(points, anchors)
        cells = []
        for s in hfsweep:
            mine = needed(points[s])
            cells.append(f"{mine:,.0f}, {ratio(mine, theirs)}, {hit_rate(points[s])}" if mine is not None else "not reached")
        anchor = f"{theirs:,.0f}, {hit_rate(points[name])}" if theirs else ""
        lines.append("| " + " | ".join([shape, name or "none reaches 9/10", anchor, *cells]) + " |")
    return "\n".join(lines)


def drop_table(drops: dict, strategies: list[tuple[str, str]]) -> str:
    """Per dropping strategy and shape: true-best cells dropped / at risk, the rate over all shapes, the stated level."""
    shapes = list(drops)
    head = ["strategy", "stated level", *shapes, "all shapes", "rate"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for strategy, level in strategies:
        pairs = [drops[s].get(strategy, [0, 0]) for s in shapes]
        dropped, risk = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        rate = f"{dropped / risk:.1%}" if risk else ""
        lines.append("| " + " | ".join([strategy, level, *[f"{d}/{r}" for d, r in pairs], f"{dropped}/{risk}", rate]) + " |")
    return "\n".join(lines)
