"""The planted problem shapes of ``bench/bench_strategies.py``: each a grid, a prompt set, and
per cell a true pass probability (the planted server's ``pass_prob``; a cell's true pass_rate)
and whether it loops (infeasible under ``loop_rate <= 0.1``). A helper module; run on its own
it prints the shapes.

Each shape is tuned so that the full grid finds a true best cell in at least 96% of simulated
seeds (the report's rule on binomial draws): 9/10 hits are within reach of the whole data.

Distances are in grid steps: ``d`` is the sum over the parameters of how many values apart a
cell is from the shape's best cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

GRID_48 = {"temperature": [0.3, 0.7, 1.0, 1.3], "top_p": [0.5, 0.7, 0.9, 1.0], "top_k": [0, 40, 100]}
GRID_200 = {"temperature": [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6], "top_p": [0.5, 0.7, 0.8, 0.9, 1.0],
            "top_k": [0, 20, 40, 80, 160]}  # fmt: skip


def key(params: dict) -> tuple:
    """A cell's identity: (temperature, top_p, top_k) as plain numbers."""
    return (round(float(params["temperature"]), 6), round(float(params["top_p"]), 6), int(params["top_k"] or 0))


@dataclass(frozen=True)
class Shape:
    """One problem: ``truth(params) -> (pass probability, loops)``."""

    name: str
    title: str
    grid: dict[str, list]
    prompts: int
    samples: int
    truth: Callable[[dict], tuple[float, bool]]
    constraints: tuple[str, ...] = ()
    best: tuple = field(default=())

    @property
    def cells(self) -> list[dict]:
        """The cells in grid order (temperature, then top_p, then top_k)."""
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*self.grid.values())]

    @property
    def requests(self) -> int:
        """The full grid's requests."""
        return len(self.cells) * self.prompts * self.samples

    def pass_prob(self, params: dict) -> float:
        return self.truth(params)[0]

    def loops(self, params: dict) -> bool:
        return self.truth(params)[1]


def distance(grid: dict[str, list], params: dict, best: tuple) -> int:
    """Grid steps between a cell and ``best`` (a key)."""
    here = key(params)
    return sum(abs(_index(values, a) - _index(values, b)) for values, a, b in zip(grid.values(), here, best))


def _index(values: list, value) -> int:
    return [round(float(v), 6) for v in values].index(round(float(value), 6))


def one_best(params: dict) -> tuple[float, bool]:
    """(0.7, 0.9, 40) at 0.97; (1.0, 0.9, 40) just behind at 0.89 (margin 0.08); the other
    cells 0.89 - 0.1 d (d >= 1), at least 0.3."""
    here, best = key(params), (0.7, 0.9, 40)
    if here == best:
        return 0.97, False
    if here == (1.0, 0.9, 40):
        return 0.89, False
    return max(0.3, 0.89 - 0.1 * distance(GRID_48, params, best)), False


def constrained(params: dict) -> tuple[float, bool]:
    """The 4 cells at temperature 0.3, top_k 0 pass at 0.97 but loop (infeasible); the feasible
    best (0.7, 0.9, 40) at 0.92 is just behind; the other cells 0.75 - 0.08 (d - 1), at least 0.3."""
    here, best = key(params), (0.7, 0.9, 40)
    if here[0] == 0.3 and here[2] == 0:
        return 0.97, True
    if here == best:
        return 0.92, False
    return max(0.3, 0.75 - 0.08 * (distance(GRID_48, params, best) - 1)), False


def flat(params: dict) -> tuple[float, bool]:
    """12 tied best cells (temperature 0.7 or 1.0, top_p 0.9 or 1.0, any top_k) at 0.85; the
    other 36 at 0.75."""
    here = key(params)
    return (0.85 if here[0] in (0.7, 1.0) and here[1] in (0.9, 1.0) else 0.75), False


def many(params: dict) -> tuple[float, bool]:
    """(0.8, 0.9, 40) at 0.95; the other 199 cells 0.65 - 0.08 (d - 1), at least 0.3."""
    here, best = key(params), (0.8, 0.9, 40)
    if here == best:
        return 0.95, False
    return max(0.3, 0.65 - 0.08 * (distance(GRID_200, params, best) - 1)), False


SHAPES = {
    shape.name: shape
    for shape in [
        Shape("one-best", "one best cell, 0.08 ahead", GRID_48, 24, 3, one_best),
        Shape("constrained", "4 best cells infeasible (loop), the feasible best 0.05 behind", GRID_48, 24, 3, constrained,
              ("loop_rate <= 0.1",)),
        Shape("flat", "12 tied best cells, 0.10 ahead of 36", GRID_48, 24, 3, flat),
        Shape("many", "200 cells, one best 0.30 ahead", GRID_200, 12, 2, many),
    ]
}


def truths(shape: Shape, tolerance: float) -> tuple[list[float], list[bool], list[bool], list[bool]]:
    """Per cell (grid order): the true objective, whether it is truly feasible, whether it is a
    true best (feasible, objective equal to the best feasible one's), and whether it counts as a
    hit (feasible, within ``tolerance`` of the best)."""
    values = [shape.pass_prob(p) for p in shape.cells]
    feasible = [not shape.loops(p) for p in shape.cells]
    top = max((v for v, ok in zip(values, feasible) if ok), default=None)
    best = [ok and top is not None and abs(v - top) < 1e-12 for v, ok in zip(values, feasible)]
    hits = [ok and top is not None and v >= top - tolerance - 1e-12 for v, ok in zip(values, feasible)]
    return values, feasible, best, hits


if __name__ == "__main__":
    for shape in SHAPES.values():
        values, feasible, best, _ = truths(shape, 0.0)
        print(f"{shape.name}: {shape.title}; {len(values)} cells, {sum(best)} true best, {sum(not f for f in feasible)} infeasible, "
              f"{shape.prompts} prompts x {shape.samples} samples = {shape.requests} requests")  # fmt: skip
