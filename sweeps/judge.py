"""The optional judge: any target scores a run's completions through the same runner.

Each finished completion becomes one judge request (the rubric filled with the prompt and the
output, greedy, seed 0), sent like any other: cache, retries, concurrency, resume. The answers
are kept in ``judgments.jsonl``; ``judgments.parquet`` holds one row per judged completion,
keyed by the completion's (cell, prompt, sample) and its cache key, with the parsed
``judge_score`` (NaN when the answer cannot be parsed, counted in the summary).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hfsweep.core import records, summary
from hfsweep.sweeps.backends import Request
from hfsweep.sweeps.capabilities import capability_for
from hfsweep.sweeps.config import Config, Sampling
from hfsweep.sweeps.grid import Cell, Setting, stable_hash
from hfsweep.sweeps.plan import Job, Plan, resolve_target
from hfsweep.sweeps.prompts import Prompt
from hfsweep.sweeps.runner import execute


def parse_judgment(text: str | None, rule: str) -> float:
    """The score in a judge's answer: its first number if that is an integer 1..10, or PASS/FAIL
    as 1/0; NaN otherwise.

    >>> parse_judgment(" 7/10, solid", "score_1_10"), parse_judgment("Verdict: fail", "pass_fail")
    (7.0, 0.0)
    >>> parse_judgment("excellent!", "score_1_10")
    nan
    """
    if not isinstance(text, str):
        return math.nan
    if rule == "pass_fail":
        match = re.search(r"\b(pass|fail)\b", text, re.IGNORECASE)
        return math.nan if match is None else float(match.group(1).lower() == "pass")
    match = re.search(r"\d+(?:\.\d+)?", text)  # the first number, which must be an integer 1..10
    if match is None or "." in match.group() or not 1 <= int(match.group()) <= 10:
        return math.nan
    return float(match.group())


@dataclass
class JudgeResult:
    judged: int
    unparseable: int
    errors: int
    sent: int
    interrupted: bool = False
    kinds: dict = field(default_factory=dict)


def judge_run(config: Config, run_dir: Path) -> JudgeResult:
    """Judge every finished completion of ``run_dir`` with ``config.judge``."""


    judge = config.judge
    judge_config, _ = resolve_target(dataclasses.replace(config, model=judge.model, compat="none"))
    setting = Setting(Sampling(temperature=0.0, top_k=0, top_p=1.0, max_tokens=judge.max_tokens, seed=0), "judge")
    cell = Cell(judge_config.model, setting)
    completions = pq.read_table(run_dir / records.COMPLETIONS).to_pylist()
    jobs, keys = [], []
    for row in completions:
        if records.is_error(row["error"]):
            continue
        text = judge.rubric.replace("{prompt}", row["prompt"]).replace("{output}", row["text"] or "")
        request = Request(text, setting.params.as_dict(), judge_config.model.system_prompt)
        key = stable_hash({"judge": judge_config.model.identity(), "prompt": text, "params": request.params}, length=32)
        jobs.append(Job(cell, Prompt(row["cache_key"], text), 0, request, key))
        keys.append((row["cell_id"], row["prompt_id"], row["sample_index"], row["cache_key"]))
    plan = Plan(judge_config, [cell], [job.prompt for job in jobs], jobs, capability_for(judge_config.model), [])
    rows, stats, interrupted, _ = execute(plan, jobs, run_dir, f"judge-{stable_hash(str(run_dir.resolve()), 6)}", records.JUDGMENTS_JSONL)
    answers = {r["prompt_id"]: r for r in rows}  # a judge row's prompt id is the judged completion's cache key
    table = {"cell_id": [], "prompt_id": [], "sample_index": [], "cache_key": [], "judge_text": [], "judge_error": [], "judge_score": []}
    for cell_id, prompt_id, sample_index, cache_key in keys:
        answer = answers.get(cache_key) or {}
        error = answer.get("error") if answer else "not judged"
        score = math.nan if records.is_error(error) else parse_judgment(answer.get("text"), judge.parse)
        for name, value in zip(table, (cell_id, prompt_id, sample_index, cache_key, answer.get("text"), error, score)):
            table[name].append(value)
    pq.write_table(pa.table(table), run_dir / records.JUDGMENTS)
    errors = sum(records.is_error(e) for e in table["judge_error"])
    unparseable = sum(math.isnan(s) for s in table["judge_score"]) - errors
    result = JudgeResult(len(keys), unparseable, errors, stats.sent, interrupted)
    warning = (f"judge {judge_config.model.id}: {unparseable} of {result.judged} judgments could not be parsed "
               f"({judge.parse}) and {errors} failed; their judge_score is NaN") if unparseable or errors else None
    summary.add_judge(run_dir, summary.JudgeSummary(judge_config.model.id, judge_config.model.kind, result.judged,
                                                    unparseable, errors, stats.sent), warning)  # fmt: skip
    return result


def merge_scores(run_dir: Path) -> None:
    """Add ``judge_score`` to ``scores.parquet`` from ``judgments.parquet`` (when there is one)."""
    if not (run_dir / records.JUDGMENTS).is_file():
        return
    scores = pd.read_parquet(run_dir / records.SCORES)
    judged = pd.read_parquet(run_dir / records.JUDGMENTS, columns=["cell_id", "prompt_id", "sample_index", "judge_score"])
    scores = scores.drop(columns=["judge_score"], errors="ignore").merge(judged, on=["cell_id", "prompt_id", "sample_index"], how="left")
    scores.to_parquet(run_dir / records.SCORES, index=False)
