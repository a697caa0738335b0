"""What a ``sweep=node_claims`` run holds, read back for the verdicts (reports/node_claims.py).

A node-claims design is a run whose presets set one option each (or none): the node's way
(one node profile: ``compat=langchain_hf`` or ``langchain_hf_4_13``) with one node option added,
and the plain way (a preset's ``compat: none``) with one parameter sent as its name says; one
preset of each way adds none (the base). :func:`read_design` finds them from the run's ``config.yaml``; :class:`Values` gives
each cell's per-prompt values of a metric (the prompt is the unit, as everywhere in the report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hfsweep.core import records
from hfsweep.core.node import PROFILES, ClientProfile
from hfsweep.evaluators.scoring import read_prompt_checks
from hfsweep.reports.load import RunData
from hfsweep.reports.server import first_bodies

REFUSALS = ("tgi_refused", "http_422")  # the emulation's refusal, and a TGI endpoint's
CONTENT_CHECKS = frozenset({"contains", "icontains", "equals", "starts_with", "regex"})  # what an answer says, not its form


@dataclass
class Level:
    """One cell of the design: the option's value, its cell, and the refusal if every request was refused."""

    value: float
    cell_id: str
    refused: str = ""


@dataclass
class Design:
    """The cells of a node-claims run (one target): per hfsweep parameter, its levels each way."""

    target: str
    node_base: str
    plain_base: str | None
    node: dict[str, list[Level]] = field(default_factory=dict)
    plain: dict[str, list[Level]] = field(default_factory=dict)
    bodies: dict[str, dict] = field(default_factory=dict)  # cell_id -> the node's parameters of its first request
    known_answer: list[str] = field(default_factory=list)  # prompts whose checks test what the answer says
    prompts: list[str] = field(default_factory=list)
    capability: str = ""
    target_kind: str = ""
    server: str = ""
    profile: ClientProfile = PROFILES["langchain_hf"]  # the node's profile that sent it (the run's compat)

    @property
    def route(self) -> str:
        """The TGI route the profile's client posts to: ``generate`` or ``completions``."""
        return self.profile.route

    def accepted(self, param: str) -> list[Level]:
        return [level for level in self.node.get(param, []) if not level.refused]


def read_design(data: RunData, cells: pd.DataFrame) -> Design | None:
    """The node-claims design of the run's first target (None: the run is not one)."""
    config = data.configs[0] if data.configs else {}
    presets = (config.get("sweep") or {}).get("presets") or {}
    run_compat = config.get("compat", "none")
    target = cells["target"].iloc[0] if len(cells) else ""
    mine = cells[cells["target"] == target]
    cell_of = dict(zip(mine["setting_name"], mine["cell_id"]))
    node: dict[str, list[Level]] = {}
    plain: dict[str, list[Level]] = {}
    bases: dict[str, str] = {}
    profiles: set[str] = set()
    for name, preset in presets.items():
        if name not in cell_of or not isinstance(preset, dict):
            continue
        compat = preset.get("compat", run_compat)
        options = {key: value for key, value in preset.items() if key != "compat"}
        if len(options) > 1 or compat not in (*PROFILES, "none"):
            return None  # not one option at a time: not this design
        way = "none" if compat == "none" else "node"
        if way == "node":
            profiles.add(compat)
        if not options:
            bases.setdefault(way, cell_of[name])
            continue
        (param, value), = options.items()
        (node if way == "node" else plain).setdefault(param, []).append(Level(float(value), cell_of[name]))
    if "node" not in bases or len(profiles) != 1:
        return None
    refused = _refusals(data.completions)
    for levels in (*node.values(), *plain.values()):
        levels.sort(key=lambda level: level.value)
        for level in levels:
            level.refused = refused.get(level.cell_id, "")
    run = data.run_dirs[0]
    summary = data.summaries.get(run)
    design = Design(target, bases["node"], bases.get("none"), node, plain, profile=PROFILES[profiles.pop()],
                    prompts=data.completions["prompt_id"].astype(str).unique().tolist(),
                    capability=summary.capability if summary else "",
                    target_kind=str(mine["target_kind"].iloc[0]) if len(mine) else "",
                    server=str((summary.server or {}).get("kind", "")) if summary and summary.server else "")  # fmt: skip
    design.bodies = {cell: _node_fields(body) for cell, body in first_bodies(data.run_dirs).items()}
    design.known_answer = known_answer_prompts(run / records.PROMPTS, design.prompts)
    return design


def _refusals(completions: pd.DataFrame) -> dict[str, str]:
    """cell_id -> the refusal message, for cells whose every request a TGI endpoint (or its rules) refused."""
    out = {}
    for cell_id, rows in completions.groupby("cell_id", sort=False):
        if rows["error"].isin(REFUSALS).all():
            out[str(cell_id)] = str(rows["error_message"].iloc[0])
    return out


def _node_fields(body: dict) -> dict:
    """The node's own fields of a recorded body: the emulation records them as ``node``; a TGI
    endpoint's body is the node's (its ``parameters``, where a client nests them)."""
    if isinstance(body.get("node"), dict):
        return body["node"]
    return body["parameters"] if isinstance(body.get("parameters"), dict) else body


def known_answer_prompts(path: Path, prompts: list[str]) -> list[str]:
    """The prompts with a known answer: a check on what the answer says (contains, icontains,
    equals, starts_with, regex; ``expected`` is contains), not only on its form."""
    if not path.is_file():
        return []
    checks = read_prompt_checks(path)
    return [p for p in prompts if any(check.type in CONTENT_CHECKS for check in checks.get(p, ()))]


class Values:
    """Per-prompt values of a metric for a cell: the mean over its samples (per-sample metrics,
    scores.parquet) or the group metric (group_scores.parquet), in ``prompts`` order.

    ``fill``: the value of a metric the evaluator leaves undefined on a completion that exists
    (a text too short to hold a 4-gram repeats none: seq_rep_4 0; samples all empty share no
    2-gram: distinct_2 0). A prompt without completions (refused, failed) stays NaN.
    """

    def __init__(self, data: RunData, prompts: list[str]):
        self.prompts = prompts
        self.scores = data.scores
        self.groups = data.group_scores

    def of(self, cell_id: str, metric: str, fill: float | None = None, only: list[str] | None = None) -> np.ndarray:
        source = self.scores if metric in self.scores.columns else self.groups
        rows = source[source["cell_id"] == cell_id]
        values = rows[metric].astype(float)
        if fill is not None:
            values = values.fillna(fill)
        per_prompt = values.groupby(rows["prompt_id"].astype(str)).mean()
        out = per_prompt.reindex(self.prompts).to_numpy(dtype=float)
        if only is not None:
            out = np.where(np.isin(self.prompts, only), out, np.nan)
        return out

    def rows(self, cell_ids: list[str]) -> pd.DataFrame:
        return self.scores[self.scores["cell_id"].isin(cell_ids)]
