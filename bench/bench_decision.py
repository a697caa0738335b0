"""The decision rule's coverage on seeded planted designs: the report's own `recommend` against
the point-estimate rule it replaced, side by side on the same simulated data.

Each design plants per cell a true pass probability (3 samples per prompt, so a prompt's
pass_rate is k/3) and a true objective (a continuous per-prompt metric with a shared prompt
effect and noise, like distinct_2). For every seed, both rules see the same cells x prompts
tables; the bench prints, per design and rule:

* feasible: how often the rule does not recommend a cell that truly fails its constraint (no
  recommendation counts as right; target: at least the stated confidence, 95%);
* near best: how often its true objective is within `--tolerance` of the best truly feasible
  cell's (a design without a feasible cell counts "no recommendation" as right);
* none: how often there is no recommendation;
* singled out: how often the verdict says the data single the cell out.

    python bench/bench_decision.py [--seeds 400] [--prompts 24] [--tolerance 0.01]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hfsweep.core.objective import Constraint  # noqa: E402
from hfsweep.reports.recommend import recommend  # noqa: E402

CONSTRAINT = Constraint.parse("pass_rate >= 0.85")


@dataclass
class Design:
    name: str
    cells: pd.DataFrame  # temperature, top_p, and the truths: pass, objective

    @property
    def feasible(self) -> np.ndarray:
        return self.cells["pass"].to_numpy() >= CONSTRAINT.value


def grid(temps: dict[float, float], top_ps: dict[float, float], temp_effect: dict[float, float] | None = None) -> pd.DataFrame:
    rows = [{"temperature": t, "top_p": p, "top_k": 0, "pass": passing, "objective": lift + (temp_effect or {}).get(t, 0.0)}
            for t, passing in temps.items() for p, lift in top_ps.items()]  # fmt: skip
    return pd.DataFrame(rows)


DESIGNS = [
    # the design: pass rate falls with temperature, diversity grows with top_p and temperature
    Design("issue: t=0.3 true 0.97, t=0.6 0.79", grid({0.3: 0.97, 0.6: 0.79, 0.9: 0.6, 1.2: 0.45},
                                                      {0.8: 0.50, 0.9: 0.52, 1.0: 0.54}, {0.6: 0.002, 0.9: 0.004, 1.2: 0.006})),
    # near the boundary: the more diverse cells sit just below the constraint, the feasible ones just above
    Design("near the boundary", pd.DataFrame({"temperature": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "top_p": 1.0, "top_k": 0,
                                              "pass": [0.95, 0.90, 0.87, 0.84, 0.83, 0.82],
                                              "objective": [0.50, 0.51, 0.52, 0.53, 0.54, 0.55]})),
    # ties: twelve cells with one true value
    Design("12 tied cells", grid({0.4: 0.95, 0.6: 0.95, 0.8: 0.95, 1.0: 0.95}, {0.8: 0.5, 0.9: 0.5, 1.0: 0.5})),
    # a clear winner
    Design("clear winner", grid({0.4: 0.95, 0.7: 0.95}, {0.8: 0.45, 0.9: 0.47, 1.0: 0.55})),
    # no cell is feasible, two just below
    Design("no feasible cell", pd.DataFrame({"temperature": [0.3, 0.6, 0.9], "top_p": 1.0, "top_k": 0,
                                             "pass": [0.84, 0.83, 0.6], "objective": [0.5, 0.52, 0.55]})),
]


def simulate(design: Design, prompts: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cells = design.cells
    passes = rng.binomial(3, cells["pass"].to_numpy()[:, None], size=(len(cells), prompts)) / 3
    prompt_effect = rng.normal(0, 0.03, prompts)
    objective = cells["objective"].to_numpy()[:, None] + prompt_effect[None, :] + rng.normal(0, 0.02, (len(cells), prompts))
    return {"objective": objective, "pass_rate": passes}


def point_estimate(values: dict[str, np.ndarray]) -> int | None:
    """The rule it replaced: the best mean among the cells whose mean meets the constraint."""
    meets = values["pass_rate"].mean(axis=1) >= CONSTRAINT.value
    if not meets.any():
        return None
    means = np.where(meets, values["objective"].mean(axis=1), -np.inf)
    return int(np.argmax(means))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=400)
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    print(f"{args.seeds} seeds per design, {args.prompts} prompts x 3 samples, constraint {CONSTRAINT}, "
          f"near best = within {args.tolerance} of the best feasible cell's true objective\n")  # fmt: skip
    print(f"{'design':38} {'rule':15} {'feasible':>9} {'near best':>10} {'none':>6} {'singled out':>12}")
    for design in DESIGNS:
        truth = design.cells["objective"].to_numpy()
        feasible = design.feasible
        best = truth[feasible].max() if feasible.any() else None
        tally = {"decision": np.zeros(4), "point estimate": np.zeros(4)}
        frame = design.cells[["temperature", "top_p", "top_k"]].assign(cell_id=[f"c{i}" for i in range(len(design.cells))])
        for seed in range(args.seeds):
            values = simulate(design, args.prompts, np.random.default_rng(seed))
            choice = recommend(frame, values, "objective", "max", [CONSTRAINT], n_resamples=200, seed=seed)
            picks = {"decision": choice.index, "point estimate": point_estimate(values)}
            singled = choice.index is not None and choice.runner_up is not None and int(choice.tied.sum()) == 1
            for rule, pick in picks.items():
                if pick is None:
                    tally[rule] += [1, best is None, 1, 0]
                else:
                    tally[rule] += [feasible[pick], best is not None and truth[pick] >= best - args.tolerance, 0,
                                    rule == "decision" and singled]  # fmt: skip
        for rule, (ok, near, none, singled) in tally.items():
            shown = f"{singled / args.seeds:12.1%}" if rule == "decision" else f"{'':>12}"
            print(f"{design.name:38} {rule:15} {ok / args.seeds:9.1%} {near / args.seeds:10.1%} {none / args.seeds:6.1%} {shown}")


if __name__ == "__main__":
    main()
