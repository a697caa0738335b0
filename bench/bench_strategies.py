"""hfsweep's search strategies against the anchors, side by side on the same planted data: per
problem shape and strategy, the hit rate against the requests spent at several budgets, the
requests each needs for 9/10 hits, hfsweep's ratio to the best anchor's, and the false-drop
rate on truly best cells.

Per shape (``bench/strategy_shapes.py``) and seed, the full grid runs once through hfsweep
against the planted server (``tests/servers/planted.py``; its answer is a hash of prompt,
seed and parameters, so a cached answer is the one a request would get). hfsweep's
``search=halving`` and ``search=sequential`` then run on the same cache and seed at each budget
(``search.budget.requests``), send nothing, and count the requests they asked for (summary.json
``search.requests``); their choice is the report's rule on their data, with their dropped cells
excluded and their looks counted. The anchors (``bench/anchors.py``: irace-style F-race, Optuna
``WilcoxonPruner``, Optuna TPE and random sampling, random search without Optuna) read the
grid's per-(cell, prompt) scores and pay ``samples`` requests per (cell, prompt) they evaluate;
their choice is the same rule on what they evaluated.

A hit: the chosen cell is truly feasible and its true pass rate within ``--tolerance`` of the
best feasible cell's (no recommendation is a miss unless no cell is feasible). A false drop: a
strategy drops (on evidence: hfsweep's dropped cells, the race's eliminated ones, the pruned
trials) a cell whose true objective equals the best's, at its own stop. Checks on the first
``--check-seeds`` seeds of each shape: the full report recommends the cell the bench computed
for every hfsweep run, and a halving search at the first budget, sent for real (a fresh cache), gets the grid's texts.

    python bench/bench_strategies.py [--seeds 10] [--shapes one-best,constrained,flat,many]
        [--budgets 0.1,0.2,0.3,0.5] [--tolerance 0] [--check-seeds 1] [--jobs 2]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import hfsweep  # noqa: E402
from bench import anchors, strategy_tables  # noqa: E402
from bench.anchors import Outcome, Problem  # noqa: E402
from bench.strategy_shapes import SHAPES, Shape, key, truths  # noqa: E402
from hfsweep.core.objective import Constraint  # noqa: E402
from hfsweep.pipeline import run_and_score  # noqa: E402
from hfsweep.sweeps.compose import compose_config  # noqa: E402
from tests.servers.planted import Planted, PlantedServer  # noqa: E402

HFSWEEP = ("halving", "sequential")
ANCHORS = ("F-race", "Wilcoxon pruner", "TPE", "Optuna random", "random")
OWN = "own stop"


def sampling_seed(seed: int) -> int:
    """A bench seed's ``sampling.seed``: the requests' seeds are it plus the sample index, so seeds
    1000 apart never share a draw (seeds 0, 1, 2 with 3 samples each would share two of three)."""
    return 1000 * seed


def overrides(shape: Shape, url: str, prompts: Path, seed: int, strategy: str, budget: int | None = None) -> list[str]:
    grid = [f"sweep.grid.{name}=[{','.join(map(str, values))}]" for name, values in shape.grid.items()]
    grid[-1] = "+" + grid[-1]  # top_k is not in the default grid
    out = ["model=endpoint", f"model.endpoint={url}", "model.id=planted", "model.server=llama.cpp", "model.mode=text",
           f"prompts.file={prompts}", f"samples={shape.samples}", "sampling.max_tokens=32", f"sampling.seed={sampling_seed(seed)}", *grid,
           "objective.metric=pass_rate", "evaluators=[loop,loop_rate,check_pass,pass_rate]", "runner.progress=false",
           f"search={strategy}"]  # fmt: skip
    if shape.constraints:
        out.append(f"objective.constraints={json.dumps(list(shape.constraints))}")
    if budget is not None:
        out.append(f"search.budget.requests={budget}")
    return out


def sweep(shape: Shape, url: str, prompts: Path, seed: int, strategy: str, run_dir: Path, cache: Path, budget: int | None = None) -> dict:
    """One hfsweep run; its summary."""
    os.environ["HFSWEEP_CACHE_DIR"] = str(cache)
    config, mapping = compose_config(overrides(shape, url, prompts, seed, strategy, budget))
    run_and_score(config, mapping, run_dir)
    return json.loads((run_dir / "summary.json").read_text())


def table(run_dir: Path, shape: Shape) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """A run's samples per (cell, prompt) (0: not seen), its per-prompt values (cells x prompts,
    grid and file order) and its cell ids -> grid rows."""
    groups = pd.read_parquet(run_dir / "group_scores.parquet")
    rows = {key(p): i for i, p in enumerate(shape.cells)}
    ids = {cell: rows[key(first)] for cell, first in groups.groupby("cell_id").first().iterrows()}
    columns = {f"q{i:02d}": i for i in range(shape.prompts)}
    r = groups["cell_id"].map(ids).to_numpy()
    c = groups["prompt_id"].map(columns).to_numpy()
    samples = np.zeros((len(shape.cells), shape.prompts), dtype=int)
    samples[r, c] = groups["n_samples"].to_numpy(dtype=int)
    values = {}
    for metric in ("pass_rate", "loop_rate"):
        values[metric] = np.full(samples.shape, np.nan)
        values[metric][r, c] = groups[metric].to_numpy(dtype=float)
    return samples, values, ids


def recommended(run_dir: Path, shape: Shape) -> int | None:
    """The full report's recommended cell (a grid row), None without one."""
    run = hfsweep.load(run_dir)
    run.report(plots=False, bootstrap_resamples=200)
    rec = run.recommendation
    if rec.empty or not bool(rec["constraints_met"].iloc[0]):
        return None
    return {key(p): i for i, p in enumerate(shape.cells)}[key(rec.iloc[0].to_dict())]


class Results:
    """What the units found, merged: per shape, strategy and budget label, one (hit, requests) per seed."""

    def __init__(self):
        self.points: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        self.drops: dict = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # shape -> strategy -> [false drops, at risk]
        self.checks: list[str] = []
        self.problems: list[str] = []
        self.seconds: dict = defaultdict(lambda: defaultdict(float))  # shape -> stage -> seconds
        self.levels: dict[str, float] = {}

    def merge(self, unit: Unit) -> None:
        for shape, strategy, label, hit, requests in sorted(unit.points, key=lambda p: p[:3]):
            self.points[shape][strategy][label].append((hit, requests))
        for shape, strategy, dropped, risk in unit.drops:
            self.drops[shape][strategy][0] += dropped
            self.drops[shape][strategy][1] += risk
        self.checks += unit.checks
        self.problems += unit.problems
        for stage, seconds in unit.seconds.items():
            self.seconds[unit.shape.name][stage] += seconds
        self.levels.update(unit.levels)


class Unit:
    """One shape and seed: the grid through hfsweep, hfsweep's searches on its cache, the anchors on its scores."""

    def __init__(self, shape: Shape, seed: int, args, work: Path):
        self.shape, self.seed, self.args, self.work = shape, seed, args, work
        self.points: list[tuple] = []  # (shape, strategy, label, hit, requests)
        self.drops: list[tuple] = []  # (shape, strategy, true-best cells dropped, true-best cells)
        self.checks: list[str] = []
        self.problems: list[str] = []
        self.seconds: dict[str, float] = {}
        self.levels: dict[str, float] = {}
        self.line = ""
        _, self.feasible, self.best, self.hits = truths(shape, args.tolerance)
        self.budgets = [int(share * shape.requests) for share in args.budgets]
        self.labels = [f"{share:.0%}" for share in args.budgets]
        self.base = work / f"{shape.name}-{seed}"
        self.prompts = self.base / "prompts.jsonl"

    def record(self, strategy: str, label: str, outcome: Outcome) -> None:
        hit = self.hits[outcome.chosen] if outcome.chosen is not None else not any(self.feasible)
        self.points.append((self.shape.name, strategy, label, bool(hit), outcome.requests))
        if label == OWN and strategy != "grid":
            self.drops.append((self.shape.name, strategy, sum(self.best[i] for i in outcome.dropped), sum(self.best)))

    def run(self) -> Unit:
        shape, seed, args = self.shape, self.seed, self.args
        self.base.mkdir(parents=True, exist_ok=True)
        self.prompts.write_text("".join(json.dumps({"id": f"q{i:02d}", "prompt": f"Question {i}?",
                                                    "checks": [{"type": "contains", "value": "ANSWER"}]}) + "\n"
                                        for i in range(shape.prompts)))  # fmt: skip
        cache = self.work / f"cache-{shape.name}-{seed}"
        with PlantedServer(Planted(pass_prob=shape.pass_prob, loops=shape.loops)) as server:
            start = time.perf_counter()
            sweep(shape, server.url, self.prompts, seed, "grid", self.base / "grid", cache)
            sent = server.requests
            if sent != shape.requests:
                self.problems.append(f"{shape.name} seed {seed}: the grid sent {sent} requests, not {shape.requests}")
            _, values, _ = table(self.base / "grid", shape)
            order = [f"q{i:02d}" for i in range(shape.prompts)]
            random.Random(sampling_seed(seed)).shuffle(order)  # the search's prompt order (sweeps/search.py)
            problem = Problem(shape.cells, values, "pass_rate", "max", [Constraint.parse(c) for c in shape.constraints],
                              shape.samples, [int(p[1:]) for p in order], seed)  # fmt: skip
            check = seed < args.check_seeds
            grid_choice = anchors.choose(problem, np.ones(problem.shape, dtype=bool))
            if check and recommended(self.base / "grid", shape) != grid_choice:
                self.problems.append(f"{shape.name} seed {seed}: the grid's report recommends another cell than the bench's rule")
            self.record("grid", OWN, Outcome(grid_choice, shape.requests))
            self.seconds["grid"] = time.perf_counter() - start
            runs = self.hfsweep_runs(server, problem, cache, check)
            self.seconds["hfsweep"] = time.perf_counter() - start - self.seconds["grid"]
        for strategy, outcomes in anchor_runs(problem, self.budgets).items():
            for label, outcome in zip([*self.labels, OWN], outcomes):
                if outcome is not None:
                    self.record(strategy, label, outcome)
        self.seconds["anchors"] = time.perf_counter() - start - self.seconds["grid"] - self.seconds["hfsweep"]
        own = [(s, h, r) for _, s, label, h, r in self.points if label == OWN]
        self.line = (f"{shape.name} seed {seed}: grid {sent} sent in {self.seconds['grid']:.1f} s, {runs} hfsweep runs in "
                     f"{self.seconds['hfsweep']:.1f} s, anchors in {self.seconds['anchors']:.1f} s; own stop: "
                     + ", ".join(f"{s} {'hit' if h else 'MISS'} {r}" for s, h, r in own))  # fmt: skip
        return self

    def hfsweep_runs(self, server, problem: Problem, cache: Path, check: bool) -> int:
        """halving and sequential at their own stop, then at each budget below what they spent; returns the runs made."""
        seed, runs = self.seed, 0
        for strategy in HFSWEEP:
            natural = None
            for budget, label in [(None, OWN), *zip(self.budgets, self.labels)]:
                if budget is not None and natural.requests <= budget:  # the budget would cut nothing: the same run
                    outcome = natural
                else:
                    outcome = self.hfsweep_run(server, problem, cache, check, strategy, budget, label)
                    runs += 1
                self.record(strategy, label, outcome)
                natural = natural or outcome
                if check and strategy == "halving" and label == self.labels[0]:
                    self.resend(server, seed, outcome, budget)
        return runs

    def hfsweep_run(self, server, problem: Problem, cache: Path, check: bool, strategy: str, budget: int | None, label: str) -> Outcome:
        """One hfsweep search on the grid's cache: its requests, its dropped cells, the report's rule on its data."""
        shape, seed = self.shape, self.seed
        run_dir = self.base / f"{strategy}-{budget or 'own'}"
        summary = sweep(shape, server.url, self.prompts, seed, strategy, run_dir, cache, budget)
        search = summary["search"]
        self.levels[strategy] = 1 - float(search.get("confidence", 0.95))
        samples, values, ids = table(run_dir, shape)
        where = f"{shape.name} seed {seed} {strategy} {label}"
        if summary["sent"]:
            self.problems.append(f"{where}: sent {summary['sent']} (expected all from the cache)")
        whole = samples == shape.samples  # a budget may cut a prompt's samples short: those values differ
        for metric in values:
            if not np.allclose(values[metric][whole], problem.values[metric][whole], equal_nan=True):
                self.problems.append(f"{where}: {metric} differs from the grid's")
        dropped = {ids[c] for c in search.get("dropped") or {}}
        own = dataclasses.replace(problem, values=values)  # the run's own values, as its report sees them
        chosen = anchors.choose(own, samples > 0, dropped, looks=int(search.get("looks") or 1))
        if check and recommended(run_dir, shape) != chosen:
            self.problems.append(f"{where}: the report recommends another cell than the bench's rule")
        return Outcome(chosen, int(search["requests"]), dropped)

    def resend(self, server, seed: int, cached: Outcome, budget: int) -> None:
        """The halving search at the first budget again, with an empty cache: every request is sent,
        and the texts must be the grid's (the answers the cache gave the searches are the ones sent)."""
        shape, before = self.shape, server.requests
        run_dir = self.base / "halving-sent"
        summary = sweep(shape, server.url, self.prompts, seed, "halving", run_dir, self.work / f"cache-{shape.name}-{seed}-fresh", budget)
        sent = server.requests - before
        columns = ["cell_id", "prompt_id", "sample_index", "text"]
        fresh = pd.read_parquet(run_dir / "completions.parquet", columns=columns)
        grid = pd.read_parquet(self.base / "grid" / "completions.parquet", columns=columns)
        both = fresh.merge(grid, on=columns[:3], suffixes=("_sent", "_grid"))
        same = int((both["text_sent"] == both["text_grid"]).sum())
        ok = same == len(fresh) == sent and summary["search"]["requests"] == cached.requests
        self.checks.append(f"{shape.name} seed {seed}: halving at budget {budget} with an empty cache sent {sent} requests; {same} of "
                           f"{len(fresh)} texts equal the grid's; requests {summary['search']['requests']} vs {cached.requests} from "
                           "the cache: " + ("deterministic" if ok else "NOT DETERMINISTIC"))  # fmt: skip
        if not ok:
            self.problems.append(self.checks[-1])


def anchor_runs(problem: Problem, budgets: list[int]) -> dict[str, list[Outcome | None]]:
    """Each anchor's outcome at each budget, then at its own stop (the model-based ones have none)."""
    return {"F-race": anchors.frace(problem, [*budgets, None]),
            "Wilcoxon pruner": anchors.wilcoxon(problem, [*budgets, None]),
            "TPE": [*anchors.sampled(problem, budgets, "tpe"), None],
            "Optuna random": [*anchors.sampled(problem, budgets, "optuna-random"), None],
            "random": [*anchors.sampled(problem, budgets, "random"), None]}  # fmt: skip


def run_unit(job: tuple) -> Unit:
    name, seed, args, work = job
    return Unit(SHAPES[name], seed, args, work).run()


def print_tables(results: Results, names: list[str], args, labels: list[str], wall: float) -> None:
    print(f"\n## Search strategies against the anchors ({args.seeds} seeds per shape; "
          f"hit = the chosen cell truly feasible and within {args.tolerance:g} of the best feasible pass rate)\n")  # fmt: skip
    print("Each cell: hits / seeds @ mean requests spent. hfsweep at a budget it does not reach is its own stop.\n")
    for name in names:
        shape = SHAPES[name]
        _, _, best, _ = truths(shape, args.tolerance)
        print(f"### {name}: {shape.title}\n\n{len(shape.cells)} cells, {shape.prompts} prompts x {shape.samples} samples "
              f"({shape.requests:,} requests for the grid), {sum(best)} true best cell(s)"
              + (f", constraint {', '.join(shape.constraints)}" if shape.constraints else "") + "\n")  # fmt: skip
        print(strategy_tables.curve_table(results.points[name], labels, OWN, HFSWEEP, ANCHORS) + "\n")
    print("### hfsweep's requests for 9/10 hits against the best anchor's (ratio < 1: hfsweep needs fewer)\n")
    print(strategy_tables.ratio_table({name: results.points[name] for name in names}, HFSWEEP, ANCHORS) + "\n")
    print("### False drops: true-best cells dropped on evidence at the strategy's own stop (dropped / at risk)\n")
    levels = [(s, f"{results.levels.get(s, 0.05):g} (1 - search.confidence)") for s in HFSWEEP]
    levels += [("F-race", f"{anchors.ALPHA:g} per test"), ("Wilcoxon pruner", f"{anchors.P_THRESHOLD:g} per test")]
    print(strategy_tables.drop_table({name: results.drops[name] for name in names}, levels) + "\n")
    print("### Time (seconds, summed over the seeds)\n")
    print("| shape | grid runs | hfsweep search runs | anchors |\n|---|---|---|---|")
    for name in names:
        stages = results.seconds[name]
        print(f"| {name} | {stages['grid']:.0f} | {stages['hfsweep']:.0f} | {stages['anchors']:.0f} |")
    print(f"\nWhole run: {wall / 60:.1f} min on {args.jobs} process(es).\n")
    for line in results.checks:
        print("check:", line)
    for line in results.problems:
        print("PROBLEM:", line)
    if not results.problems:
        print("check: every hfsweep replay sent nothing and saw the grid's values; the checked reports recommend the bench's cells")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of: {', '.join(SHAPES)}")
    parser.add_argument("--budgets", default="0.1,0.2,0.3,0.5", help="shares of the grid's requests")
    parser.add_argument("--tolerance", type=float, default=0.0, help="a hit is within this of the best true pass rate")
    parser.add_argument("--check-seeds", type=int, default=1, help="seeds per shape whose reports and sent requests are checked")
    parser.add_argument("--jobs", type=int, default=2, help="(shape, seed) units run in parallel processes")
    parser.add_argument("--work", default=None, help="a folder for the runs (default: a new temporary one)")
    args = parser.parse_args()
    args.budgets = [float(b) for b in args.budgets.split(",")]
    unknown = [s for s in args.shapes.split(",") if s not in SHAPES]
    if unknown:
        parser.error(f"--shapes: unknown {unknown}; accepted: {', '.join(SHAPES)}")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-strategies-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"runs in {work}", flush=True)
    names = args.shapes.split(",")
    jobs = sorted(((name, seed, args, work) for name in names for seed in range(args.seeds)), key=lambda job: -SHAPES[job[0]].requests)
    results, start = Results(), time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs) if args.jobs > 1 else contextlib.nullcontext() as pool:
        for unit in (pool.imap_unordered(run_unit, jobs) if pool else map(run_unit, jobs)):
            results.merge(unit)
            print(unit.line, flush=True)
    print_tables(results, names, args, [f"{share:.0%}" for share in args.budgets], time.perf_counter() - start)


if __name__ == "__main__":
    main()
