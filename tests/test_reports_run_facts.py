"""The per-cell tables computed from raw completions, vectorised, against the row-by-row
definitions in hfsweep.core.records (with string columns stored both ways pandas stores them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hfsweep.reports import run_facts
from hfsweep.reports.load import cell_table
from hfsweep.core import records

TEXTS = ["a story", "", "   \n\x1c ", "hello <|im_start|> there", "x [INST] y", "None", "plain", "<end_of_turn>"]


def completions(string_dtype) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for c in range(6):
        for p in range(4):
            for s in range(3):
                err = [None, None, None, "http_503", "timeout", ""][rng.integers(0, 6)]
                text = None if err else TEXTS[rng.integers(0, len(TEXTS))]
                rows.append(dict(cell_id=f"c{c}", setting_id=f"s{c}", setting_name="", target_kind="endpoint", model="m",
                                 endpoint="http://x", provider=None, mode="chat", temperature=float(c), top_k=0, top_p=1.0,
                                 frequency_penalty=0.0, presence_penalty=0.0, max_tokens=16, seed=s, prompt_id=f"p{p}",
                                 sample_index=s, text=text, error=err,
                                 error_message=None if err is None else ["Service Unavailable", None][rng.integers(0, 2)],
                                 finish_reason=None if err else ["length", "stop", None][rng.integers(0, 3)]))
    df = pd.DataFrame(rows)
    # cell c5 repeats cell c4's outputs exactly: the two are identical
    for col in ("text", "error", "error_message", "finish_reason"):
        df.loc[df["cell_id"] == "c5", col] = df.loc[df["cell_id"] == "c4", col].to_numpy()
    for col in ("text", "error", "error_message", "finish_reason"):
        df[col] = df[col].astype(object).where(df[col].notna(), None).astype(string_dtype)
    return df


@pytest.mark.parametrize("string_dtype", [object, "str"])
def test_errors_table_matches_the_row_definitions(string_dtype):
    comp = completions(string_dtype)
    table = run_facts.errors_table(comp, cell_table(comp)).set_index("cell_id")
    for cid, g in comp.astype(object).where(comp.notna(), None).groupby("cell_id"):
        err = [records.is_error(e) for e in g["error"]]
        ok = len(g) - sum(err)
        row = table.loc[cid]
        assert row["requests"] == len(g) and row["errors"] == sum(err)
        trunc = sum(records.is_truncated(e, f) for e, f in zip(g["error"], g["finish_reason"]))
        empty = sum(records.is_empty(e, t) for e, t in zip(g["error"], g["text"]))
        leaked = sum(isinstance(t, str) and any(k in t for k in run_facts.TEMPLATE_TOKENS) for t in g["text"])
        assert row["truncated_rate"] == pytest.approx(trunc / ok)
        assert row["empty_rate"] == pytest.approx(empty / ok)
        assert row["template_tokens_rate"] == pytest.approx(leaked / ok)
        kinds = g[err].groupby(["error", "error_message"], dropna=False, sort=False).size()
        if len(kinds):
            assert row["top_error_count"] == kinds.max()
            assert row["top_error"] == kinds.idxmax()[0]
        else:
            assert (row["top_error"], row["top_error_count"]) == ("", 0)


@pytest.mark.parametrize("string_dtype", [object, "str"])
def test_identical_cells_groups_exact_repeats_only(string_dtype):
    comp = completions(string_dtype)
    table = run_facts.identical_cells(comp, cell_table(comp))
    assert table["cell_id"].tolist() == ["c4", "c5"] and set(table["group"]) == {1}
    assert (table["outputs"] == 12).all()
    changed = comp.copy()
    i = changed.index[(changed["cell_id"] == "c5") & changed["error"].isna()][0]
    changed.loc[i, "text"] = changed.loc[i, "text"] + " "  # one character of one output differs
    assert run_facts.identical_cells(changed, cell_table(changed)).empty


def test_template_warning_counts_leaked_outputs():
    comp = completions("str")
    leaked = sum(isinstance(t, str) and any(k in t for k in run_facts.TEMPLATE_TOKENS) for t in comp["text"].astype(object))
    warning = run_facts._template_warning(comp)
    assert leaked and warning[0].startswith(f"{leaked} of {len(comp)} outputs")
