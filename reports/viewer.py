"""Data for the page's output viewer (section ``#compare``), bounded in size.

The viewer shows, for one prompt, every cell's outputs side by side. Its data is one JSON
object (read by ``reports/viewer_assets.py``):

* ``cells``: ``[cell_id, target, setting]`` in grid order; ``baseline``: index of the
  default baseline cell (the report's baseline setting, first target);
* ``metrics``: the per-sample metric names present among :data:`VIEWER_METRICS`;
* ``prompts``: ``[prompt_id, prompt text]`` for the embedded prompts;
* ``texts``: every distinct output once (an error row's text is its message); ``cut`` maps
  the index of a text shortened for the page to its full length;
* ``outputs``: ``{cell index: {prompt_id: [[sample_index, text index, finish_reason, error,
  [metric values]], ...]}}``; two outputs with the same text index have the same full text;
* ``more``: ``{cell index: {prompt_id: total}}`` where samples were left out.

``report.browser`` (max_prompts, max_samples, max_chars, max_bytes) bounds it; when the data
is over ``max_bytes`` texts are cut first, then samples per prompt, then prompts, and the
note says which and how many. Every output stays in ``completions.parquet``.
"""

from __future__ import annotations

import json
import math

import pandas as pd

#: Per-sample metrics shown as badges and offered to the viewer's filters (those present).
VIEWER_METRICS = ("loop", "seq_rep_4", "words", "truncated", "check_pass", "perplexity")
KEYS = ["cell_id", "prompt_id", "sample_index"]


def _round(v):
    if v is None or isinstance(v, str):
        return None
    f = float(v)
    return None if math.isnan(f) else float(f"{f:.4g}")


def _str(v) -> str | None:
    return v if isinstance(v, str) and v else None


def _joined(rep, metrics: list[str]) -> pd.DataFrame:
    """Completions in file order with their per-sample metric values (NaN where none)."""
    comp = rep.data.completions.copy()
    comp["prompt_id"] = comp["prompt_id"].astype(str)
    comp["sample_index"] = pd.to_numeric(comp["sample_index"]).astype(int)
    if not metrics:
        return comp
    s = rep.data.scores[KEYS + metrics].copy()
    s["prompt_id"] = s["prompt_id"].astype(str)
    s["sample_index"] = pd.to_numeric(s["sample_index"]).astype(int)
    s = s.drop_duplicates(KEYS)
    s[metrics] = s[metrics].astype(float)
    return comp.merge(s, on=KEYS, how="left", suffixes=("", "_score"))


def _build(df: pd.DataFrame, cells: pd.DataFrame, pids: list[str], max_samples: int, max_chars: int,
           metrics: list[str]) -> dict:
    index = {c: i for i, c in enumerate(cells["cell_id"])}
    keep = df[df["prompt_id"].isin(pids) & (df["sample_index"] < max_samples)].sort_values("sample_index", kind="stable")
    texts: list[str] = []
    ids: dict[tuple, int] = {}
    cut: dict[str, int] = {}
    outputs: dict[str, dict[str, list]] = {}
    cols = [keep[c].tolist() if c in keep else [None] * len(keep)
            for c in ("cell_id", "prompt_id", "sample_index", "text", "finish_reason", "error", "error_message")]
    values = list(zip(*(keep[m].tolist() for m in metrics))) if metrics else [()] * len(keep)
    for (cid, pid, si, text, fin, err, msg), vals in zip(zip(*cols), values):
        err = _str(err)
        key = ("error", err, _str(msg)) if err else ("text", text if isinstance(text, str) else "")
        ti = ids.get(key)
        if ti is None:
            ti = ids[key] = len(texts)
            body = (key[2] or "(no text: error)") if err else key[1]
            if len(body) > max_chars:
                cut[str(ti)] = len(body)
                body = body[:max_chars]
            texts.append(body)
        row = [int(si), ti, _str(fin), err, [_round(v) for v in vals]]
        outputs.setdefault(str(index[cid]), {}).setdefault(pid, []).append(row)
    totals = df[df["prompt_id"].isin(pids)].groupby(["cell_id", "prompt_id"], sort=False).size()
    more: dict[str, dict[str, int]] = {}
    for (cid, pid), n in totals.items():
        shown = len(outputs.get(str(index[cid]), {}).get(pid, []))
        if shown < n:
            more.setdefault(str(index[cid]), {})[pid] = int(n)
    return {"texts": texts, "cut": cut, "outputs": outputs, "more": more, "shown": len(keep)}


def _baseline_index(rep) -> int:
    label = rep.notes.get("baseline")
    hits = [i for i, s in enumerate(rep.cells["setting"]) if s == label]
    return hits[0] if hits else 0


def viewer_data(rep) -> tuple[dict, str]:
    """(data for the viewer script, note on what is embedded) within ``report.browser`` limits."""
    b = rep.opts["browser"]
    cells = rep.cells
    metrics = [m for m in VIEWER_METRICS if m in rep.data.scores.columns]
    df = _joined(rep, metrics)
    all_prompts = list(dict.fromkeys(df["prompt_id"]))
    prompt_text = df.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    n_prompts, max_chars = min(len(all_prompts), int(b["max_prompts"])), int(b["max_chars"])
    max_samples = int(b["max_samples"])
    while True:
        pids = all_prompts[:n_prompts]
        built = _build(df, cells, pids, max_samples, max_chars, metrics)
        data = {
            "cells": [[r.cell_id, r.target, r.setting] for r in cells.itertuples()],
            "baseline": _baseline_index(rep),
            "metrics": metrics,
            "prompts": [[p, str(prompt_text.get(p, ""))[:2000]] for p in pids],
            **{k: built[k] for k in ("texts", "cut", "outputs", "more")},
        }
        size = len(json.dumps(data, ensure_ascii=True, separators=(",", ":")))
        if size <= int(b["max_bytes"]) or (n_prompts <= 1 and max_chars <= 150 and max_samples <= 1):
            break
        # shrink in the order that keeps the page most useful: long texts first (to 300
        # characters), then samples per prompt (to 2), then texts (to 150), then prompts
        if max_chars > 300:
            max_chars = max(300, int(max_chars * 0.75))
        elif max_samples > 2:
            max_samples -= 1
        elif max_chars > 150:
            max_chars = 150
        elif n_prompts > 1:
            n_prompts = max(1, int(n_prompts * 0.75))
        else:
            max_samples = 1
    return data, _note(df, all_prompts, n_prompts, max_samples, max_chars, built, size, int(b["max_bytes"]))


def _size(n: int) -> str:
    """A byte count for people.

    >>> _size(6000), _size(10_000_000)
    ('6 kB', '10 MB')
    """
    return f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n / 1e3:.3g} kB"


def _note(df, all_prompts, n_prompts, max_samples, max_chars, built, size, max_bytes) -> str:
    parts = [f"Embedded {built['shown']} of {len(df)} outputs"]
    if n_prompts < len(all_prompts):
        left = all_prompts[n_prompts:]
        named = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        parts.append(f"the first {n_prompts} of {len(all_prompts)} prompts (left out: {named})")
    if len(df) and df["sample_index"].max() >= max_samples:
        parts.append(f"samples 0-{max_samples - 1} of each prompt (of up to {int(df['sample_index'].max()) + 1})")
    if built["cut"]:
        parts.append(f"{len(built['cut'])} distinct texts cut at {max_chars} characters (marked)")
    return (", ".join(parts) + f". Data: {_size(size)} of the {_size(max_bytes)} budget (report.browser). "
            "Every output is in completions.parquet (hfsweep export writes it with its scores as JSONL or CSV). "
            "Model output is shown as plain text; bidirectional control characters are shown as [U+....].")
