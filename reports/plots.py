"""Report figures (matplotlib Agg, PNG). Each figure is drawn from a computed table, so the
CSV behind it is the golden-tested one. Palette: Okabe-Ito (colour-blind safe)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
DPI = 90

PARAM_UNITS = {
    "temperature": "temperature (unitless)", "top_k": "top_k (tokens; 0 = off)",
    "top_p": "top_p (probability mass)", "frequency_penalty": "frequency penalty (logit units)",
    "presence_penalty": "presence penalty (logit units)", "max_tokens": "max_tokens (tokens)",
}


def metric_label(m: str) -> str:
    """Axis label with the metric's unit."""
    rules = [
        (r"seq_rep_\d", "fraction of repeated n-grams"), (r"distinct_\d", "distinct / total n-grams"),
        (r"self_bleu", "BLEU (0-1)"), (r"loop_rate|loop", "fraction of samples looping"),
        (r"rep_w", "fraction of repeated tokens"), (r"words", "count, default tokenizer"),
        (r"chars", "characters"), (r"tokens", "tokens (server count)"), (r"truncated", "fraction hitting max_tokens"),
        (r"empty", "fraction empty"), (r"compression_ratio", "bytes / gzip bytes"),
        (r"ngram_entropy", "entropy (nats)"), (r"zipf", "Zipf coefficient"),
    ]
    for pat, unit in rules:
        if re.fullmatch(pat + r".*", m):
            return f"{m} ({unit})"
    return m


def _slug(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(map(str, parts)))[:120]


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _grid(n: int, ncols: int = 3, w: float = 4.2, h: float = 3.2):
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def effects(rep, out: Path) -> dict[str, Path]:
    """One figure per swept parameter: each key metric vs the level, one line per model."""
    eff = rep.tables["effects"]
    keys = rep.key_metrics
    figs = {}
    conf = int(round(rep.opts["confidence"] * 100))
    for p in rep.swept:
        d = eff[(eff["parameter"] == p) & eff["metric"].isin(keys)]
        if d.empty:
            continue
        fig, axes = _grid(len(keys))
        for ax, m in zip(axes, keys):
            for k, t in enumerate(rep.targets):
                s = d[(d["metric"] == m) & (d["target"] == t)].sort_values("level")
                if s.empty:
                    continue
                x = s["level"].astype(float).to_numpy()
                c = OKABE_ITO[k % len(OKABE_ITO)]
                ax.plot(x, s["mean"], marker=MARKERS[k % len(MARKERS)], color=c, label=t)
                ax.fill_between(x, s["ci_low"].astype(float), s["ci_high"].astype(float), color=c, alpha=0.2, linewidth=0)
            ax.set_xlabel(PARAM_UNITS.get(p, p))
            ax.set_ylabel(metric_label(m), fontsize=8)
            ax.set_title(f"{m} vs {p}", fontsize=10)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8, title="model")
        helds = d["held"].unique() if "held" in d else []
        held = helds[0] if len(helds) == 1 else "per model: tables/design.csv"
        fig.suptitle(f"Effect of {p} on its crossed part ({held}): mean over prompts, {conf}% bootstrap CI")
        fig.tight_layout()
        figs[f"effects_{p}"] = _save(fig, out / f"effects_{_slug(p)}.png")
    return figs


def heatmaps(rep, out: Path) -> dict[str, Path]:
    """Mean metric over each pair of swept parameters (from the ``heatmaps`` table)."""
    hm = rep.tables.get("heatmaps")
    figs = {}
    if hm is None or hm.empty:
        return figs
    for (t, p1, p2, m), d in hm.groupby(["target", "param_x", "param_y", "metric"], sort=False):
        piv = d.pivot_table(index="value_y", columns="value_x", values="mean", aggfunc="mean")
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * max(4, piv.shape[1]), 1.2 + 0.5 * max(4, piv.shape[0])))
        im = ax.imshow(piv.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="cividis")
        ax.set_xticks(range(piv.shape[1]), [f"{v:g}" for v in piv.columns], rotation=45, fontsize=8)
        ax.set_yticks(range(piv.shape[0]), [f"{v:g}" for v in piv.index], fontsize=8)
        ax.set_xlabel(PARAM_UNITS.get(p1, p1))
        ax.set_ylabel(PARAM_UNITS.get(p2, p2))
        if piv.size <= 144:
            vals = piv.to_numpy(dtype=float)
            lim = np.nanmean(vals) if np.isfinite(vals).any() else 0
            for (i, j), v in np.ndenumerate(vals):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color="white" if v < lim else "black")
        fig.colorbar(im, ax=ax, label=metric_label(m))
        ax.set_title(f"{m} by {p1} and {p2} ({t})\nmean over prompts, crossed part only", fontsize=9)
        figs[f"heatmap_{t}_{p1}_{p2}_{m}"] = _save(fig, out / f"heatmap_{_slug(t, p1, p2, m)}.png")
    return figs


def pareto(rep, out: Path) -> dict[str, Path]:
    """All cells on (down, up), the Pareto front joined, the recommended cell ringed."""
    df = rep.tables["pareto"]
    if df.empty:
        return {}
    up, down = rep.opts["pareto"]["up"], rep.opts["pareto"]["down"]
    fig, ax = plt.subplots(figsize=(7, 5))
    for k, t in enumerate(rep.targets):
        d = df[df["target"] == t]
        c = OKABE_ITO[k % len(OKABE_ITO)]
        ax.scatter(d[down], d[up], s=22, color=c, marker=MARKERS[k % len(MARKERS)], alpha=0.75, label=t)
        f = d[d["on_front"]].sort_values(down)  # each model's own front
        ax.plot(f[down], f[up], color=c, linewidth=1.2, drawstyle="steps-post",
                label="Pareto front" + (f" ({t})" if len(rep.targets) > 1 else ""))
        ax.scatter(f[down], f[up], s=70, facecolors="none", edgecolors="black")
    r = df[df["recommended"]]
    if not r.empty:
        ax.scatter(r[down], r[up], s=260, marker="*", color="#D55E00", edgecolors="black", zorder=5, label="recommended")
    ax.set_xlabel(f"{metric_label(down)}  (lower is better)")
    ax.set_ylabel(f"{metric_label(up)}  (higher is better)")
    ax.set_title(f"Pareto front: {up} up vs {down} down (one point per cell, mean over prompts)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return {"pareto": _save(fig, out / "pareto.png")}


def lengths(rep, out: Path) -> dict[str, Path]:
    """Distribution of completion lengths per model, with each max_tokens cap marked."""
    comp = rep.data.completions
    ok = comp[comp["error"].isna()] if "error" in comp else comp
    col, unit = "completion_tokens", "completion tokens (server count)"
    vals = pd.to_numeric(ok[col], errors="coerce") if col in ok else pd.Series(dtype=float)
    if vals.notna().sum() == 0:
        return {}
    fig, ax = plt.subplots(figsize=(7, 4))
    caps = sorted(pd.to_numeric(ok["max_tokens"], errors="coerce").dropna().unique()) if "max_tokens" in ok else []
    top = max([vals.max(), *caps]) if caps else vals.max()
    bins = np.linspace(0, top + 1, min(60, int(top) + 2))
    for k, t in enumerate(rep.targets):
        models = rep.cells.loc[rep.cells["target"] == t, "cell_id"]
        v = vals[ok["cell_id"].isin(models)].dropna()
        ax.hist(v, bins=bins, histtype="step", linewidth=1.6, color=OKABE_ITO[k % len(OKABE_ITO)], label=f"{t} (n={len(v)})")
    for i, cap in enumerate(caps[:8]):
        ax.axvline(cap, color="black", linestyle="--", linewidth=1, label="max_tokens cap" if i == 0 else None)
    ax.set_xlabel(unit)
    ax.set_ylabel("completions (count)")
    ax.set_title("Completion length distribution (dashed: max_tokens cap)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return {"lengths": _save(fig, out / "lengths.png")}


def model_deltas(rep, out: Path) -> dict[str, Path]:
    """Per model pair: difference (b - a) per key metric, over all shared settings and per
    setting (first 25), with CIs."""
    mp = rep.tables["model_pairs"]
    figs = {}
    if mp.empty:
        return figs
    for (a, b), d in mp.groupby(["target_a", "target_b"], sort=False):
        keys = [m for m in rep.key_metrics if m in set(d["metric"])]
        fig, axes = _grid(len(keys), ncols=3, w=4.4, h=0.6 + 0.22 * min(26, d["setting_id"].nunique()))
        for ax, m in zip(axes, keys):
            s = d[d["metric"] == m].head(26).iloc[::-1]
            y = np.arange(len(s))
            lo = (s["diff"] - s["ci_low"]).clip(lower=0).fillna(0)
            hi = (s["ci_high"] - s["diff"]).clip(lower=0).fillna(0)
            allrow = (s["setting_id"] == "(all)").to_numpy()
            for mask, c in ((allrow, "#D55E00"), (~allrow, "#0072B2")):
                if mask.any():
                    ax.errorbar(s["diff"][mask], y[mask], xerr=[lo[mask], hi[mask]], fmt="o", color=c,
                                markersize=3.5, capsize=2)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_yticks(y, [("ALL settings" if sid == "(all)" else st)[:32] for sid, st in zip(s["setting_id"], s["setting"])],
                          fontsize=6)
            ax.set_xlabel(f"{b} - {a}: {metric_label(m)}", fontsize=8)
            ax.set_title(m, fontsize=9)
            ax.grid(alpha=0.3, axis="x")
        fig.suptitle(f"Model comparison {b} minus {a}: paired by setting and prompt, {int(rep.opts['confidence'] * 100)}% CI")
        fig.tight_layout()
        figs[f"model_deltas_{a}_vs_{b}"] = _save(fig, out / f"model_deltas_{_slug(a, 'vs', b)}.png")
    return figs


def draw_all(rep, out: Path) -> dict[str, Path]:
    """Every figure; returns {name: png path} in display order."""
    figs: dict[str, Path] = {}
    for fn in (effects, heatmaps, pareto, lengths, model_deltas):
        figs.update(fn(rep, out))
    return figs
