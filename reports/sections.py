"""The data of each section of the report page, for its template ``templates/sections/ID.html``.

Each function takes the report (and the figures drawn) and returns the variables of its
section's template: tables as :class:`reports.pagetable.Table`, figures as :class:`Figure`,
the rest plain values. The templates hold the markup and the prose; Jinja escapes every value.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hfsweep.reports.formatting import fnum
from hfsweep.reports.holtzman_table import PAPER
from hfsweep.reports.node_claims import predicted
from hfsweep.reports.pagetable import TO_CELL, TO_CELL_BY_NAME, baseline_links, model_links, table
from hfsweep.reports.viewer import viewer_data


@dataclass
class Figure:
    """A figure file embedded as a data: image (SVG or PNG)."""

    caption: str
    src: str  # the data: URL
    name: str  # the file's name in plots/
    small: bool = False


def figure(path: Path, caption: str, small: bool = False) -> Figure:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    mime = "image/svg+xml" if Path(path).suffix == ".svg" else "image/png"
    return Figure(caption, f"data:{mime};base64,{data}", Path(path).name, small)


def _figures(figs: dict[str, Path], prefix: str, caption: str, small: bool = False) -> list[Figure]:
    """The figures named ``prefix*``, captioned ``caption`` + the rest of the name."""
    return [figure(path, caption + name[len(prefix):], small) for name, path in figs.items() if name.startswith(prefix)]


def summary(report, figs) -> dict:
    facts = report.summary
    grid = pd.DataFrame([{"parameter": k, "values": ", ".join(fnum(v, 6) for v in vals)} for k, vals in facts["grid"].items()])
    return {
        "summary": facts, "targets": report.targets, "swept": report.swept,
        "error_pct": 100 * facts["errors"] / max(1, facts["completions"]),
        "target_table": table(pd.DataFrame(facts["targets"]), sortable=False),
        "grid": table(grid, sortable=False),
        "failed": table(pd.DataFrame(facts["failed"]), sortable=False) if facts["failed"] else None,
        "failed_count": len(facts["failed"]), "warnings": facts["warnings"],
    }


def server(report, figs) -> dict:
    """What served each target (report.tables["server"], reports/server.py), then per target its
    defaults beside what the sweep sent."""
    defaults = report.tables["server_defaults"]
    headers = {"server_default": "server default", "sent": "sent by the sweep"}
    return {
        "servers": table(report.tables["server"], sortable=False),
        "targets": [(label, table(group, ["parameter", "server_default", "sent"], sortable=False, headers=headers))
                    for label, group in defaults.groupby("target", sort=False)],
    }


def leaderboard(report, figs) -> dict:
    cm = report.tables["cell_metrics"]
    keys = report.key_metrics
    df = report.cells[["cell_id", "target", "setting"]].copy()
    for metric in keys:
        rows = cm[cm["metric"] == metric].set_index("cell_id")
        df[metric], df[metric + "_lo"], df[metric + "_hi"] = (df["cell_id"].map(rows[c]) for c in ("mean", "ci_low", "ci_high"))
    df["prompts (n)"] = df["cell_id"].map(cm.groupby("cell_id")["n"].max())
    err = report.tables["errors"].set_index("cell_id")
    df["error_rate"] = df["cell_id"].map(err["error_rate"])
    df["truncated_rate"] = df["cell_id"].map(err["truncated_rate"])
    highlight = report.tables["pareto"]["recommended"].tolist() if "recommended" in report.tables["pareto"] else None
    cols = ["target", "setting", *keys, "prompts (n)", "error_rate", "truncated_rate"]
    if "search" in report.tables:  # an adaptive search: dropped cells were sampled on fewer prompts
        df["search"] = df["cell_id"].map(report.tables["search"].set_index("cell_id")["status"])
        cols.append("search")
    few = cm[cm["note"].str.startswith("fewer")]
    return {
        "confidence": int(round(report.opts.confidence * 100)), "few": few["cell_id"].nunique(),
        "cells": table(df, cols, page=report.opts.page_rows, highlight=highlight,
                       ci={m: (m + "_lo", m + "_hi") for m in keys}, links=TO_CELL),
    }


def effects(report, figs) -> dict:
    design, friedman = report.tables["design"], report.tables["friedman"]
    uncrossed = design[design["part_levels"] == ""] if len(design) else design
    keyed = friedman[friedman["metric"].isin(report.key_metrics)] if not friedman.empty else friedman
    return {
        "design": table(design, ["target", "parameter", "levels", "part_levels", "held", "cells_used", "cells", "note"],
                        sortable=False) if len(design) else None,
        "uncrossed": ", ".join(sorted(set(uncrossed["parameter"]))) if len(uncrossed) else "",
        "duplicates": report.notes.get("duplicates") or "",
        "friedman": None if friedman.empty else table(
            keyed, ["target", "parameter", "levels", "metric", "n", "dropped", "statistic", "p", "p_adj", "note"],
            page=report.opts.page_rows),
        "figures": _figures(figs, "effects_", "Effect of "), "swept": bool(report.swept),
    }


def heatmaps(report, figs) -> dict:
    return {"figures": _figures(figs, "heatmap_", "Heatmap ", small=True), "max_heatmaps": report.opts.max_heatmaps}


_PAIR_COLS = ["metric", "diff", "n", "p", "p_adj", "mdd"]


def baseline(report, figs) -> dict:
    pb = report.tables["paired_baseline"]
    keyed = pb[pb["metric"].isin(report.key_metrics)]
    return {
        "baseline": report.notes["baseline"],
        "pairs": table(keyed, ["target", "setting", *_PAIR_COLS, "note"], page=report.opts.page_rows,
                       ci={"diff": ("ci_low", "ci_high")}, links=baseline_links(report)) if len(keyed) else None,
    }


def settings(report, figs) -> dict | None:
    """None (no section) when no settings need comparing pairwise and nothing needs saying."""
    sp = report.tables["setting_pairs"]
    if sp.empty and not report.notes.get("setting_pairs"):
        return None
    keyed = sp[sp["metric"].isin(report.key_metrics)]
    return {
        "warning": report.notes.get("setting_pairs") or "",
        "pairs": table(keyed, ["target", "setting_a", "setting_b", *_PAIR_COLS], page=report.opts.page_rows,
                       ci={"diff": ("ci_low", "ci_high")}) if len(sp) else None,
    }


def models(report, figs) -> dict | None:
    """None (no section) with one model."""
    mp = report.tables["model_pairs"]
    if mp.empty:
        return None
    keyed = mp[mp["metric"].isin(report.key_metrics)]
    return {
        "pairs": table(keyed, ["target_a", "target_b", "setting", *_PAIR_COLS], page=report.opts.page_rows,
                       ci={"diff": ("ci_low", "ci_high")}, links=model_links(report)),
        "figures": _figures(figs, "model_deltas_", "Model deltas "),
    }


def search(report, figs) -> dict | None:
    """The adaptive search's allocation (only for search runs, else None: no section): spend
    against the full grid, why it stopped, its leader, and requests per cell per round with
    each drop's evidence."""
    if "search" not in report.tables:
        return None
    alloc = report.tables["search"]
    return {"searches": report.summary["searches"],
            "allocation": table(alloc, [c for c in alloc.columns if c != "cell_id"], page=report.opts.page_rows,
                                links=TO_CELL)}


def pareto(report, figs) -> dict:
    pa, rec = report.tables["pareto"], report.tables["recommendation"]
    up, down = report.opts.pareto.up, report.opts.pareto.down
    front = pa[pa["on_front"]].sort_values(down, kind="stable") if not pa.empty else pa
    return {
        "recommendation": report.notes["recommendation"],
        "chosen": table(rec, ["target", "setting", "metric", "value", "constraints", "runner_up", "diff", "n", "p",
                              "p_holm", "note"], sortable=False,
                        ci={"value": ("ci_low", "ci_high"), "diff": ("diff_ci_low", "diff_ci_high")}) if len(rec) else None,
        "up": up, "down": down, "cells": len(pa), "on_front": len(front),
        "front": table(front, ["target", "setting", up, down, "recommended"], ci={up: (f"{up}_ci_low", f"{up}_ci_high")},
                       links=TO_CELL) if not pa.empty else None,
        "figure": figure(figs["pareto"], "Pareto scatter") if "pareto" in figs else None,
    }


def quality(report, figs) -> dict:
    er, us = report.tables["errors"], report.tables["usage"]
    return {
        "with_errors": int((er["errors"] > 0).sum()), "cells": len(er),
        "errors": table(er, ["target", "setting", "requests", "errors", "error_rate", "top_error", "top_error_count",
                             "top_error_message", "truncated_rate", "empty_rate"], page=report.opts.page_rows, links=TO_CELL),
        "usage": table(us, [c for c in us.columns if c != "cell_id"], page=report.opts.page_rows, links=TO_CELL),
        "figure": figure(figs["lengths"], "Completion lengths") if "lengths" in figs else None,
    }


def decoding(report, figs) -> dict | None:
    """None (no section) without named settings (the decoding presets)."""
    dec = report.tables["decoding"]
    if dec.empty:
        return None
    return {
        "note": report.notes["decoding"],
        "decoding": None if dec.empty else table(
            dec, ["target", "setting_name", "texts", "perplexity", "self_bleu4", "zipf", "repetition_pct", "paper_method",
                  "paper_perplexity", "paper_self_bleu4", "paper_zipf", "paper_repetition_pct"],
            page=report.opts.page_rows, links=TO_CELL_BY_NAME),
        "paper": table(PAPER.drop(columns=["setting_name"]), sortable=False),
    }


def identical(report, figs) -> dict | None:
    """None (no section) when no two cells gave identical outputs."""
    ic = report.tables["identical_cells"]
    if ic.empty:
        return None
    return {"groups": ic["group"].nunique() if len(ic) else 0,
            "cells": table(ic, ["group", "target", "setting", "outputs"], links=TO_CELL) if len(ic) else None}


def node_claims(report, figs) -> dict | None:
    """The node's options, checked (reports/node_claims.py): None (no section) unless the run is sweep=node_claims."""
    claims = report.tables.get("node_claims")
    if claims is None:
        return None
    predictions = {option: predicted(option, report.notes.get("node_claims_compat", "")) for option in claims["option"]}
    shown = claims.assign(predicted=[f"{verdict} ({why})" for verdict, why in predictions.values()])
    differ = [o for o, v in zip(claims["option"], claims["verdict"]) if predictions[o][0] != v]
    return {"note": report.notes.get("node_claims", ""), "differ": differ, "alpha": fnum(1 - report.opts.confidence),
            "claims": table(shown, ["option", "claim", "verdict", "evidence", "advice", "predicted"], sortable=False,
                            headers={"claim": "the node's documentation says", "predicted": "the node's mapping predicts"})}


def families(report, figs) -> dict | None:
    """Sampler families at an equal budget (reports/families.py): None (no section) unless the run has sweep.families."""
    if "families" not in report.notes:
        return None
    bests, pairs = report.tables.get("families"), report.tables.get("family_pairs")
    return {"note": report.notes["families"].splitlines(), "alpha": fnum(1 - report.opts.confidence),
            "bests": table(bests, ["family", "cells", "setting", "selection_mean", "value"], sortable=False,
                           ci={"value": ("ci_low", "ci_high")}, links=TO_CELL,
                           headers={"selection_mean": "mean on the selection half", "value": "held-out mean [CI]"})
            if bests is not None and len(bests) else None,
            "pairs": table(pairs, ["family_a", "family_b", "diff", "n", "p", "p_holm", "decided"], sortable=False,
                           ci={"diff": ("diff_ci_low", "diff_ci_high")},
                           headers={"diff": "a - b [CI]", "n": "held-out prompts", "p_holm": "p (Holm)", "decided": "better"})
            if pairs is not None and len(pairs) else None}


def compare(report, figs) -> dict:
    data, note = viewer_data(report)
    return {"note": note, "data": data}


#: (id, title, the data of its template: None leaves the section out) in page order.
def verdict(report, figs) -> dict:
    """The answer first: the verdict's lines, then the warnings that change how they read."""
    return {"lines": [line for line in report.verdict if not line.startswith("warning: ")],
            "warnings": [line.removeprefix("warning: ") for line in report.verdict if line.startswith("warning: ")]}


SECTIONS = [
    ("verdict", "Verdict", verdict), ("node_claims", "The node's options, checked", node_claims),
    ("families", "Sampler families", families), ("leaderboard", "Leaderboard", leaderboard),
    ("effects", "Effects of parameters", effects), ("heatmaps", "Heatmaps", heatmaps),
    ("baseline", "Cells vs baseline", baseline), ("settings", "Settings compared pairwise", settings),
    ("models", "Model comparison", models), ("search", "Adaptive search", search),
    ("pareto", "Pareto front and recommendation", pareto), ("quality", "Errors, truncation, tokens, latency", quality),
    ("decoding", "Decoding strategies vs the paper", decoding), ("identical", "Identical cells", identical),
    ("compare", "Compare outputs", compare), ("server", "Server", server), ("summary", "Run summary", summary),
]
