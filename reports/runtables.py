"""Tables computed from the raw completions: errors, usage, identical cells, run summary."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from reports.load import PARAMS, RunData
from sweeps import records


def _col(df: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


# Chat-template tokens that leak into outputs when a model is fed a template it does not know.
TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>", "[INST]", "<|eot_id|>")


def errors_table(comp: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: requests, errors, error rate, most common error kind and message,
    truncation rate (finish_reason ``length`` among non-error rows), empty-output rate, and the
    share of outputs holding chat-template tokens."""
    err = _col(comp, "error", None).astype(object)
    text = _col(comp, "text", None).astype(object)
    fin = _col(comp, "finish_reason", None).astype(object)
    df = pd.DataFrame({
        "cell_id": comp["cell_id"], "is_err": records.error_mask(comp), "error": err,
        "message": _col(comp, "error_message", None).astype(object),
        "truncated": [records.is_truncated(e, f) for e, f in zip(err, fin)],
        "empty": [records.is_empty(e, t) for e, t in zip(err, text)],
        "template": [isinstance(t, str) and any(token in t for token in TEMPLATE_TOKENS) for t in text],
    })
    rows = []
    for cid, g in df.groupby("cell_id", sort=False):
        n, ne = len(g), int(g["is_err"].sum())
        ok = n - ne
        kind = msg = ""
        kcount = 0
        if ne:
            e = g[g["is_err"]]
            counts = e.groupby(["error", "message"], dropna=False, sort=False).size().sort_values(ascending=False, kind="stable")
            (kind, msg), kcount = counts.index[0], int(counts.iloc[0])
            kind = "" if kind is None or kind != kind else str(kind)
            msg = "" if msg is None or msg != msg else str(msg)
        rows.append((cid, n, ne, ne / n if n else np.nan, kind, kcount, msg,
                     g["truncated"].sum() / ok if ok else np.nan, g["empty"].sum() / ok if ok else np.nan,
                     g["template"].sum() / ok if ok else np.nan))
    out = pd.DataFrame(rows, columns=["cell_id", "requests", "errors", "error_rate", "top_error",
                                      "top_error_count", "top_error_message", "truncated_rate", "empty_rate",
                                      "template_tokens_rate"])
    return cells[["cell_id", "target", "setting"]].merge(out, on="cell_id", how="left")


def usage_table(comp: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: token counts and latency (error rows included in latency and retries)."""
    df = pd.DataFrame({
        "cell_id": comp["cell_id"],
        "prompt_tokens": pd.to_numeric(_col(comp, "prompt_tokens"), errors="coerce").astype(float),
        "completion_tokens": pd.to_numeric(_col(comp, "completion_tokens"), errors="coerce").astype(float),
        "latency_s": pd.to_numeric(_col(comp, "latency_s"), errors="coerce").astype(float),
        "retries": pd.to_numeric(_col(comp, "retries", 0), errors="coerce").astype(float),
        "cached": _col(comp, "cached", False).astype(object).fillna(False).astype(bool),
    })
    g = df.groupby("cell_id", sort=False)
    out = pd.DataFrame({
        "prompt_tokens_mean": g["prompt_tokens"].mean(),
        "completion_tokens_mean": g["completion_tokens"].mean(),
        "completion_tokens_sum": g["completion_tokens"].sum(min_count=1),
        "latency_mean_s": g["latency_s"].mean(),
        "latency_p50_s": g["latency_s"].median(),
        "latency_p95_s": g["latency_s"].quantile(0.95),
        "retries": g["retries"].sum(),
        "cached_rate": g["cached"].mean(),
    }).reset_index()
    return cells[["cell_id", "target", "setting"]].merge(out, on="cell_id", how="left")


def identical_cells(comp: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Groups of >= 2 cells whose outputs are identical for every prompt and sample (seed).

    Compared on all rows of the cell: (prompt_id, sample_index, seed, text), an error row
    counting as its error kind. Cells with different prompts or sample counts never match.
    """
    err = _col(comp, "error", None).astype(object)
    text = _col(comp, "text", None).astype(object)
    out_txt = np.where(err.notna(), "\x00error:" + err.astype(str), text.astype(str))
    df = pd.DataFrame({
        "cell_id": comp["cell_id"].astype(str), "prompt_id": comp["prompt_id"].astype(str),
        "sample_index": _col(comp, "sample_index", 0).astype(str), "seed": _col(comp, "seed", 0).astype(str),
        "out": out_txt,
    }).sort_values(["cell_id", "prompt_id", "sample_index"], kind="stable")
    df["line"] = df["prompt_id"] + "\x1f" + df["sample_index"] + "\x1f" + df["seed"] + "\x1f" + df["out"]
    digest = {cid: hashlib.sha256("\x1e".join(g["line"]).encode("utf-8", "surrogatepass")).hexdigest()
              for cid, g in df.groupby("cell_id", sort=False)}
    size = df.groupby("cell_id").size()
    c = cells[["cell_id", "target", "setting"]].copy()
    c["digest"] = c["cell_id"].map(digest)
    c["outputs"] = c["cell_id"].map(size)
    groups = [g for _, g in c.groupby("digest", sort=False) if len(g) > 1]
    rows = []
    for k, g in enumerate(groups, start=1):
        for r in g.itertuples():
            rows.append((k, r.cell_id, r.target, r.setting, int(r.outputs)))
    return pd.DataFrame(rows, columns=["group", "cell_id", "target", "setting", "outputs"])


def _template_warning(comp: pd.DataFrame) -> list[str]:
    text = _col(comp, "text", None).astype(object)
    leaked = sum(isinstance(t, str) and any(token in t for token in TEMPLATE_TOKENS) for t in text)
    if not leaked:
        return []
    return [f"{leaked} of {len(comp)} outputs hold chat-template tokens (e.g. <|im_start|>): a model was fed a chat "
            "template it does not know (see template_tokens_rate per cell; model.mode=text for a base model)"]


def run_summary(data: RunData, cells: pd.DataFrame) -> dict:
    """Counts and settings for the summary section, from completions (authoritative) and
    summary.json files (wall time, warnings; any field may be missing)."""
    comp = data.completions
    n_err = int(records.error_mask(comp).sum())

    def total(key):
        vals = [s.get(key) for s in data.summaries if isinstance(s.get(key), (int, float))]
        return float(sum(vals)) if vals else None

    grid = {p: sorted(cells[p].dropna().unique().tolist()) for p in PARAMS if p in cells}
    targets = cells.drop_duplicates("target")[["target", "target_kind", "model", "endpoint", "provider", "mode"]]
    return {
        "runs": [str(d) for d in data.run_dirs if (d / records.COMPLETIONS).is_file()],
        "run_ids": sorted(set(comp["run_id"].astype(str))) if "run_id" in comp else [],
        "sweeps": sorted({str(s["sweep"]) for s in data.summaries if s.get("sweep")}),
        "targets": targets.to_dict("records"),
        "grid": grid,
        "cells": len(cells),
        "prompts": int(comp["prompt_id"].nunique()),
        "samples": int(pd.to_numeric(_col(comp, "sample_index", 0)).max() + 1) if len(comp) else 0,
        "completions": len(comp),
        "errors": n_err,
        "cached": int(_col(comp, "cached", False).astype(object).fillna(False).astype(bool).sum()),
        "retries": int(pd.to_numeric(_col(comp, "retries", 0), errors="coerce").fillna(0).sum()),
        "prompt_tokens": int(pd.to_numeric(_col(comp, "prompt_tokens"), errors="coerce").fillna(0).sum()),
        "completion_tokens": int(pd.to_numeric(_col(comp, "completion_tokens"), errors="coerce").fillna(0).sum()),
        "wall_s": total("wall_s"),
        "started_at": min((str(s["started_at"]) for s in data.summaries if s.get("started_at")), default=None),
        "finished_at": max((str(s["finished_at"]) for s in data.summaries if s.get("finished_at")), default=None),
        "warnings": list(data.warnings) + _template_warning(comp),
        "failed": list(data.failed),
    }
