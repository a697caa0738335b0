"""The ``decoding`` preset measured the paper's way, beside Holtzman et al. (2020) Table 1.

Per cell with a ``setting_name``: the texts are sample 0 of each prompt (error rows
skipped), pooled; Self-BLEU4 = ``evaluators.diversity.self_bleu(texts, max_n=4)`` (each text
against all other texts of the cell), Zipf = ``evaluators.diversity.zipf(texts)`` over pooled
counts, Repetition % = 100 x ``evaluators.repetition.loop_rate(texts)``, Perplexity = exp(-sum of
the texts' token log-probabilities / their tokens), under the model's own distribution as the
server returned it (NaN where it gave none). Tokens are hfsweep's
default word tokens, not the paper's GPT-2 BPE: orderings compare, absolute values do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hfsweep.evaluators.diversity import self_bleu, zipf
from hfsweep.evaluators.repetition import loop_rate

# Holtzman et al. 2020, Table 1 (GPT-2 Large, WebText, 5000 texts) (docs/metrics.md, "Holtzman et al. 2020, Table 1").
PAPER = pd.DataFrame(
    [
        ("Human", None, 12.38, 0.31, 0.93, 0.28),
        ("Greedy", "greedy", 1.50, 0.50, 1.00, 73.66),
        ("Pure sampling", "pure", 22.73, 0.28, 0.93, 0.22),
        ("Sampling t=0.9", "t_0.9", 10.25, 0.35, 0.96, 0.66),
        ("Top-k=40", "top_k_40", 6.88, 0.39, 0.96, 0.78),
        ("Top-k=640", "top_k_640", 13.82, 0.32, 0.96, 0.28),
        ("Top-k=40, t=0.7", "top_k_40_t_0.7", 3.48, 0.44, 1.00, 8.86),
        ("Nucleus p=0.95", "nucleus_0.95", 13.13, 0.32, 0.95, 0.36),
    ],
    columns=["method", "setting_name", "perplexity", "self_bleu4", "zipf", "repetition_pct"],
)


def _perplexity(texts: pd.DataFrame | None) -> float:
    """The cell's perplexity over its texts pooled: exp(-sum of log-probabilities / tokens),
    from the token log-probabilities the server returned (NaN without them)."""
    if texts is None or "logprob_sum" not in texts:
        return np.nan
    sums = pd.to_numeric(texts["logprob_sum"], errors="coerce")
    counts = pd.to_numeric(texts["logprob_tokens"], errors="coerce")
    ok = sums.notna() & counts.gt(0)
    return float(np.exp(-sums[ok].sum() / counts[ok].sum())) if ok.any() else np.nan


def decoding_table(completions: pd.DataFrame, cells: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Measured (paper's way) for every cell with a setting_name, with the paper's values
    for the known strategy names. Returns (table, note)."""
    named = cells[cells["setting_name"].astype(object).map(lambda s: isinstance(s, str) and s != "")]
    if named.empty:
        return pd.DataFrame(), "No named settings (e.g. the decoding preset) in these runs."
    ok = completions["error"].isna() if "error" in completions else pd.Series(True, index=completions.index)
    first = completions[ok & (completions["sample_index"] == 0) & completions["text"].notna()]
    by_cell = {cid: g for cid, g in first.groupby("cell_id", sort=False)}
    paper = PAPER.set_index("setting_name")
    rows = []
    for r in named.itertuples():
        g = by_cell.get(r.cell_id)
        texts = [] if g is None else g.drop_duplicates("prompt_id")["text"].astype(str).tolist()
        sb = float(self_bleu(texts, max_n=4)) if len(texts) >= 2 else np.nan
        zp = float(zipf(texts)) if texts else np.nan
        rp = 100.0 * float(loop_rate(texts)) if texts else np.nan
        ref = paper.loc[r.setting_name] if r.setting_name in paper.index else None
        rows.append((r.target, r.setting_name, r.cell_id, len(texts), _perplexity(g), sb, zp, rp,
                     ref["method"] if ref is not None else "",
                     ref["perplexity"] if ref is not None else np.nan,
                     ref["self_bleu4"] if ref is not None else np.nan,
                     ref["zipf"] if ref is not None else np.nan,
                     ref["repetition_pct"] if ref is not None else np.nan))
    df = pd.DataFrame(rows, columns=["target", "setting_name", "cell_id", "texts", "perplexity", "self_bleu4", "zipf",
                                     "repetition_pct", "paper_method", "paper_perplexity", "paper_self_bleu4",
                                     "paper_zipf", "paper_repetition_pct"])
    note = ("Measured as the paper aggregates (per cell, sample 0 of each prompt, texts pooled), but on hfsweep's "
            "word tokens where the paper used GPT-2's BPE tokens: Self-BLEU4 and Zipf are on another scale than the "
            "paper's columns, so compare the ordering of the strategies, not the values. "
            f"{df['texts'].max()} texts per cell here vs 5000 in the paper (GPT-2 Large, WebText), "
            "so expect wide sampling error.")
    return df, note
