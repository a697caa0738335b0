"""``hfsweep export``: completions joined with their per-sample scores, as JSON lines and CSV."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfsweep.reports.export import export
from hfsweep.core.errors import ReportError
from tests.cli_helpers import ROOT, run_cli

RUN = ROOT / "tests" / "fixtures" / "report_sweep" / "0"
KEYS = ["cell_id", "prompt_id", "sample_index"]


@pytest.fixture
def run(tmp_path) -> Path:
    shutil.copytree(RUN, tmp_path / "run")
    return tmp_path / "run"


def _check(df: pd.DataFrame) -> None:
    comp = pd.read_parquet(RUN / "completions.parquet")
    scores = pd.read_parquet(RUN / "scores.parquet")
    assert len(df) == len(comp) == 72
    assert list(df.columns[:len(comp.columns)]) == list(comp.columns)
    assert {"seq_rep_4", "loop", "words", "truncated"} <= set(df.columns)
    merged = df.merge(scores[KEYS + ["seq_rep_4", "words"]], on=KEYS, suffixes=("", "_want"))
    assert len(merged) == len(scores) == 71
    np.testing.assert_allclose(merged["seq_rep_4"], merged["seq_rep_4_want"], rtol=1e-12)
    np.testing.assert_array_equal(merged["words"], merged["words_want"])
    error = df[df["error"].notna() & (df["error"] != "")]
    assert len(error) == 1 and error["error"].iloc[0] == "http_422" and error["seq_rep_4"].isna().all()
    assert df["text"].str.contains("<script>alert(1)</script>", regex=False).sum() == 1


def test_jsonl(run):
    path, rows = export(run)
    assert path == run / "export.jsonl" and rows == 72
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 72 and json.loads(lines[0])["prompt_id"] == "p0"
    _check(pd.read_json(path, lines=True, dtype=False))


def test_csv(run, tmp_path):
    path, rows = export(run, "csv", tmp_path / "out" / "joined.csv")
    assert path == tmp_path / "out" / "joined.csv" and rows == 72
    _check(pd.read_csv(path, keep_default_na=True))


def test_not_a_run_dir(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        export(tmp_path / "nope")
    with pytest.raises(ReportError, match="No run directory found"):
        export(tmp_path)
    with pytest.raises(ReportError, match="Unknown export format 'xml'"):
        export(RUN, "xml")


def test_cli(run, tmp_path):
    done = run_cli(["export", str(run), "--format", "csv", "--out", str(tmp_path / "x.csv")])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"exported 72 completions with their scores: {tmp_path / 'x.csv'}"
    bad = run_cli(["export", str(tmp_path / "no_such_run")])
    assert bad.returncode == 2
    assert bad.stderr.startswith("hfsweep: Run directory") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
