"""Report figures, drawn with matplotlib (``reports.canvas``) and written as SVG.

Each figure is drawn from a computed table, so the CSV behind it is the golden-tested one;
each is written to ``plots/NAME.svg`` and embedded in the page by ``reports.html.figure``.
Only the figures the page shows are drawn, in the report's style (``reports.canvas.style``:
deterministic SVG, text kept as text, labels shown literally). Palette: Okabe-Ito
(colour-blind safe), with a marker shape per model as well; heatmaps use cividis.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import StrMethodFormatter

from hfsweep.reports.canvas import (FRAME, INK, MUTED, PT, Canvas, color, legend_rows, marker, panels, row_height, style,
                                    text_width)

MISSING = "#f2f2f2"  # heatmap cells without a value
HIGHLIGHT = "#D55E00"  # the recommended cell; the model comparison's "ALL settings" rows
ROWS = "#0072B2"  # the model comparison's per-setting rows

PARAM_UNITS = {
    "temperature": "temperature (unitless)", "top_k": "top_k (tokens; 0 = off)",
    "top_p": "top_p (probability mass)", "frequency_penalty": "frequency penalty (logit units)",
    "presence_penalty": "presence penalty (logit units)", "max_tokens": "max_tokens (tokens)",
}

_UNITS = [
    (r"seq_rep_\d", "fraction of repeated n-grams"), (r"distinct_\d", "distinct / total n-grams"),
    (r"self_bleu", "BLEU (0-1)"), (r"loop_rate|loop", "fraction of samples looping"),
    (r"rep_w", "fraction of repeated tokens"), (r"words", "count, default tokenizer"),
    (r"chars", "characters"), (r"tokens", "tokens (server count)"), (r"truncated", "fraction hitting max_tokens"),
    (r"empty", "fraction empty"), (r"compression_ratio", "bytes / gzip bytes"),
    (r"ngram_entropy", "entropy (nats)"), (r"zipf", "Zipf coefficient"),
]


def metric_unit(metric: str) -> str:
    """The unit of a metric ('' when unknown).

    >>> metric_unit("seq_rep_4"), metric_unit("judge_score")
    ('fraction of repeated n-grams', '')
    """
    return next((unit for pattern, unit in _UNITS if re.fullmatch(pattern + r".*", metric)), "")


def metric_label(metric: str) -> str:
    """Axis label with the metric's unit."""
    unit = metric_unit(metric)
    return f"{metric} ({unit})" if unit else metric


def _slug(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(map(str, parts)))[:120]


def _floats(values) -> list[float]:
    out = []
    for value in values:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _header(width: float, entries: list, size: float) -> float:
    """Pixels the legend's rows below the first take (the plots below move down by as much)."""
    return (len(legend_rows([label for label, _, _ in entries], size, width - 12)) - 1) * row_height(size)


def effects(report, out: Path) -> dict[str, Path]:
    """One figure per swept parameter: each key metric vs the level, one line per model with
    its CI band (from the ``effects`` table)."""
    table = report.tables["effects"]
    keys = list(report.key_metrics)
    if table.empty or not keys:
        return {}
    series: dict[tuple, list] = {}  # (parameter, metric, target) -> [(level, mean, low, high)], one pass
    held: dict[str, set] = {}
    has_held = "held" in table  # the crossed part each effect was measured on, where the table says
    wanted = set(keys)
    cols = [table[c].tolist() for c in ("parameter", "metric", "target", "level", "mean", "ci_low", "ci_high")]
    cols.append(table["held"].tolist() if has_held else [None] * len(table))
    for param, metric, target, level, mean, lo, hi, part in zip(*cols):
        if metric in wanted:
            series.setdefault((param, metric, target), []).append((*_floats((level, mean, lo, hi)),))
            held.setdefault(param, set()).add(str(part))
    conf = int(round(report.opts.confidence * 100))
    entries = [(target, color(index), marker(index)) for index, target in enumerate(report.targets)]
    figs = {}
    for param in report.swept:
        present = [metric for metric in keys if any((param, metric, target) in series for target in report.targets)]
        if not present:
            continue
        if has_held:
            parts = held.get(param, set())
            what = f"on its crossed part ({next(iter(parts)) if len(parts) == 1 else 'per model: tables/design.csv'})"
        else:
            what = "(other parameters averaged)"
        title = f"Effect of {param} {what}: mean over prompts, {conf}% bootstrap CI"
        boxes, grid_width, grid_height = panels(len(present), 3, 250, 165, 78, 92, 96, 82)
        width = max(grid_width - 96 + 24, text_width(title, 13) + 24)
        extra = _header(width, entries, 11)
        canvas = Canvas(width, grid_height - 82 + 62 + extra, title)
        canvas.text(12, 22, title, 13, fontweight="bold")
        canvas.legend(12, 38, entries, 11)
        for (left, top, box_width, box_height), metric in zip(boxes, present):
            ax = canvas.axes((left, top + extra, box_width, box_height))
            levels: set[float] = set()
            for index, target in enumerate(report.targets):
                if (param, metric, target) not in series:
                    continue
                level, mean, lo, hi = np.array(sorted(series[(param, metric, target)])).T
                levels.update(value for value in level.tolist() if math.isfinite(value))
                ax.fill_between(level, lo, hi, color=color(index), alpha=0.2, linewidth=0)
                ax.plot(level, mean, color=color(index), marker=marker(index), markeredgewidth=0,
                        markersize=(6.4 if len(level) <= 15 else 4.4) * PT)
            ax.set(title=f"{metric} vs {param}", xlabel=PARAM_UNITS.get(param, param), ylabel=metric_unit(metric) or metric)
            if len(levels) <= 8:
                ticks = sorted(levels)
                labels = [f"{value:g}" for value in ticks]
                rotate = sum(text_width(label, 9) for label in labels) > 230
                ax.set_xticks(ticks, labels, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                              rotation_mode="anchor")
        figs[f"effects_{param}"] = canvas.save(out / f"effects_{_slug(param)}.svg")
    return figs


def heatmaps(report, out: Path) -> dict[str, Path]:
    """Mean metric over each pair of swept parameters (from the ``heatmaps`` table)."""
    table = report.tables.get("heatmaps")
    figs = {}
    if table is None or table.empty:
        return figs
    cols = [table[c].tolist() for c in ("target", "param_x", "param_y", "metric", "value_x", "value_y", "mean")]
    maps: dict[tuple, dict] = {}
    for target, param_x, param_y, metric, value_x, value_y, mean in zip(*cols):
        cells = maps.setdefault((target, param_x, param_y, metric), {})
        cells.setdefault((float(value_x), float(value_y)), []).append(float(mean))
    for (target, param_x, param_y, metric), cells in maps.items():
        xs = sorted({x for x, _ in cells})
        ys = sorted({y for _, y in cells})
        means = {level: math.fsum(values) / len(values) for level, values in cells.items()}
        grid = np.array([[means.get((x, y), np.nan) for x in xs] for y in ys])  # row j: level j of param_y
        canvas = _heatmap(target, param_x, param_y, metric, xs, ys, grid)
        figs[f"heatmap_{target}_{param_x}_{param_y}_{metric}"] = canvas.save(
            out / f"heatmap_{_slug(target, param_x, param_y, metric)}.svg")
    return figs


def _labelled(levels: list[float], most: int = 20) -> tuple[list[int], list[str]]:
    """Positions and labels of every k-th level, so that at most ``most`` are labelled."""
    positions = list(range(0, len(levels), -(-len(levels) // most)))
    return positions, [f"{levels[i]:g}" for i in positions]


def _heatmap(target: str, param_x: str, param_y: str, metric: str, xs: list, ys: list, grid: np.ndarray) -> Canvas:
    xname, yname = PARAM_UNITS.get(param_x, param_x), PARAM_UNITS.get(param_y, param_y)
    annotate = grid.size <= 144  # values written in the cells: they need room
    cw = max(34.0 if annotate else 9.0, min(56.0, 480 / len(xs)))
    ch = max(20.0 if annotate else 7.0, min(40.0, 320 / len(ys)), (text_width(yname, 10) + 12) / len(ys))  # room for the y label
    (xticks, xlab), (yticks, ylab) = _labelled(xs), _labelled(ys)
    widest_x = max(text_width(label, 9) for label in xlab)
    rotate = widest_x > cw * len(xs) / len(xticks) - 4
    left = 24 + max(text_width(label, 9) for label in ylab) + 22
    top = 66
    gw, gh = cw * len(xs), ch * len(ys)
    below = (widest_x * 0.71 + 16 if rotate else 22) + 22
    known = grid[np.isfinite(grid)]
    lo, hi = (float(known.min()), float(known.max())) if known.size else (0.0, 1.0)
    vmin, vmax = (lo, hi) if hi > lo else (lo - 1, lo + 1)  # a single value: the middle colour
    title = f"{metric} by {param_x} and {param_y} ({target})"
    sub = "mean over prompts, crossed part only"
    unit = f"colour: {metric_label(metric)}"
    width = max(left + gw + 80, *(text_width(text, size) + 24 for text, size in ((title, 12), (sub, 10), (unit, 10))))
    canvas = Canvas(width, top + gh + below + 8, title)
    canvas.text(12, 18, title, 12, fontweight="bold")
    canvas.text(12, 34, sub, 10, color=MUTED)
    canvas.text(12, 50, unit, 10, color=MUTED)
    ax = canvas.axes((left, top, gw, gh))
    ax.grid(False)
    ax.set_facecolor(MISSING)  # cells without a value
    edges_x, edges_y = np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5  # first level at the bottom
    mesh = ax.pcolormesh(edges_x, edges_y, np.ma.masked_invalid(grid), cmap="cividis", vmin=vmin, vmax=vmax,
                         rasterized=True)  # the cells as one image: no seams, a small file
    if annotate:
        for (row, col), value in np.ndenumerate(grid):
            if math.isfinite(value):
                ax.text(col, row, f"{value:.2g}", ha="center", va="center", fontsize=9 * PT,
                        color="#fff" if (value - vmin) / (vmax - vmin) < 0.5 else "#000")
    ax.set_xticks(xticks, xlab, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor")
    ax.set_yticks(yticks, ylab)
    ax.set(xlabel=xname, ylabel=yname)
    bar = canvas.figure.colorbar(mesh, cax=canvas.axes((left + gw + 16, top, 12, gh)))
    bar.outline.set_edgecolor(FRAME)
    bar.ax.yaxis.set_major_formatter(StrMethodFormatter("{x:.3g}"))
    if hi <= lo:
        bar.set_ticks([lo])
    return canvas


def pareto(report, out: Path) -> dict[str, Path]:
    """All cells on (down, up), each model's Pareto front joined, the recommended cell starred."""
    table = report.tables["pareto"]
    if table.empty:
        return {}
    up, down = report.opts.pareto.up, report.opts.pareto.down
    title = f"Pareto front: {up} up vs {down} down (one point per cell, mean over prompts)"
    xs, ys = np.array(_floats(table[down])), np.array(_floats(table[up]))
    targets = table["target"].to_numpy()
    front = table["on_front"].to_numpy(dtype=bool) & np.isfinite(xs) & np.isfinite(ys)
    recommended = np.array([value is True or value == 1 for value in table["recommended"].tolist()], dtype=bool)
    several = len(report.targets) > 1
    entries = []
    for index, target in enumerate(report.targets):
        entries.append((target, color(index), marker(index)))
        entries.append(("Pareto front" + (f" ({target})" if several else ""), color(index) if several else INK, "-"))
    if recommended.any():
        entries.append(("recommended", HIGHLIGHT, "*"))
    width = max(660, text_width(title, 12) + 24)
    extra = _header(width, entries, 10.5)
    canvas = Canvas(width, 480 + extra, title)
    canvas.text(12, 20, title, 12, fontweight="bold")
    canvas.legend(12, 35, entries, 10.5)
    ax = canvas.axes((84, 66 + extra, 540, 340))
    ax.set(xlabel=f"{metric_label(down)}  (lower is better)", ylabel=f"{metric_label(up)}  (higher is better)")
    for index, target in enumerate(report.targets):
        mine = targets == target
        ax.plot(xs[mine], ys[mine], linestyle="none", marker=marker(index), markersize=7 * PT, color=color(index), alpha=0.75,
                markeredgewidth=0)
        edge = sorted(zip(xs[mine & front].tolist(), ys[mine & front].tolist()))
        if edge:
            edge_x, edge_y = zip(*edge)
            ax.step(edge_x, edge_y, where="post", color=color(index) if several else INK, linewidth=1.3 * PT)
            ax.plot(edge_x, edge_y, linestyle="none", marker="o", markersize=12 * PT, markerfacecolor="none",
                    markeredgecolor=INK, markeredgewidth=1 * PT)
    ax.plot(xs[recommended], ys[recommended], linestyle="none", marker="*", markersize=20 * PT, color=HIGHLIGHT,
            markeredgecolor=INK, markeredgewidth=1 * PT)
    return {"pareto": canvas.save(out / "pareto.svg")}


def lengths(report, out: Path) -> dict[str, Path]:
    """Distribution of completion lengths per model, with each max_tokens cap marked."""
    completions = report.data.completions
    if "completion_tokens" not in completions:
        return {}
    ok = completions["error"].isna().to_numpy(copy=True) if "error" in completions else np.ones(len(completions), dtype=bool)
    tokens = pd.to_numeric(completions["completion_tokens"], errors="coerce").to_numpy(dtype=float)
    ok &= np.isfinite(tokens)
    if not ok.any():
        return {}
    caps = sorted(pd.to_numeric(completions["max_tokens"], errors="coerce")[ok].dropna().unique().tolist()) if "max_tokens" in completions else []
    top = max([float(tokens[ok].max()), *caps])
    edges = np.linspace(0, top + 1, min(60, int(top) + 2))
    target_of = dict(zip(report.cells["cell_id"], report.cells["target"]))
    code = {target: k for k, target in enumerate(report.targets)}
    cell_codes, cell_ids = pd.factorize(completions["cell_id"])  # one pass over the rows, then one lookup per cell
    which = np.array([code.get(target_of.get(cell), -1) for cell in cell_ids], dtype=int)[cell_codes]
    hists = [np.histogram(tokens[ok & (which == k)], bins=edges)[0] for k in range(len(report.targets))]
    title = "Completion length distribution (dashed: max_tokens cap)"
    entries = [(f"{target} (n={int(hist.sum())})", color(index), "-")
               for index, (target, hist) in enumerate(zip(report.targets, hists))]
    if caps:
        entries.append(("max_tokens cap", INK, "--"))
    extra = _header(660, entries, 10.5)
    canvas = Canvas(660, 420 + extra, title)
    canvas.text(12, 20, title, 12, fontweight="bold")
    canvas.legend(12, 35, entries, 10.5)
    ax = canvas.axes((84, 66 + extra, 540, 290))
    ymax = max(int(hist.max()) for hist in hists) if hists else 1
    ax.set(xlim=(0, float(edges[-1])), ylim=(0, ymax * 1.05 or 1), xlabel="completion tokens (server count)",
           ylabel="completions (count)")
    for index, hist in enumerate(hists):
        ax.stairs(hist, edges, color=color(index), linewidth=1.6 * PT)
    for cap in caps[:8]:
        ax.axvline(cap, color=INK, linewidth=1 * PT, linestyle=(0, (5, 4)))
    return {"lengths": canvas.save(out / "lengths.svg")}


def model_deltas(report, out: Path) -> dict[str, Path]:
    """Per model pair: difference (b - a) per key metric, over all shared settings and per
    setting (first 25), with CIs."""
    table = report.tables["model_pairs"]
    figs = {}
    if table.empty:
        return figs
    conf = int(round(report.opts.confidence * 100))
    rows: dict[tuple, dict[str, list]] = {}  # (a, b) -> metric -> [(label, is_all, diff, lo, hi)], one pass
    cols = [table[c].tolist() for c in ("target_a", "target_b", "metric", "setting_id", "setting", "diff", "ci_low", "ci_high")]
    for target_a, target_b, metric, setting_id, setting, diff, lo, hi in zip(*cols):
        per = rows.setdefault((target_a, target_b), {}).setdefault(metric, [])
        if len(per) < 26:
            is_all = setting_id == "(all)"
            per.append(("ALL settings" if is_all else str(setting)[:32], is_all, *_floats((diff, lo, hi))))
    for (target_a, target_b), by_metric in rows.items():
        keys = [metric for metric in report.key_metrics if metric in by_metric]
        if keys:
            canvas = _deltas(target_a, target_b, [(metric, by_metric[metric]) for metric in keys], conf)
            figs[f"model_deltas_{target_a}_vs_{target_b}"] = canvas.save(
                out / f"model_deltas_{_slug(target_a, 'vs', target_b)}.svg")
    return figs


def _deltas(target_a: str, target_b: str, metric_rows: list[tuple[str, list]], conf: int) -> Canvas:
    labels = [[row[0] for row in rows] for _, rows in metric_rows]
    shared = all(lab == labels[0] for lab in labels)  # the same rows in each panel: labelled on the first column
    label_width = max(text_width(label, 9) for lab in labels for label in lab) + 10
    most_rows = max(len(lab) for lab in labels)
    title = f"Model comparison {target_b} minus {target_a}: paired by setting and prompt, {conf}% CI"
    boxes, width, height = panels(len(metric_rows), 3, 210, 14.0 * most_rows + 6, 12 + label_width, 52,
                                  28 if shared else 28 + label_width, 64)
    canvas = Canvas(max(width, text_width(title, 12) + 24), height - 64 + 58, title)
    canvas.text(12, 20, title, 12, fontweight="bold")
    for panel, (box, (metric, rows)) in enumerate(zip(boxes, metric_rows)):
        ax = canvas.axes(box)
        ax.grid(False, axis="y")
        ax.axvline(0, color=INK, linewidth=0.9 * PT)
        for is_all, ink in ((False, ROWS), (True, HIGHLIGHT)):
            at = [j for j, row in enumerate(rows) if row[1] == is_all]
            diff, lo, hi = (np.array([rows[j][field] for j in at], dtype=float) for field in (2, 3, 4))
            ax.hlines(at, lo, hi, colors=ink, linewidth=1.2 * PT)
            ax.plot(np.concatenate([lo, hi]), at * 2, linestyle="none", marker="|", markersize=5 * PT, color=ink)
            ax.plot(diff, at, linestyle="none", marker="o", markersize=6 * PT, markeredgewidth=0, color=ink)
        ax.set_yticks(range(len(rows)), labels[panel] if not shared or panel % 3 == 0 else [""] * len(rows), fontsize=9.5 * PT)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row at the top
        ax.set_title(metric, fontsize=10.5 * PT)
        ax.set_xlabel(f"{target_b} - {target_a}", fontsize=9.5 * PT)
        ax.tick_params(axis="x", labelsize=8.5 * PT)
    return canvas


def draw_all(report, out: Path) -> dict[str, Path]:
    """Every figure the page shows, drawn in the report's style; returns {name: svg path} in display order."""
    figs: dict[str, Path] = {}
    with style():
        for draw in (effects, heatmaps, pareto, lengths, model_deltas):
            figs.update(draw(report, out))
    return figs
