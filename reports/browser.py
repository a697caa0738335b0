"""Data for the sample browser, bounded in size (the page says what was left out)."""

from __future__ import annotations

import json

import pandas as pd


def _build(comp: pd.DataFrame, cells: pd.DataFrame, prompt_ids: list[str], max_samples: int, max_chars: int):
    index = {c: i for i, c in enumerate(cells["cell_id"])}
    keep = comp[comp["prompt_id"].isin(prompt_ids) & (comp["sample_index"] < max_samples)]
    outputs: dict[str, dict[str, list]] = {}
    cut = 0
    cols = [keep[c].tolist() if c in keep else [None] * len(keep)
            for c in ("cell_id", "prompt_id", "sample_index", "text", "finish_reason", "error", "error_message")]
    for cid, pid, si, text, fin, err, msg in zip(*cols):
        if isinstance(err, str) and err:
            body, trunc = (msg if isinstance(msg, str) else "") or "(no text: error)", False
        else:
            body = text if isinstance(text, str) else ""
            trunc = len(body) > max_chars
        if trunc:
            body = body[:max_chars] + " \u2026"
            cut += 1
        outputs.setdefault(str(index[cid]), {}).setdefault(str(pid), []).append(
            [int(si), body, fin if isinstance(fin, str) else None, err if isinstance(err, str) else None, trunc])
    return outputs, len(keep), cut


def sample_data(rep) -> tuple[dict, str]:
    """(data for the page script, note on what is shown) within ``report.browser`` limits."""
    b = rep.opts["browser"]
    comp = rep.data.completions
    cells = rep.cells
    all_prompts = list(dict.fromkeys(comp["prompt_id"].astype(str)))
    prompt_text = comp.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    n_prompts, max_chars = min(len(all_prompts), int(b["max_prompts"])), int(b["max_chars"])
    max_samples = int(b["max_samples"])
    while True:
        pids = all_prompts[:n_prompts]
        outputs, shown, cut = _build(comp, cells, pids, max_samples, max_chars)
        data = {
            "cells": [[r.cell_id, r.target, r.setting] for r in cells.itertuples()],
            "prompt_ids": pids,
            "prompts": {p: str(prompt_text.get(p, ""))[:2000] for p in pids},
            "outputs": outputs,
        }
        size = len(json.dumps(data, ensure_ascii=True))
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
    total = len(comp)
    parts = [f"Showing {shown} of {total} outputs"]
    if n_prompts < len(all_prompts):
        parts.append(f"the first {n_prompts} of {len(all_prompts)} prompts")
    if comp["sample_index"].max() >= max_samples:
        parts.append(f"samples 0-{max_samples - 1} of each prompt")
    if cut:
        parts.append(f"{cut} texts cut at {max_chars} characters")
    note = (", ".join(parts) + f" (limits: report.browser, sample data budget {int(b['max_bytes']) // 1_000_000} MB). "
            "Full outputs are in completions.parquet. Model output is shown as plain text.")
    return data, note
