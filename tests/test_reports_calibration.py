"""Calibration of the report's tests as a whole: random designs through the report's own tables.

Each simulated report draws a design (full grid, grid with exclusions, or presets; one or two
models; sometimes 10% missing values and a cell with no data at all), gives some parameters
an additive effect and others none, and draws per-prompt values (prompt effect + noise; half
the metrics rounded, for ties and zero differences). Every table is computed by
``reports.build.statistics``. A test is a true null when its cells have equal true means
(pairs), when its parameter has no effect (Friedman), or when the models share a mean (model
pairs). Checked: the share of p < 0.05 among true nulls before correction is about 5%
(Monte-Carlo error from the per-report clusters), and Benjamini-Hochberg's false discovery
proportion averages at most 5%. The same data with a level's value averaged over whichever
cells have it (the report before the crossed part) fails the first check: a parameter
without effect "has" one when its levels come with other parameters that have one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hfsweep.reports import stats
from hfsweep.reports.power import mdd, prompts_needed
from tests import report_synth as rs

SIMS = 64
METRICS = 8


def _simulate(rng: np.random.Generator):
    kind, settings = rs.random_design(rng)
    targets = ["a", "b"] if rng.random() < 0.3 else ["a"]
    cells = rs.cells_frame(settings, targets)
    swept = [p for p in rs.LEVELS if len({s[p] for s in settings}) > 1]
    effect = {p: {v: float(rng.normal(0, 0.6)) for v in rs.LEVELS[p] + [rs.BASE[p]]}
              for p in swept if rng.random() < 0.35}
    shift = {t: (0.5 if t == "b" and rng.random() < 0.5 else 0.0) for t in targets}
    mu = np.array([shift[r.target] + sum(f[getattr(r, p)] for p, f in effect.items()) for r in cells.itertuples()])
    n_prompts = int(rng.integers(8, 26))
    values = {}
    for j in range(METRICS):
        y = mu[:, None] + rng.normal(0, 1, size=n_prompts)[None, :] + rng.normal(0, 0.5, size=(len(cells), n_prompts))
        values[f"m{j}"] = np.round(y * 2) / 2 if j % 2 else y
    if rng.random() < 0.5:
        holes = rng.random((len(cells), n_prompts)) < 0.1
        dead = int(rng.integers(len(cells))) if rng.random() < 0.3 else None
        for v in values.values():
            v[holes] = np.nan
            if dead is not None:
                v[dead] = np.nan
    ctx = rs.context(cells, values, n_prompts)
    tabs = rs.statistics(ctx)
    mean_of = dict(zip(cells["cell_id"], mu))

    def is_null(key) -> bool:
        if key[0] == "pair":
            a, b = tuple(key[1])
            return bool(np.isclose(mean_of[a], mean_of[b]))
        if key[0] == "friedman":
            return key[2] not in effect
        return shift[key[1]] == shift[key[2]]

    tests = {}
    for name in ("friedman", "paired_baseline", "model_pairs", "setting_pairs"):
        df = tabs[name]
        for key, p, q in zip(df.attrs["test_keys"], df["p"], df["p_adj"]):
            tests[key] = (name, float(p), float(q), is_null(key))
    return kind, tests, _confounded_friedman(ctx, [p for p in swept if p not in effect])


def _confounded_friedman(ctx, null_params) -> list[float]:
    """Friedman p-values with each level averaged over whichever cells have it, per prompt."""
    out = []
    for t in ctx.targets:
        cells = ctx.cells[(ctx.cells["target"] == t) & ctx.present]
        for p in null_params:
            levels = sorted(cells[p].unique())
            if len(levels) < 3:
                continue
            for m in ctx.metrics:
                rows = [ctx.mats[m][[ctx.row[c] for c in cells.loc[cells[p] == v, "cell_id"]]] for v in levels]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out.append(stats.friedman(np.array([np.nanmean(r, axis=0) for r in rows]).T)[1])
    return out


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20250101)
    return [_simulate(rng) for _ in range(SIMS)]


def _share(counts):
    """Pooled share and its cluster (per report) standard error."""
    hits = np.array([h for h, n in counts], float)
    ns = np.array([n for h, n in counts], float)
    share = hits.sum() / ns.sum()
    se = np.sqrt(np.sum((hits - share * ns) ** 2)) / ns.sum()
    return share, se


def test_share_of_p_below_005_is_about_5_percent_on_true_nulls(simulated):
    for tables in (None, "friedman"):
        counts = []
        for _, tests, _ in simulated:
            ps = [p for name, p, _, null in tests.values() if null and np.isfinite(p) and tables in (None, name)]
            counts.append((sum(p < 0.05 for p in ps), len(ps)))
        share, se = _share([c for c in counts if c[1]])
        n = sum(c[1] for c in counts)
        print(f"{tables or 'all tables'}: {n} true-null tests, share p<0.05 = {share:.4f} (cluster SE {se:.4f})")
        assert n > (100 if tables else 1000)
        assert share <= 0.05 + 3 * se, (tables, share, se)
        assert share >= 0.02, (tables, share, se)  # discrete tests are a little conservative, not absurdly
    naive = np.array([p for *_, ps in simulated for p in ps if np.isfinite(p)])
    print(f"level means over whichever cells: {len(naive)} true-null Friedman tests, share p<0.05 = "
          f"{np.mean(naive < 0.05):.4f}")
    assert np.mean(naive < 0.05) > 0.15


def test_bh_false_discovery_proportion_at_most_5_percent(simulated):
    fdp, rejected = [], 0
    for _, tests, _ in simulated:
        rej = [null for _, _, q, null in tests.values() if q < 0.05]
        rejected += len(rej)
        fdp.append(sum(rej) / max(1, len(rej)))
    fdp = np.array(fdp)
    mean, se = fdp.mean(), fdp.std(ddof=1) / np.sqrt(len(fdp))
    print(f"FDR {mean:.4f} (SE {se:.4f}) over {len(fdp)} reports, {rejected} rejections")
    assert rejected > 100  # the simulated effects are found
    assert mean <= 0.05 + 3 * se


def test_designs_cover_every_kind(simulated):
    assert {kind for kind, *_ in simulated} == {"grid", "exclusions", "presets"}
    assert any(key[0] == "models" for _, tests, _ in simulated for key in tests)
    assert any(name == "setting_pairs" for _, tests, _ in simulated for name, *_ in tests.values())


def test_known_effect_found_at_planned_power():
    """Two settings, n prompts, paired SD s: a true difference equal to the planned minimum
    detectable difference (alpha 0.05, power 0.8) is found in about 80% of replicates."""
    rng = np.random.default_rng(7)
    n, sigma, reps = 20, 0.5, 400
    s = sigma * np.sqrt(2)  # SD of the per-prompt difference of two cells
    d = mdd(s, n)
    assert prompts_needed(s, d) == n
    cells = rs.cells_frame(rs.grid({"temperature": [0.7, 1.0]}), ["a"])
    values = {}
    for j in range(reps):
        prompt = rng.normal(0, 1, size=n)
        values[f"m{j}"] = prompt[None, :] + np.array([[0.0], [d]]) + rng.normal(0, sigma, size=(2, n))
    pb = rs.statistics(rs.context(cells, values, n))["paired_baseline"]
    power = float((pb["p"] < 0.05).mean())
    se = np.sqrt(0.8 * 0.2 / reps)
    print(f"planned power 0.8 at d = {d:.4f}: found in {power:.3f} of {reps}")
    assert abs(power - 0.8) <= 0.02 + 3 * se
    assert pb["mdd"].mean() == pytest.approx(d, rel=0.1)
