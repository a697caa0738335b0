"""Report figures as small hand-written SVG (``reports.svg``; no plotting package is imported).

Each figure is drawn from a computed table, so the CSV behind it is the golden-tested one;
each is written to ``plots/NAME.svg`` and embedded in the page by ``reports.html.figure``.
Only the figures the page shows are drawn. Palette: Okabe-Ito (colour-blind safe), with a
marker shape per model as well; heatmaps use cividis.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from hfsweep.reports.svg import CIVIDIS, INK, MUTED, Axes, Svg, cividis, color, finite, marker, nice_ticks, padded, panels, text_width

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


def metric_unit(m: str) -> str:
    """The unit of a metric ('' when unknown).

    >>> metric_unit("seq_rep_4"), metric_unit("judge_score")
    ('fraction of repeated n-grams', '')
    """
    return next((unit for pat, unit in _UNITS if re.fullmatch(pat + r".*", m)), "")


def metric_label(m: str) -> str:
    """Axis label with the metric's unit."""
    unit = metric_unit(m)
    return f"{m} ({unit})" if unit else m


def _slug(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(map(str, parts)))[:120]


def _save(svg: Svg, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg.render(), encoding="utf-8")
    return path


def _floats(values) -> list[float]:
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def effects(rep, out: Path) -> dict[str, Path]:
    """One figure per swept parameter: each key metric vs the level, one line per model with
    its CI band (from the ``effects`` table)."""
    eff = rep.tables["effects"]
    keys = list(rep.key_metrics)
    if eff.empty or not keys:
        return {}
    series: dict[tuple, list] = {}  # (parameter, metric, target) -> [(level, mean, low, high)], one pass
    held: dict[str, set] = {}
    has_held = "held" in eff  # the crossed part each effect was measured on, where the table says
    wanted = set(keys)
    cols = [eff[c].tolist() for c in ("parameter", "metric", "target", "level", "mean", "ci_low", "ci_high")]
    cols.append(eff["held"].tolist() if has_held else [None] * len(eff))
    for p, m, t, lv, mean, lo, hi, hd in zip(*cols):
        if m in wanted:
            series.setdefault((p, m, t), []).append((*_floats((lv, mean, lo, hi)),))
            held.setdefault(p, set()).add(str(hd))
    conf = int(round(rep.opts["confidence"] * 100))
    figs = {}
    for p in rep.swept:
        present = [m for m in keys if any((p, m, t) in series for t in rep.targets)]
        if not present:
            continue
        if has_held:
            hs = held.get(p, set())
            what = f"on its crossed part ({next(iter(hs)) if len(hs) == 1 else 'per model: tables/design.csv'})"
        else:
            what = "(other parameters averaged)"
        title = f"Effect of {p} {what}: mean over prompts, {conf}% bootstrap CI"
        boxes, w, h = panels(len(present), 3, 250, 165, 78, 92, 96, 82)
        svg = Svg(max(w - 96 + 24, text_width(title, 13) + 24), h - 82 + 62, title)
        svg.text(12, 22, title, 13, weight="600")
        svg.legend(12, 46, [(t, color(k), marker(k)) for k, t in enumerate(rep.targets)], size=11)
        for box, m in zip(boxes, present):
            lines = [(k, sorted(series[(p, m, t)])) for k, t in enumerate(rep.targets) if (p, m, t) in series]
            xs = [r[0] for _, s in lines for r in s]
            ys = [v for _, s in lines for r in s for v in r[1:]]
            ax = Axes(svg, box, padded(xs), padded(ys))
            levels = sorted({x for x in xs if finite(x)})
            ticks = levels if len(levels) <= 8 else nice_ticks(ax.x0, ax.x1)
            ax.frame(title=f"{m} vs {p}", xlabel=PARAM_UNITS.get(p, p), ylabel=metric_unit(m) or m, xticks=ticks,
                     rotate_x=len(levels) <= 8 and sum(text_width(f"{v:g}", 9) for v in levels) > 230)
            for k, s in lines:
                x, mean, lo, hi = (list(c) for c in zip(*s))
                ax.band(x, lo, hi, color(k))
                ax.line(x, mean, color(k))
                ax.points(x, mean, marker(k), 3.2 if len(x) <= 15 else 2.2, color(k))
        figs[f"effects_{p}"] = _save(svg, out / f"effects_{_slug(p)}.svg")
    return figs


def heatmaps(rep, out: Path) -> dict[str, Path]:
    """Mean metric over each pair of swept parameters (from the ``heatmaps`` table)."""
    hm = rep.tables.get("heatmaps")
    figs = {}
    if hm is None or hm.empty:
        return figs
    cols = [hm[c].tolist() for c in ("target", "param_x", "param_y", "metric", "value_x", "value_y", "mean")]
    maps: dict[tuple, dict] = {}
    for t, p1, p2, m, vx, vy, v in zip(*cols):
        cell = maps.setdefault((t, p1, p2, m), {})
        cell.setdefault((float(vx), float(vy)), []).append(float(v))
    for (t, p1, p2, m), cells in maps.items():
        xs = sorted({x for x, _ in cells})
        ys = sorted({y for _, y in cells})
        grid = {k: math.fsum(v) / len(v) for k, v in cells.items()}
        figs[f"heatmap_{t}_{p1}_{p2}_{m}"] = _save(_heatmap(t, p1, p2, m, xs, ys, grid),
                                                   out / f"heatmap_{_slug(t, p1, p2, m)}.svg")
    return figs


def _thin(labels: list[str], most: int = 20) -> list[str]:
    """Every k-th label kept (the rest blank) so that at most ``most`` show."""
    k = -(-len(labels) // most)
    return [s if i % k == 0 else "" for i, s in enumerate(labels)]


def _heatmap(t, p1, p2, m, xs, ys, grid) -> Svg:
    xname, yname = PARAM_UNITS.get(p1, p1), PARAM_UNITS.get(p2, p2)
    annotate = len(xs) * len(ys) <= 144  # values written in the cells: they need room
    cw = max(34.0 if annotate else 9.0, min(56.0, 480 / len(xs)))
    ch = max(20.0 if annotate else 7.0, min(40.0, 320 / len(ys)), (text_width(yname, 10) + 12) / len(ys))  # room for the y label
    xlab, ylab = _thin([f"{v:g}" for v in xs]), _thin([f"{v:g}" for v in ys])
    rotate = max(text_width(s, 9) for s in xlab) > cw * (len(xs) / max(1, sum(1 for s in xlab if s))) - 4
    left = 24 + max(text_width(s, 9) for s in ylab) + 22
    top = 66
    gw, gh = cw * len(xs), ch * len(ys)
    below = (max(text_width(s, 9) for s in xlab) * 0.71 + 16 if rotate else 22) + 22
    vals = [v for v in grid.values() if finite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    title = f"{m} by {p1} and {p2} ({t})"
    sub = "mean over prompts, crossed part only"
    unit = f"colour: {metric_label(m)}"
    width = max(left + gw + 80, *(text_width(s, z) + 24 for s, z in ((title, 12), (sub, 10), (unit, 10))))
    svg = Svg(width, top + gh + below + 8, title)
    svg.text(12, 18, title, 12, weight="600")
    svg.text(12, 34, sub, 10, fill=MUTED)
    svg.text(12, 50, unit, 10, fill=MUTED)
    for j, y in enumerate(ys):
        py = top + (len(ys) - 1 - j) * ch  # first level at the bottom
        for i, x in enumerate(xs):
            v = grid.get((x, y), float("nan"))
            px = left + i * cw
            if not finite(v):
                svg.rect(px, py, cw, ch, "#f2f2f2")
                continue
            f = (v - lo) / (hi - lo) if hi > lo else 0.5
            svg.rect(px, py, cw + 0.3, ch + 0.3, cividis(f))
            if annotate:
                svg.text(px + cw / 2, py + ch / 2, f"{v:.2g}", 9, anchor="middle", middle=True,
                         fill="#fff" if f < 0.5 else "#000")
    ax = Axes(svg, (left, top, gw, gh), (-0.5, len(xs) - 0.5), (-0.5, len(ys) - 0.5))
    ax.frame(xlabel=xname, ylabel=yname, xticks=range(len(xs)), yticks=range(len(ys)),
             xticklabels=xlab, yticklabels=ylab, grid="", rotate_x=rotate)
    # colour bar
    bx = left + gw + 16
    stops = "".join(f'<stop offset="{k / (len(CIVIDIS) - 1):.1f}" stop-color="{c}"/>' for k, c in enumerate(CIVIDIS))
    svg.defs.append(f'<linearGradient id="cb" x1="0" y1="1" x2="0" y2="0">{stops}</linearGradient>')
    svg.rect(bx, top, 12, gh, "url(#cb)", stroke="#999")
    ticks = [v for v in nice_ticks(lo, hi, 4) if lo <= v <= hi] if hi > lo else [lo]
    for v in ticks:
        py = top + gh - ((v - lo) / (hi - lo) if hi > lo else 0.5) * gh
        svg.line(bx + 12, py, bx + 15, py, MUTED)
        svg.text(bx + 17, py, f"{v:.3g}", 9, fill=MUTED, middle=True)
    return svg


def pareto(rep, out: Path) -> dict[str, Path]:
    """All cells on (down, up), each model's Pareto front joined, the recommended cell starred."""
    df = rep.tables["pareto"]
    if df.empty:
        return {}
    up, down = rep.opts["pareto"]["up"], rep.opts["pareto"]["down"]
    title = f"Pareto front: {up} up vs {down} down (one point per cell, mean over prompts)"
    svg = Svg(max(660, text_width(title, 12) + 24), 480, title)
    svg.text(12, 20, title, 12, weight="600")
    x, y = _floats(df[down]), _floats(df[up])
    ax = Axes(svg, (84, 66, 540, 340), padded(x), padded(y))
    ax.frame(xlabel=f"{metric_label(down)}  (lower is better)", ylabel=f"{metric_label(up)}  (higher is better)")
    targets, front, rec = df["target"].tolist(), df["on_front"].tolist(), df["recommended"].tolist()
    several = len(rep.targets) > 1
    entries = []
    for k, t in enumerate(rep.targets):
        idx = [i for i, tt in enumerate(targets) if tt == t]
        ax.points([x[i] for i in idx], [y[i] for i in idx], marker(k), 3.5, color(k), opacity=0.75)
        f = sorted((x[i], y[i]) for i in idx if front[i] and finite(x[i]) and finite(y[i]))
        if f:
            d = f"M{ax.px(f[0][0]):.1f} {ax.py(f[0][1]):.1f}" + "".join(
                f"H{ax.px(a):.1f}V{ax.py(b):.1f}" for a, b in f[1:])  # steps-post
            svg.path(d, color(k) if several else INK, 1.3)
            for a, b in f:
                svg.marker(ax.px(a), ax.py(b), "o", 6, "none", stroke=INK)
        entries.append((t, color(k), marker(k)))
        entries.append(("Pareto front" + (f" ({t})" if several else ""), color(k) if several else INK, "-"))
    r = [i for i, v in enumerate(rec) if v is True or v == 1]
    for i in r:
        if finite(x[i]) and finite(y[i]):
            svg.marker(ax.px(x[i]), ax.py(y[i]), "*", 11, "#D55E00", stroke=INK)
    if r:
        entries.append(("recommended", "#D55E00", "*"))
    svg.legend(12, 42, entries, size=10.5)
    return {"pareto": _save(svg, out / "pareto.svg")}


def lengths(rep, out: Path) -> dict[str, Path]:
    """Distribution of completion lengths per model, with each max_tokens cap marked."""
    import numpy as np
    import pandas as pd

    comp = rep.data.completions
    if "completion_tokens" not in comp:
        return {}
    ok = comp["error"].isna().to_numpy(copy=True) if "error" in comp else np.ones(len(comp), dtype=bool)
    vals = pd.to_numeric(comp["completion_tokens"], errors="coerce").to_numpy(dtype=float)
    ok &= np.isfinite(vals)
    if not ok.any():
        return {}
    caps = sorted(pd.to_numeric(comp["max_tokens"], errors="coerce")[ok].dropna().unique().tolist()) if "max_tokens" in comp else []
    top = max([float(vals[ok].max()), *caps])
    edges = np.linspace(0, top + 1, min(60, int(top) + 2))
    target_of = dict(zip(rep.cells["cell_id"], rep.cells["target"]))
    code = {t: k for k, t in enumerate(rep.targets)}
    cell_codes, cell_ids = pd.factorize(comp["cell_id"])  # one pass over the rows, then one lookup per cell
    which = np.array([code.get(target_of.get(c), -1) for c in cell_ids], dtype=int)[cell_codes]
    hists = [(k, t, np.histogram(vals[ok & (which == k)], bins=edges)[0]) for k, t in enumerate(rep.targets)]
    title = "Completion length distribution (dashed: max_tokens cap)"
    svg = Svg(660, 420, title)
    svg.text(12, 20, title, 12, weight="600")
    ymax = max(int(h.max()) for _, _, h in hists) if hists else 1
    ax = Axes(svg, (84, 66, 540, 290), (0, float(edges[-1])), (0, ymax * 1.05 or 1))
    ax.frame(xlabel="completion tokens (server count)", ylabel="completions (count)")
    entries = []
    for k, t, h in hists:
        d = f"M{ax.px(edges[0]):.1f} {ax.py(0):.1f}" + "".join(
            f"V{ax.py(c):.1f}H{ax.px(edges[i + 1]):.1f}" for i, c in enumerate(h)) + f"V{ax.py(0):.1f}"
        svg.path(d, color(k), 1.6)
        entries.append((f"{t} (n={int(h.sum())})", color(k), "-"))
    for cap in caps[:8]:
        svg.line(ax.px(cap), ax.y, ax.px(cap), ax.y + ax.h, INK, 1, dash="5 4")
    if caps:
        entries.append(("max_tokens cap", INK, "--"))
    svg.legend(12, 42, entries, size=10.5)
    return {"lengths": _save(svg, out / "lengths.svg")}


def model_deltas(rep, out: Path) -> dict[str, Path]:
    """Per model pair: difference (b - a) per key metric, over all shared settings and per
    setting (first 25), with CIs."""
    mp = rep.tables["model_pairs"]
    figs = {}
    if mp.empty:
        return figs
    conf = int(round(rep.opts["confidence"] * 100))
    rows: dict[tuple, dict[str, list]] = {}  # (a, b) -> metric -> [(label, is_all, diff, lo, hi)], one pass
    cols = [mp[c].tolist() for c in ("target_a", "target_b", "metric", "setting_id", "setting", "diff", "ci_low", "ci_high")]
    for a, b, m, sid, st, diff, lo, hi in zip(*cols):
        per = rows.setdefault((a, b), {}).setdefault(m, [])
        if len(per) < 26:
            per.append(("ALL settings" if sid == "(all)" else str(st)[:32], sid == "(all)", *_floats((diff, lo, hi))))
    for (a, b), by_metric in rows.items():
        keys = [m for m in rep.key_metrics if m in by_metric]
        if not keys:
            continue
        labels = [[r[0] for r in by_metric[m]] for m in keys]
        shared = all(lab == labels[0] for lab in labels)
        lw = max(text_width(s, 9) for lab in labels for s in lab) + 10
        nrow = max(len(lab) for lab in labels)
        title = f"Model comparison {b} minus {a}: paired by setting and prompt, {conf}% CI"
        ph = 14.0 * nrow + 6
        boxes, w, h = panels(len(keys), 3, 210, ph, 12 + lw, 52, 28 if shared else 28 + lw, 64)
        svg = Svg(max(w, text_width(title, 12) + 24), h - 64 + 58, title)
        svg.text(12, 20, title, 12, weight="600")
        for i, (box, m) in enumerate(zip(boxes, keys)):
            r = by_metric[m]
            xs = [v for row in r for v in row[2:]]
            ax = Axes(svg, box, padded(xs, include=(0,)), (len(r) - 0.5, -0.5))
            show = not shared or i % 3 == 0
            ax.frame(title=m, xlabel=f"{b} - {a}", yticks=range(len(r)), yticklabels=[row[0] for row in r] if show else [""] * len(r),
                     grid="x", size=9.5)
            svg.line(ax.px(0), ax.y, ax.px(0), ax.y + ax.h, INK, 0.9)
            for j, (_, is_all, diff, lo, hi) in enumerate(r):
                c = "#D55E00" if is_all else "#0072B2"
                py = ax.py(j)
                if finite(lo) and finite(hi):
                    svg.line(ax.px(lo), py, ax.px(hi), py, c, 1.2)
                    for v in (lo, hi):
                        svg.line(ax.px(v), py - 2.5, ax.px(v), py + 2.5, c, 1)
                if finite(diff):
                    svg.marker(ax.px(diff), py, "o", 3, c)
        figs[f"model_deltas_{a}_vs_{b}"] = _save(svg, out / f"model_deltas_{_slug(a, 'vs', b)}.svg")
    return figs


def draw_all(rep, out: Path) -> dict[str, Path]:
    """Every figure the page shows; returns {name: svg path} in display order."""
    figs: dict[str, Path] = {}
    for fn in (effects, heatmaps, pareto, lengths, model_deltas):
        figs.update(fn(rep, out))
    return figs
