"""No paid duplicates: one request per prompt for greedy cells on a target shown deterministic.

A cell at temperature 0, or top_k 1 where the target honours top_k, decodes greedily: on a
deterministic target every sample of a prompt is the same text, whatever its seed. Once that is
shown, the other samples of such a cell are written as **copies** of sample 0: the record's
``copy_of`` names the sample it repeats, it is counted as a cache hit, and nothing is sent.

Shown means: ``hfsweep probe`` found two greedy requests with different seeds gave the same
texts (recorded beside the completion cache, per target), or this run's own first requests
did: sample 1 of the first :data:`CHECK_PAIRS` greedy prompts is sent beside sample 0 and
compared (pairs already in the cache count, so a re-run sends no check). Until then, and as
soon as any pair differs, every sample is sent as before, and the run's warnings say so.
``runner.copy_greedy=false`` sends every sample whatever is known.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hfsweep.core import records
from hfsweep.core.records import FIELDS, CompletionRecord
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.grid import stable_hash
from hfsweep.sweeps.plan import Job, Plan
from hfsweep.sweeps.servers import Capability
from hfsweep.sweeps.store import default_cache_path

CHECK_PAIRS = 3  # greedy prompts whose samples 0 and 1 a run compares before it copies
RECORD_FILE = "greedy-determinism.json"  # beside the completion cache: what `hfsweep probe` found, per target


def is_greedy(params: Mapping, capability: Capability) -> bool:
    """Whether a cell's parameters decode greedily on this target: temperature 0, or top_k 1
    where the target honours top_k (where it ignores it, top_k 1 samples like top_k off).

    >>> from hfsweep.sweeps.servers import ALL, NO_TOP_K
    >>> is_greedy({"temperature": 0.0, "top_k": 0}, Capability("x", ALL)), is_greedy({"temperature": 0.7, "top_k": 1}, Capability("x", NO_TOP_K))
    (True, False)
    """
    return (params["temperature"] == 0 and "temperature" in capability.honoured) or (
        params["top_k"] == 1 and "top_k" in capability.honoured
    )


def _record_path(config: Config) -> Path:
    return Path(config.runner.cache_path or default_cache_path()).with_name(RECORD_FILE)


def record(config: Config, deterministic: bool, prompts: int) -> None:
    """Keep what ``hfsweep probe`` found about the target's greedy answers (same text for
    different seeds on every one of ``prompts`` prompts, or not) for the runs that follow."""
    path = _record_path(config)
    known = json.loads(path.read_text()) if path.is_file() else {}
    known[stable_hash(config.model.identity())] = {"deterministic": deterministic, "prompts": prompts}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=1))


def recorded(config: Config) -> bool | None:
    """What ``hfsweep probe`` recorded about this target's greedy answers (None: never probed)."""
    path = _record_path(config)
    entry = (json.loads(path.read_text()) if path.is_file() else {}).get(stable_hash(config.model.identity()))
    return None if entry is None else bool(entry["deterministic"])


@dataclass
class GreedyCheck:
    """What a run knows of its target's greedy determinism, shared by every round of a search;
    it decides which greedy samples are held back and which become copies."""

    capability: Capability
    enabled: bool = True  # runner.copy_greedy
    probe: bool | None = None  # what `hfsweep probe` recorded
    agreed: int = 0  # greedy (cell, prompt) groups whose real samples all gave sample 0's text
    differed: int = 0
    copies: int = 0
    greedy_cells: set[str] = field(default_factory=set)  # greedy cells with more than one sample
    seen: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def for_plan(cls, plan: Plan) -> GreedyCheck:
        config = plan.config
        cells = {c.id for c in plan.cells if is_greedy(c.setting.params.as_dict(), plan.capability)} if config.samples > 1 else set()
        probe = recorded(config) if cells and config.runner.copy_greedy else None
        return cls(plan.capability, config.runner.copy_greedy, probe, greedy_cells=cells)

    @property
    def refuted(self) -> bool:
        return self.differed > 0 or self.probe is False

    @property
    def shown(self) -> bool:
        return not self.refuted and (self.probe is True or self.agreed > 0)

    def observe(self, rows: Iterable[Mapping]) -> None:
        """Compare, per greedy (cell, prompt) not compared yet, the real samples (not copies,
        not error rows) with sample 0, once sample 0 and another sample are both in."""
        groups: dict[tuple[str, str], dict[int, str]] = {}
        for row in rows:
            if row["cell_id"] in self.greedy_cells and row.get("copy_of") is None and not records.is_error(row["error"]):
                groups.setdefault((row["cell_id"], row["prompt_id"]), {})[row["sample_index"]] = row["text"]
        for key, texts in groups.items():
            if key in self.seen or 0 not in texts or len(texts) < 2:
                continue
            self.seen.add(key)
            if all(text == texts[0] for text in texts.values()):
                self.agreed += 1
            else:
                self.differed += 1

    def hold(self, jobs: list[Job], todo: list[Job], rows: Callable[[], Iterable[Mapping]]) -> tuple[list[Job], list[Job]]:
        """Split ``todo`` (the jobs of ``jobs`` not replayed from the cache; ``rows``: reads the
        run's records so far, only when there are greedy cells) into (jobs to send now, greedy
        samples held back to become copies of their sample 0). While determinism is not shown,
        sample 1 of up to :data:`CHECK_PAIRS` greedy prompts is sent now to show it."""
        if not self.enabled or not self.greedy_cells:
            return todo, []
        self.observe(rows())
        if self.refuted:
            return todo, []
        sources = {(j.cell.id, j.prompt.id) for j in jobs if j.sample_index == 0}
        followups = [j for j in todo if j.sample_index > 0 and j.cell.id in self.greedy_cells and (j.cell.id, j.prompt.id) in sources]
        check: set[tuple[str, str]] = set()
        if not self.shown:
            for job in followups:
                key = (job.cell.id, job.prompt.id)
                if job.sample_index == 1 and key not in self.seen and len(check) < CHECK_PAIRS - self.agreed:
                    check.add(key)
        held = [j for j in followups if not (j.sample_index == 1 and (j.cell.id, j.prompt.id) in check)]
        held_keys = {j.cache_key for j in held}
        return [j for j in todo if j.cache_key not in held_keys], held

    def fill(self, held: list[Job], rows: Iterable[Mapping], run_id: str) -> tuple[list[CompletionRecord], list[Job]]:
        """The held jobs as copies of their sample 0's record (``rows``: the run's records, the
        latest per sample last), and the jobs still to send: all of them unless determinism is
        shown (first compared on ``rows``), and any whose sample 0 failed."""
        rows = list(rows)
        self.observe(rows)
        if not self.shown:
            return [], held
        first = {(r["cell_id"], r["prompt_id"]): r for r in rows if r["sample_index"] == 0}
        copies, rest = [], []
        for job in held:
            source = first.get((job.cell.id, job.prompt.id))
            if source is None or records.is_error(source["error"]):
                rest.append(job)
                continue
            copies.append(_copy(source, job, run_id))
        self.copies += len(copies)
        return copies, rest

    def outcome(self) -> dict | None:
        """For the run's summary: the greedy cells, what showed determinism (or not) and the
        copies made; None without greedy cells that take more than one sample."""
        if not self.greedy_cells:
            return None
        by = "probe" if self.probe is True and not self.refuted else "run" if self.shown else None
        return {"cells": len(self.greedy_cells), "enabled": self.enabled, "shown_by": by, "probe": self.probe,
                "pairs_agreed": self.agreed, "pairs_differed": self.differed, "copies": self.copies}  # fmt: skip


def note(outcome: dict | None) -> str | None:
    """The run's one line about its greedy cells (None without any).

    >>> note({"cells": 1, "enabled": True, "shown_by": None, "probe": None, "pairs_agreed": 1, "pairs_differed": 2, "copies": 0})
    'greedy cells (temperature 0 or top_k 1): 2 of 3 sample pairs differed, so the target is not deterministic for greedy decoding: every sample was sent'
    """
    if outcome is None:
        return None
    agreed, differed, copies = outcome["pairs_agreed"], outcome["pairs_differed"], outcome["copies"]
    head = "greedy cells (temperature 0 or top_k 1)"
    if not outcome["enabled"]:
        return f"{head}: runner.copy_greedy=false, every sample was sent"
    if outcome["shown_by"] == "probe":
        return f"{head}: deterministic by `hfsweep probe`; {copies} samples copied from sample 0 instead of sent"
    if outcome["shown_by"] == "run":
        return (f"{head}: deterministic, all {agreed} sample pairs compared gave the same text; {copies} samples copied "
                "from sample 0 instead of sent")  # fmt: skip
    if outcome["probe"] is False:
        return f"{head}: `hfsweep probe` found greedy answers change with the seed, so the target is not deterministic: every sample was sent"
    if differed:
        return (f"{head}: {differed} of {agreed + differed} sample pairs differed, so the target is not deterministic "
                "for greedy decoding: every sample was sent")  # fmt: skip
    return f"{head}: determinism was not shown (no pair of samples came back to compare): every sample was sent"


def _copy(source: Mapping, job: Job, run_id: str) -> CompletionRecord:
    """Sample ``job.sample_index`` as a copy of ``source`` (sample 0's record): its text, tokens,
    latency and the request that produced them; this sample's own seed, index and cache key."""
    values = {name: source[name] for name in FIELDS if name in source}
    return dataclasses.replace(CompletionRecord(**values), run_id=run_id, seed=job.request.params["seed"],
                               sample_index=job.sample_index, cache_key=job.cache_key, cached=True, retries=0,
                               copy_of=source["sample_index"])  # fmt: skip
