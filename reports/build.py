"""``build_report``: load runs, compute every table, draw plots, write CSVs and the HTML page."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hfsweep.core import records
from hfsweep.core.report_options import ReportOptions
from hfsweep.reports import (
    families,
    holtzman_table,
    html,
    node_claims,
    node_terms,
    plots,
    recommend,
    run_facts,
    search_allocation,
    server,
    tables,
    verdict,
)
from hfsweep.reports.load import RunData, cell_table, find_run_dirs, load_runs, prompt_values
from hfsweep.reports.options import resolve_options

FLOAT_FORMAT = "%.6g"


@dataclass
class Report:
    """Everything computed for one report (tables are DataFrames, one CSV each)."""
    data: RunData
    opts: ReportOptions
    cells: pd.DataFrame
    metrics: list[str]
    swept: list[str]
    targets: list[str]
    key_metrics: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    verdict: list[str] = field(default_factory=list)  # the answer first: page, terminal, verdict.json


def default_out(paths) -> Path:
    """``<first path>/report/index.html``, for a run directory and a sweep directory alike."""
    return Path(paths[0]) / records.REPORT_DIR / "index.html"


def files_dir(page: Path) -> Path:
    """Where a page's ``tables/`` and ``plots/`` go: beside an ``index.html`` (the default
    ``RUN_DIR/report/index.html`` layout), else in ``NAME_files/`` beside ``NAME.html``, so
    two reports written to one folder keep their files apart.

    >>> files_dir(Path("runs/r1/report/index.html")).as_posix(), files_dir(Path("out/b.html")).as_posix()
    ('runs/r1/report', 'out/b_files')
    """
    return page.parent if page.name == "index.html" else page.parent / f"{page.stem}_files"


def compute(paths, options: ReportOptions | Mapping | None = None) -> Report:
    """Load the runs and compute every table (no files written)."""
    t0 = time.perf_counter()
    data = load_runs(paths, skip=("request_params", "cache_key"))  # columns no table or page shows
    run_opts = next((c.get("report") for c in data.configs if isinstance(c.get("report"), dict)), None)
    opts = resolve_options(run_opts, options, strict_last=True)
    objective = next((c["objective"] for c in data.configs if isinstance(c.get("objective"), dict)), None)
    t1 = time.perf_counter()
    cells = cell_table(data.completions)
    prompts = data.completions["prompt_id"].astype(str).unique().tolist()  # first-seen order
    wide, metrics = prompt_values(data.scores, data.group_scores)
    # a metric with no value anywhere (pass_rate without checks, perplexity without log-probs) has nothing to report
    metrics = [m for m in metrics if m in wide and bool(wide[m].notna().any())]
    if len(wide):
        wide.index = wide.index.set_levels([lvl.astype(str) for lvl in wide.index.levels])
    if opts.pareto.down is None:  # coherence: perplexity where the target gave log-probabilities
        scored = "perplexity" in wide and bool(wide["perplexity"].notna().any())
        opts.pareto.down = "perplexity" if scored else "seq_rep_4"
    context = tables.Context(cells, wide, metrics, prompts, opts, objective,  # dropped cells are not candidates
                             search_allocation.dropped_cells(data), search_allocation.looks(data))  # fmt: skip
    report = Report(data, opts, cells, metrics, context.swept, context.targets)
    metric, _, constraints, _ = recommend.from_objective(context, context.objective)
    decisive = [m for m in (metric, *(c.metric for c in constraints)) if m]  # the objective's metrics come first
    report.key_metrics = list(dict.fromkeys([*decisive, *([m for m in opts.key_metrics if m in metrics] or metrics[:6])]))
    report.tables, report.notes = statistics(context, report.key_metrics)
    t = report.tables
    t["errors"] = run_facts.errors_table(data.completions, cells)
    t["usage"] = run_facts.usage_table(data.completions, cells, run_facts.spend_table(data))
    t["identical_cells"] = run_facts.identical_cells(data.completions, cells)
    if context.search_dropped or search_allocation.searches(data):
        t["search"] = search_allocation.allocation_table(data, cells)  # an adaptive search's requests per cell and round
    t["server"] = server.server_table(data, cells)
    t["server_defaults"] = server.defaults_table(data, cells, server.sent_params(data.run_dirs))
    t2 = time.perf_counter()
    t["decoding"], report.notes["decoding"] = holtzman_table.decoding_table(data.completions, cells)
    claims = node_claims.claims_table(data, cells, opts)
    report.notes["node_claims"], report.notes["node_claims_compat"] = claims.note, claims.compat
    if claims.table is not None:  # a sweep=node_claims run: node_claims.csv
        t["node_claims"] = claims.table
    family_lines = _families(report, context, prompts, metric) if families.family_names(data.configs) else []
    t["cells"] = cells.drop(columns=["target_key"])
    report.summary = run_facts.run_summary(data, cells)
    report.summary["searches"] = search_allocation.search_facts(data, cells)
    in_node_terms = node_terms.node_lines(t["recommendation"], cells, data.configs[0] if data.configs else {}, context.swept)
    report.verdict = (report.notes["verdict"].splitlines() + in_node_terms + family_lines
                      + verdict.warning_lines(report.summary, data.completions))
    report.timings.update(load_s=t1 - t0, stats_s=t2 - t1, paper_s=time.perf_counter() - t2)
    return report


def _families(report: Report, context: tables.Context, prompts: list[str], metric: str | None) -> list[str]:
    """A run with ``sweep.families``: the families' bests and their pairs (reports/families.py), its verdict lines."""
    if metric is None:
        report.notes["families"] = report.notes["recommendation"]  # no quality measure: nothing to pick the bests on
        return []
    goal = recommend.from_objective(context, context.objective)[1]
    names = families.family_names(report.data.configs)
    report.tables["families"], report.tables["family_pairs"], report.notes["families"] = families.compare_families(
        context, prompts, names, metric, goal)
    return report.notes["families"].splitlines()


def statistics(context: tables.Context, key_metrics: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Every statistical table of the report (the calibration tests call this too)."""
    t: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    t["cell_metrics"] = tables.cell_metrics(context)
    t["design"] = context.design
    t["effects"] = tables.effects(context)
    t["friedman"] = tables.friedman(context)
    t["paired_baseline"], notes["baseline"] = tables.paired_baseline(context)
    t["model_pairs"] = tables.model_pairs(context)
    t["setting_pairs"], notes["setting_pairs"] = tables.setting_pairs(context)
    tables.adjust_all(t["friedman"], t["paired_baseline"], t["model_pairs"], t["setting_pairs"])
    notes["duplicates"] = ", ".join(f"{a} (same per-prompt values as {b})" for a, b in context.duplicates.items())
    metric, goal, parsed_constraints, how = recommend.from_objective(context, context.objective)
    if metric is None:
        t["recommendation"], chosen, notes["recommendation"] = pd.DataFrame(columns=recommend.REC_COLS), [], how
        notes["verdict"] = how
    else:
        t["recommendation"], choices, notes["recommendation"] = recommend.recommendations(context, metric, goal, parsed_constraints, how)
        chosen = [context.cells["cell_id"][context.cells["target"] == tg].iloc[c.index]
                  for tg, c in zip(context.targets, choices) if c.index is not None]
        notes["verdict"] = "\n".join(verdict.verdict_lines(context.cells, t["recommendation"], choices, context.swept,
                                                           context.opts.confidence))  # fmt: skip
    t["pareto"] = recommend.pareto_table(context, t["cell_metrics"], chosen)
    up, down = context.opts.pareto.up, context.opts.pareto.down
    hm = [m for m in (up, down) if m in context.metrics] or key_metrics[:1]
    t["heatmaps"] = tables.heatmaps(context, hm, int(context.opts.max_heatmaps))
    return t, notes


def write_tables(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write every table as CSV (fixed float format, row order as computed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in report.tables.items():
        p = out_dir / f"{name}.csv"
        df.to_csv(p, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
        paths[name] = p
    return paths


def build_report(paths, out=None, options: ReportOptions | Mapping | None = None, timings: dict | None = None) -> Path:
    """Build the report for run/sweep directories; return the path of the HTML page.

    Args:
        paths: run directories and/or sweep directories (searched recursively).
        out: HTML path; default ``<first path>/report/index.html``. Tables and plots go to
            :func:`files_dir` of it.
        options: the report's options (``hfsweep.core.report_options.ReportOptions``, as
            ``config.report`` holds them), or a mapping of overrides of their defaults (an
            unknown key raises ``hfsweep.core.errors.ReportError``); the run's own ``report``
            section comes first. ``enabled`` is the caller's business.
        timings: if given, filled with the seconds each step took (load_s, stats_s, ...).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    for p in paths:
        find_run_dirs(p)  # fail early with a clear message on a bad path
    out = Path(out) if out is not None else default_out(paths)
    report = compute(paths, options)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = files_dir(out)
    report.notes["files"] = "" if files == out.parent else f"{files.name}/"
    t0 = time.perf_counter()
    write_tables(report, files / "tables")
    verdict.write(files, report.verdict, report.tables["recommendation"])
    t1 = time.perf_counter()
    figs = plots.draw_all(report, files / "plots") if report.opts.plots else {}
    t2 = time.perf_counter()
    out.write_text(html.render(report, figs), encoding="utf-8")
    report.timings.update(csv_s=t1 - t0, plots_s=t2 - t1, html_s=time.perf_counter() - t2)
    if timings is not None:
        timings.update(report.timings)
    return out
