"""The tables of the report's "Server" section (drawn by ``templates/sections/server.html``):
what served each target and the sampler settings it applies.

A run's ``summary.json`` holds ``server`` (what detection found: kind, version, the server's
default sampler settings, chat template) and ``capability`` (hfsweep's entry for it). What the
sweep really sent is each cell's ``request_params`` (the body of its first request). Beside
each other: a parameter's server default, and what the sweep sent (its swept values, the
one value every cell sent, e.g. a neutral value that switches the server's own sampler off,
or nothing, where the server's default applies).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hfsweep.reports.formatting import fnum
from hfsweep.reports.load import TARGET_COLS, RunData, target_key
from hfsweep.core import records
from hfsweep.core.summary import RunSummary

SERVER_COLS = ["target", "kind", "version", "capability", "chat_template", "runs"]
DEFAULTS_COLS = ["target", "parameter", "server_default", "sent"]
NOT_SAMPLERS = ("seed", "logprobs", "details", "return_full_text", "stream", "model")  # sent, but no sampler setting
NOT_SENT = "not sent: the server's default applies"
ALIASES = {"n_predict": "max_tokens"}  # a server's name for a parameter -> the name requests send it under


def _summaries_by_target(data: RunData, cells: pd.DataFrame) -> dict[str, list[tuple[Path, RunSummary]]]:
    labels = dict(zip(cells["target_key"], cells["target"]))
    out: dict[str, list[tuple[Path, RunSummary]]] = {}
    for run_dir, summary in data.summaries.items():
        for target in summary.targets:
            # a summary's target record names the target kind "kind"
            label = labels.get(target_key([target.kind, *(getattr(target, c) for c in TARGET_COLS[1:])]))
            if label is not None:
                out.setdefault(label, []).append((run_dir, summary))
    return out


def server_table(data: RunData, cells: pd.DataFrame) -> pd.DataFrame:
    """One row per target and server found: kind, version, capability entry, chat template."""
    rows = []
    for label, summaries in _summaries_by_target(data, cells).items():
        seen: dict[tuple, dict] = {}
        for run_dir, summary in summaries:
            server = summary.server or {}
            template = server.get("chat_template")
            row = {"target": label, "kind": server.get("kind") or "not detected (model.server given, or an older run)",
                   "version": server.get("version"), "capability": summary.capability,
                   "chat_template": f"reported ({len(template)} characters)" if template else "none reported"}  # fmt: skip
            key = tuple(row.values())
            seen.setdefault(key, {**row, "runs": []})["runs"].append(run_dir.name)
        for row in seen.values():
            runs = row["runs"]
            rows.append({**row, "runs": ", ".join(runs) if len(runs) <= 4 else f"{len(runs)} runs"})
    return pd.DataFrame(rows, columns=SERVER_COLS)


def _flat(params: dict) -> dict:
    """A request body with its nested sampler fields (``extra_body``, TGI's ``parameters``, what an
    emulated profile ``sent``) lifted; the node's own parameters beside them (``node``) are not the server's.

    >>> _flat({"temperature": 1.0, "seed": 3, "extra_body": {"top_k": 0, "min_p": 0.0}})
    {'temperature': 1.0, 'top_k': 0, 'min_p': 0.0}
    >>> _flat({"temperature": 1.0, "extra_body": None})
    {'temperature': 1.0}
    """
    nested = ("extra_body", "parameters", "sent")
    flat = {k: v for k, v in params.items() if k not in (*nested, "node", "refused")}
    for key in nested:
        if isinstance(params.get(key), dict):
            flat.update(params[key])
    return {k: v for k, v in flat.items() if k not in NOT_SAMPLERS}


def first_bodies(run_dirs: list[Path]) -> dict[str, dict]:
    """cell_id -> the body its first request sent (as recorded), for runs that recorded it."""
    out: dict[str, dict] = {}
    for d in run_dirs:
        path = d / records.COMPLETIONS
        if not path.is_file() or "request_params" not in pq.read_schema(path).names:
            continue
        cell_ids = pq.read_table(path, columns=["cell_id"])["cell_id"].to_pandas()
        first = np.flatnonzero(~cell_ids.duplicated().to_numpy())  # each cell's first row: only those become Python
        firsts = pq.read_table(path, columns=["request_params"])["request_params"].take(first).to_pylist()
        for cell_id, sent in zip(cell_ids.iloc[first], firsts):
            try:
                params = json.loads(sent) if isinstance(sent, str) else None
            except ValueError:
                params = None
            if isinstance(params, dict):
                out.setdefault(str(cell_id), params)
    return out


def sent_params(run_dirs: list[Path]) -> dict[str, dict]:
    """cell_id -> what its first request sent (flattened), for runs that recorded it."""
    return {cell_id: _flat(body) for cell_id, body in first_bodies(run_dirs).items()}


def _values(values: list) -> str:
    """Distinct values, in order when they are all numbers.

    >>> _values([1.0, 0.9, 0.95]), _values(["greedy", 0])
    ('0.9, 0.95, 1', 'greedy, 0')
    """
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        values = sorted(values)
    return ", ".join(str(v) if isinstance(v, (bool, list, dict)) else fnum(v, 6) for v in values)


def _sent_text(values: list, recorded: int) -> str:
    """What the cells of a target sent for one parameter (``values``: one per recorded cell, None = not sent)."""
    if not recorded:
        return "not recorded (a run older than request_params)"
    given = list({json.dumps(v, sort_keys=True): v for v in values if v is not None}.values())  # a list is a value too
    missing = sum(v is None for v in values)
    if not given:
        return NOT_SENT
    text = _values(given) if len(given) == 1 else "swept: " + _values(given)
    return text + (f"; not sent by {missing} of {len(values)} cells (the server's default applies there)" if missing else "")


def defaults_table(data: RunData, cells: pd.DataFrame, sent: dict[str, dict]) -> pd.DataFrame:
    """Per target and parameter: the server's default and what the sweep sent."""
    rows = []
    summaries = _summaries_by_target(data, cells)
    for label, group in cells.groupby("target", sort=False):
        server = next((summary.server for _, summary in summaries.get(label, []) if summary.server), {})
        reported = server.get("defaults") if isinstance(server.get("defaults"), dict) else {}
        defaults = {ALIASES.get(k, k): v for k, v in reported.items()}
        bodies = [sent[c] for c in group["cell_id"].astype(str) if c in sent]
        keys = {k for body in bodies for k in body}
        swept = records.swept_params(group)
        # the sweep's parameters that were sent (SWEEPABLE order), the other fields sent, a swept parameter never
        # sent, then the server's other defaults
        names = [p for p in records.SWEEPABLE if p in keys or not bodies and p in group] + [k for body in bodies for k in body]
        names += [*swept, *defaults]
        for name in dict.fromkeys(names):
            if bodies:
                text = _sent_text([body.get(name) for body in bodies], len(bodies))
            elif name in group:  # not recorded: the cells' values (what hfsweep meant to send)
                text = "cells' values (the request was not recorded): " + _values(group[name].dropna().unique().tolist())
            else:
                text = _sent_text([], 0)
            default = defaults.get(name)
            shown = fnum(default, 6) if default is not None else ("not reported" if server else "server not detected")
            rows.append({"target": label, "parameter": name, "server_default": shown, "sent": text})
    return pd.DataFrame(rows, columns=DEFAULTS_COLS)
