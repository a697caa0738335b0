"""Tables computed from the raw completions: errors, usage, identical cells, run summary."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hfsweep.core import records
from hfsweep.core.records import SWEEPABLE
from hfsweep.reports.load import RunData


def _col(df: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


# Chat-template tokens that leak into outputs when a model is fed a template it does not know.
TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>", "[INST]", "<|eot_id|>")


def _template_mask(text: pd.Series) -> np.ndarray:
    """Rows whose text (a string) holds a chat-template token."""
    arr = records.arrow_strings(text)
    if arr is None:
        return np.fromiter((isinstance(t, str) and any(token in t for token in TEMPLATE_TOKENS) for t in text),
                           dtype=bool, count=len(text))
    pattern = "|".join(re.escape(token) for token in TEMPLATE_TOKENS)  # one pass of literal alternatives
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(zero_copy_only=False)


def errors_table(completions: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: requests, errors, error rate, most common error kind and message,
    truncation rate (finish_reason ``length`` among non-error rows), empty-output rate, and the
    share of outputs holding chat-template tokens.

    Vectorised over the rows (``records.truncated_mask`` / ``records.empty_mask``).
    """
    is_err = np.asarray(records.error_mask(completions), dtype=bool)
    text = _col(completions, "text", None)
    df = pd.DataFrame({
        "cell_id": completions["cell_id"].to_numpy(), "is_err": is_err,
        "truncated": records.truncated_mask(completions),
        "empty": records.empty_mask(completions),
        "template": _template_mask(text),
    })
    g = df.groupby("cell_id", sort=False)
    out = g.agg(requests=("is_err", "size"), errors=("is_err", "sum"), truncated=("truncated", "sum"),
                empty=("empty", "sum"), template=("template", "sum"))
    n, ne = out["requests"].to_numpy(), out["errors"].to_numpy()
    ok = (n - ne).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["error_rate"] = np.where(n > 0, ne / n, np.nan)
        for col, name in (("truncated", "truncated_rate"), ("empty", "empty_rate"), ("template", "template_tokens_rate")):
            out[name] = np.where(ok > 0, out[col].to_numpy() / ok, np.nan)
    out["top_error"], out["top_error_count"], out["top_error_message"] = "", 0, ""
    if is_err.any():
        e = pd.DataFrame({"cell_id": completions["cell_id"].to_numpy()[is_err],
                          "error": _col(completions, "error", None).astype(object).to_numpy()[is_err],
                          "message": _col(completions, "error_message", None).astype(object).to_numpy()[is_err]})
        # per cell: the most frequent (kind, message); ties go to the one seen first in the cell
        counts = e.groupby(["cell_id", "error", "message"], dropna=False, sort=False).size().rename("count").reset_index()
        top = counts.loc[counts.groupby("cell_id", sort=False)["count"].idxmax()].set_index("cell_id")
        clean = lambda v: "" if v is None or v != v else str(v)  # noqa: E731
        out.loc[top.index, "top_error"] = [clean(v) for v in top["error"]]
        out.loc[top.index, "top_error_count"] = top["count"].astype(int).to_numpy()
        out.loc[top.index, "top_error_message"] = [clean(v) for v in top["message"]]
    out = out.reset_index()[["cell_id", "requests", "errors", "error_rate", "top_error", "top_error_count",
                             "top_error_message", "truncated_rate", "empty_rate", "template_tokens_rate"]]
    out["requests"] = out["requests"].astype(int)
    out["errors"] = out["errors"].astype(int)
    out["top_error_count"] = out["top_error_count"].astype(int)
    return cells[["cell_id", "target", "setting"]].merge(out, on="cell_id", how="left")


def spend_table(data: RunData) -> pd.DataFrame:
    """Per cell, from the runs' ``summary.json`` ``usage`` (``hfsweep.core.usage``): the requests
    the target made, the copies of greedy samples, their tokens and, with prices, the cost and
    what the copies saved. Empty for runs written before it was recorded."""
    rows = [cell for s in data.summaries.values() if s.usage for cell in s.usage.get("cells") or ()]
    if not rows:
        return pd.DataFrame()
    priced = any(s.usage.get("price") for s in data.summaries.values() if s.usage)
    columns = ["requests", "copies", "prompt_tokens", "completion_tokens", *(["cost", "saved_by_copies"] if priced else [])]
    frame = pd.DataFrame(rows)[["cell_id", *columns]]
    frame = frame.groupby("cell_id", sort=False).sum(min_count=1).reset_index()
    return frame.rename(columns={"prompt_tokens": "prompt_tokens_paid", "completion_tokens": "completion_tokens_paid",
                                 "cost": "cost_usd", "saved_by_copies": "saved_by_copies_usd"})  # fmt: skip


def spend_totals(data: RunData) -> dict | None:
    """The runs' ``usage`` totals summed (None when no run recorded them); a cost is None unless
    every run that recorded usage gave it (the search's saving: every run was a priced search)."""
    views = [s.usage for s in data.summaries.values() if s.usage]
    if not views:
        return None
    out = {}
    for name in ("requests", "sent", "copies", "prompt_tokens", "completion_tokens", "cost", "saved_by_copies",
                 "saved_by_search", "full_grid_cost"):  # fmt: skip
        values = [v["total"].get(name) for v in views]
        out[name] = None if any(value is None for value in values) else sum(values)
    out["prices"] = [v["price"] for v in views if v.get("price")]
    return out


def usage_table(completions: pd.DataFrame, cells: pd.DataFrame, spend: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per cell: token counts and latency (error rows included in latency and retries), and
    when the runs recorded it, what was paid (:func:`spend_table`)."""
    df = pd.DataFrame({
        "cell_id": completions["cell_id"],
        "prompt_tokens": pd.to_numeric(_col(completions, "prompt_tokens"), errors="coerce").astype(float),
        "completion_tokens": pd.to_numeric(_col(completions, "completion_tokens"), errors="coerce").astype(float),
        "latency_s": pd.to_numeric(_col(completions, "latency_s"), errors="coerce").astype(float),
        "retries": pd.to_numeric(_col(completions, "retries", 0), errors="coerce").astype(float),
        "cached": _col(completions, "cached", False).astype(object).fillna(False).astype(bool),
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
    if spend is not None and not spend.empty:
        out = out.merge(spend, on="cell_id", how="left")
    return cells[["cell_id", "target", "setting"]].merge(out, on="cell_id", how="left")


def _codes(values) -> np.ndarray:
    """Integer codes of a column (a Series or a pyarrow array): equal values, equal codes, in
    order of first appearance (nulls a code of their own)."""

    if isinstance(values, pd.Series):
        arr = records.arrow_strings(values)
        if arr is None:
            return pd.factorize(values.astype(object).astype(str))[0].astype(np.int64)
    else:
        arr = values
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.dictionary_encode(arr, null_encoding="encode").indices.to_numpy(zero_copy_only=False).astype(np.int64)


def identical_cells(completions: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Groups of >= 2 cells whose outputs are identical for every prompt and sample (seed).

    Compared on all rows of the cell: (prompt_id, sample_index, seed, output), the output being
    the text, or for an error row its error kind. Cells with different prompts or sample
    counts never match. Each row becomes integer codes (equal strings, equal codes), each cell
    the digest of its rows in a canonical order: one vectorised pass, no per-row Python.
    """
    err = _col(completions, "error", None)
    has_err = err.notna().to_numpy(dtype=bool)
    # an output is its text, or for an error row its error kind (texts and kinds coded apart)
    out = np.where(has_err, _codes(err.astype(object).where(err.notna(), "").astype(str)), _codes(_col(completions, "text", None)))
    num = lambda name: pd.to_numeric(_col(completions, name, 0), errors="coerce").fillna(-1).to_numpy(dtype=np.int64)  # noqa: E731
    key = np.column_stack([_codes(completions["prompt_id"].astype(str)), num("sample_index"), num("seed"), has_err, out])
    cell = _codes(completions["cell_id"].astype(str))
    order = np.lexsort((*key.T[::-1], cell))
    key, cell = key[order], cell[order]
    bounds = np.flatnonzero(np.diff(cell)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(cell)]
    names = pd.unique(completions["cell_id"].astype(str))  # code k is the k-th distinct cell id in row order
    digest = {names[cell[a]]: hashlib.sha256(np.ascontiguousarray(key[a:b]).tobytes()).hexdigest() for a, b in zip(starts, ends)}
    size = {names[cell[a]]: int(b - a) for a, b in zip(starts, ends)}
    c = cells[["cell_id", "target", "setting"]].copy()
    c["digest"] = c["cell_id"].map(digest)
    c["outputs"] = c["cell_id"].map(size)
    groups = [g for _, g in c.groupby("digest", sort=False) if len(g) > 1]
    rows = []
    for k, g in enumerate(groups, start=1):
        for r in g.itertuples():
            rows.append((k, r.cell_id, r.target, r.setting, int(r.outputs)))
    return pd.DataFrame(rows, columns=["group", "cell_id", "target", "setting", "outputs"])


def _template_warning(completions: pd.DataFrame) -> list[str]:
    leaked = int(_template_mask(_col(completions, "text", None)).sum())
    if not leaked:
        return []
    return [f"{leaked} of {len(completions)} outputs hold chat-template tokens (e.g. <|im_start|>): a model was fed a chat "
            "template it does not know (see template_tokens_rate per cell; model.mode=text for a base model)"]


def run_summary(data: RunData, cells: pd.DataFrame) -> dict:
    """Counts and settings for the summary section, from completions (authoritative) and
    the runs' summaries (wall time, start and end)."""
    completions = data.completions
    n_err = int(records.error_mask(completions).sum())

    summaries = list(data.summaries.values())
    walls = [s.wall_s for s in summaries if s.wall_s is not None]

    grid = {p: sorted(cells[p].dropna().unique().tolist()) for p in SWEEPABLE if p in cells}
    targets = cells.drop_duplicates("target")[["target", "target_kind", "model", "endpoint", "provider", "mode"]]
    return {
        "runs": [str(d) for d in data.run_dirs if (d / records.COMPLETIONS).is_file()],
        "run_ids": sorted(set(completions["run_id"].astype(str).unique())) if "run_id" in completions else [],
        "sweeps": sorted({s.sweep for s in summaries if s.sweep}),
        "targets": targets.to_dict("records"),
        "grid": grid,
        "cells": len(cells),
        "prompts": int(completions["prompt_id"].nunique()),
        "samples": int(pd.to_numeric(_col(completions, "sample_index", 0)).max() + 1) if len(completions) else 0,
        "completions": len(completions),
        "errors": n_err,
        "cached": int(_col(completions, "cached", False).astype(object).fillna(False).astype(bool).sum()),
        "retries": int(pd.to_numeric(_col(completions, "retries", 0), errors="coerce").fillna(0).sum()),
        "prompt_tokens": int(pd.to_numeric(_col(completions, "prompt_tokens"), errors="coerce").fillna(0).sum()),
        "completion_tokens": int(pd.to_numeric(_col(completions, "completion_tokens"), errors="coerce").fillna(0).sum()),
        "wall_s": float(sum(walls)) if walls else None,
        "started_at": min((s.started_at for s in summaries if s.started_at), default=None),
        "finished_at": max((s.finished_at for s in summaries if s.finished_at), default=None),
        "spend": spend_totals(data),
        "warnings": list(data.warnings) + _template_warning(completions),
        "failed": list(data.failed),
    }
