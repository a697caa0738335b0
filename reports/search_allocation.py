"""What an adaptive search (``search=halving|sequential``, :mod:`sweeps.search`) spent where.

A search run's ``summary.json`` holds the search's outcome and ``search.jsonl`` its rounds
(:func:`reports.load.load_runs` puts them together). From them: one row per cell with the
requests it got in each round, its status (the search's leader, alive or waiting at the end, or dropped in
which round and on what evidence), and per run the requests against the full grid's.
"""

from __future__ import annotations

import pandas as pd

from hfsweep.reports.load import RunData


def searches(data: RunData) -> list[dict]:
    """The search outcome of every search run (``summary.json``'s ``search``, with its rounds)."""
    return [s.search for s in data.summaries.values() if s.search is not None]


def dropped_cells(data: RunData) -> set[str]:
    """Cells a search dropped on evidence: they are not candidates for the recommendation."""
    return {cell for search in searches(data) for cell in search.get("dropped") or {}}


def looks(data: RunData) -> int:
    """The most looks any search of the runs took at its data (1 without a search): the
    recommendation decides at the level the search did (:mod:`hfsweep.core.decision`)."""
    return max([int(search.get("looks") or 1) for search in searches(data)] or [1])


def allocation_table(data: RunData, cells: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of a search run: requests per round, total, status and evidence."""
    rows = []
    labels = cells.set_index("cell_id")[["target", "setting"]]
    for search in searches(data):
        rounds = search.get("rounds") or []
        dropped_in = {cell: entry["round"] for entry in rounds for cell in entry.get("dropped") or {}}
        waiting = search.get("waiting") or {}
        sent: dict[str, dict[int, int]] = {}
        for entry in rounds:
            for cell, count in (entry.get("cell_requests") or {}).items():
                sent.setdefault(cell, {})[entry["round"]] = count
        for cell, per_round in sent.items():
            if cell not in labels.index:
                continue
            if cell == search.get("leader"):
                status = "leader"
            elif cell in dropped_in:
                status = f"dropped in round {dropped_in[cell]}"
            elif cell in waiting:
                status = "waiting at the end (a candidate on fewer prompts)"
            else:
                status = "alive at the end"
            row = {"target": labels.at[cell, "target"], "setting": labels.at[cell, "setting"], "cell_id": cell}
            row.update({f"round {r}": per_round.get(r, 0) for r in range(1, len(rounds) + 1)})
            evidence = (search.get("dropped") or {}).get(cell) or waiting.get(cell, "")
            row.update(requests=sum(per_round.values()), status=status, evidence=evidence)
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    per_round = sorted((c for c in df if c.startswith("round ")), key=lambda c: int(c.split()[1]))
    df[per_round] = df[per_round].fillna(0).astype(int)  # runs of a multirun may have different round counts
    return df[["target", "setting", "cell_id", *per_round, "requests", "status", "evidence"]]


def search_facts(data: RunData, cells: pd.DataFrame) -> list[dict]:
    """Per search run: strategy, objective, rounds, requests against the full grid, why it
    stopped, and its leader with the last round's estimate."""
    settings = cells.set_index("cell_id")["setting"]
    out = []
    for search in searches(data):
        rounds = search.get("rounds") or []
        leader = search.get("leader")
        estimate = (rounds[-1].get("estimates") or {}).get(leader) if rounds else None
        full = search.get("full_grid_requests") or 0
        out.append({
            "strategy": search.get("strategy"), "metric": search.get("metric"), "goal": search.get("goal"),
            "rounds": len(rounds), "requests": search.get("requests"), "full_grid_requests": full,
            "share_of_grid": search.get("share_of_grid"), "tokens": search.get("tokens"), "stopped": search.get("stopped"),
            "leader": settings.get(leader, leader), "leader_estimate": estimate,
            "dropped": len(search.get("dropped") or {}),
        })  # fmt: skip
    return out
