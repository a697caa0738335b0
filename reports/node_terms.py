"""The recommendation in the workflow node's terms: the node's option values that give the
recommended setting, or what the node cannot express.

A report states it (a line of the verdict, per target) when its run used a node profile
(compat=langchain_hf, or langchain_hf_4_13: hfsweep.core.node PROFILES; the line names its release) or
when its sweep is within the node's reach (every swept parameter takes some value the node's UI
offers). A setting sent the node's way is its own node setting: each option that differs from
"not added" is added. A setting sent hfsweep's way (compat none) is translated, and flagged
where the node cannot do it: a temperature above 1, top_k above 1, a presence penalty (dropped),
a frequency penalty (the node sends it as repetition_penalty, another scale), a value off the
UI's 0.1 steps, sampling at temperature 1 with no top_k or top_p (a TGI endpoint decodes that
greedily), temperature 0 (refused; the node's greedy is "no sampler set"). With the newer client
(TGI's /v1/completions) temperature 0 is greedy, temperature 1 samples, and top_k is dropped.
"""

from __future__ import annotations

import pandas as pd

from hfsweep.core.node import BY_PARAM, PROFILES
from hfsweep.reports.formatting import fnum

NODE_PROFILE = "langchain_hf"  # the release measured before: the profile a run without one is read in
OFF = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0}


def _compat_of(config: dict) -> dict[str, str]:
    """setting_name -> the profile that sent it (a preset's own ``compat``, else the run's)."""
    run = config.get("compat", "none")
    presets = (config.get("sweep") or {}).get("presets") or {}
    return {name: (preset.get("compat", run) if isinstance(preset, dict) else run) for name, preset in presets.items()} | {"": run}


def within_reach(cells: pd.DataFrame, swept: list[str]) -> bool:
    """Every swept parameter takes some value the node's UI offers (the seed has no option)."""
    return all(any(BY_PARAM[p].in_range(float(v)) for v in cells[p].dropna().unique()) for p in swept if p in BY_PARAM)


def node_way(params: dict) -> tuple[list[str], list[str]]:
    """(options to add, flags) for a setting the node sent: each option not at "not added", and Maximum Number of Tokens."""
    add = [f"{BY_PARAM[p].label} {fnum(params[p])}" for p in OFF if p != "presence_penalty" and params[p] != OFF[p]]
    return [*add, f"Maximum Number of Tokens {fnum(params['max_tokens'])}"], []


def plain_way(params: dict, route: str = "generate") -> tuple[list[str], list[str]]:
    """(options to add, flags) for a setting hfsweep sent as named: what the node can type, what it
    cannot; ``route``: the TGI route of the node profile's client (``completions``: the newer client)."""
    t, k, p = params["temperature"], params["top_k"] or 0, params["top_p"]
    add, flags = [], []
    completions = route == "completions"
    if t > 1:
        flags.append(f"temperature {fnum(t)} (the node's UI stops at 1)")
    elif t == 0 and completions:
        add.append("Sampling Temperature 0 (greedy on this client's route)")
    elif t == 0:
        add.append("no sampler (Temperature, Top K and Top P left out: a TGI endpoint then decodes greedily; 0 is refused)")
    elif t != 1:
        add.append(f"Sampling Temperature {fnum(t)}")
    elif k == 0 and p >= 1 and not completions:
        flags.append("sampling at temperature 1 with no top_k or top_p (a TGI endpoint decodes that greedily)")
    if k and completions:
        flags.append(f"top_k {fnum(k)} (this client's route, TGI's /v1/completions, drops Top K)")
    elif k > 1:
        flags.append(f"top_k {fnum(k)} (the node's UI stops at 1, which is greedy)")
    elif k == 1:
        add.append("Top K 1")
    if p < 1:
        (add if BY_PARAM["top_p"].in_range(p) else flags).append(f"Top P {fnum(p)}" if BY_PARAM["top_p"].in_range(p)
                                                                  else f"top_p {fnum(p)} (the UI takes steps of 0.1)")  # fmt: skip
    if params["frequency_penalty"]:
        flags.append(f"frequency_penalty {fnum(params['frequency_penalty'])} (the node sends Frequency Penalty as repetition_penalty, "
                     "1 = none: another scale)")  # fmt: skip
    if params["presence_penalty"]:
        flags.append(f"presence_penalty {fnum(params['presence_penalty'])} (the node drops Presence Penalty)")
    return [*add, f"Maximum Number of Tokens {fnum(params['max_tokens'])}"], flags


def node_lines(recommendation: pd.DataFrame, cells: pd.DataFrame, config: dict, swept: list[str]) -> list[str]:
    """One verdict line per recommended setting, in the node's terms (none when the run is out of the node's reach)."""
    profiles = _compat_of(config)
    node_profiles = [compat for compat in profiles.values() if compat in PROFILES]
    if recommendation.empty or not (node_profiles or within_reach(cells, swept)):
        return []
    run_profile = PROFILES[node_profiles[0] if node_profiles else NODE_PROFILE]
    several = recommendation["target"].nunique() > 1
    names = dict(zip(cells["setting_id"], cells["setting_name"].fillna("")))
    lines = []
    for row in recommendation.to_dict("records"):
        if not isinstance(row.get("setting_id"), str) or row["setting_id"] not in names:
            continue
        compat = profiles.get(names[row["setting_id"]], profiles[""])
        profile = PROFILES.get(compat, run_profile)
        add, flags = node_way(row) if compat in PROFILES else plain_way(row, profile.route)
        who = f"{row['target']}: " if several else ""
        line = f"{who}in the workflow node ({profile.release}): add {', '.join(add)}; leave the other options out"
        if flags:
            line += f". The node cannot express: {'; '.join(flags)}"
        lines.append(line + ".")
    return lines
