"""reports.sample_size.sample_size and ``hfsweep plan`` on a synthetic pilot run with known variances.

Per-sample value = cell mean + prompt effect (SD 1, cancels in pairs) + cell x prompt
interaction (SD 0.05) + sample noise (SD 0.2), 4 samples per prompt. So the paired SD of two
cells' per-prompt means is sqrt(2 * (0.05^2 + 0.2^2 / 4)) = 0.158, and with k samples
sqrt(2 * (0.05^2 + 0.2^2 / k)).
"""

from __future__ import annotations

import numpy as np
import pytest

from hfsweep.reports.power import prompts_needed
from hfsweep.core.errors import ReportError
from hfsweep.reports.sample_size import sample_size
from hfsweep.cli import main
from tests import report_synth as rs

INTERACTION, NOISE, K = 0.05, 0.2, 4


def _draw(rng, means, prompts, k):
    c = len(means)
    prompt = rng.normal(0, 1, size=(1, prompts, 1))
    inter = rng.normal(0, INTERACTION, size=(c, prompts, 1))
    return np.asarray(means)[:, None, None] + prompt + inter + rng.normal(0, NOISE, size=(c, prompts, k))


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    rng = np.random.default_rng(5)
    settings = rs.grid({"temperature": [0.3, 0.7, 1.0, 1.3]})
    x = _draw(rng, [0.0, 0.1, 0.2, 0.3], 300, K)
    group = {"spread": x.std(axis=2)}
    return rs.write_planted_run(tmp_path_factory.mktemp("pilot") / "run", settings, {"score": x}, group)


def test_plan_recovers_the_variances(pilot):
    result = sample_size(pilot, "score", 0.05)
    t = result.targets[0]
    true_sd = np.sqrt(2 * (INTERACTION ** 2 + NOISE ** 2 / K))
    assert (t.cells, t.prompts, t.samples) == (4, 300, 4)
    assert t.within_sd == pytest.approx(NOISE, rel=0.05)
    assert t.between_sd == pytest.approx(INTERACTION, rel=0.3)
    assert t.sd == pytest.approx(true_sd, rel=0.05)
    assert t.n == prompts_needed(t.sd, 0.05) and t.n_max >= t.n
    assert abs(t.n - prompts_needed(true_sd, 0.05)) <= 0.12 * t.n
    assert list(t.by_samples) == [1, 2, 4, 8, 16] and t.by_samples[4] == pytest.approx(t.n, rel=0.1)
    assert t.by_samples[1] > t.by_samples[4] > t.by_samples[16]
    text = str(result)
    assert "score" in text and f"-> {t.n} prompts" in text and "4 (pilot)" in text


def test_planned_prompts_reach_the_planned_power(pilot):
    """Experiments of the planned size, simulated from the same model, find the difference
    about 80% of the time (through the report's paired_baseline table)."""
    d = 0.05
    n = int(sample_size(pilot, "score", d).targets[0].n)
    rng = np.random.default_rng(9)
    reps = 300
    cells = rs.cells_frame(rs.grid({"temperature": [0.7, 1.0]}), ["a"])
    values = {f"m{j}": _draw(rng, [0.0, d], n, K).mean(axis=2) for j in range(reps)}
    pb = rs.statistics(rs.context(cells, values, n))["paired_baseline"]
    power = float((pb["p"] < 0.05).mean())
    print(f"planned n = {n} prompts x {K} samples for d = {d}: difference found in {power:.3f} of {reps}")
    assert abs(power - 0.8) <= 0.02 + 3 * np.sqrt(0.16 / reps)


def test_group_metric_has_no_samples_split(pilot):
    t = sample_size(pilot, "spread", 0.01).targets[0]
    assert np.isfinite(t.n) and not t.by_samples and "group metric" in t.note


def test_user_errors(pilot, tmp_path):
    with pytest.raises(ReportError, match="Did you mean: score"):
        sample_size(pilot, "scor", 0.05)
    with pytest.raises(ReportError, match="must be > 0"):
        sample_size(pilot, "score", 0)
    with pytest.raises(ReportError, match="does not exist"):
        sample_size(tmp_path / "nope", "score", 0.05)
    with pytest.raises(ReportError, match="No run directory"):
        sample_size(tmp_path, "score", 0.05)


def test_cli_plan(pilot, capsys):
    assert main(["plan", str(pilot), "--metric", "score", "--difference", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "Detect a difference of 0.05 in score" in out and "prompts needed by samples per prompt" in out
    assert main(["plan", str(pilot), "--metric", "scor", "--difference", "0.05"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hfsweep: Unknown metric 'scor'") and err.count("\n") == 1
