"""The recommendation in the workflow node's terms: a verdict line with the node's option values,
and a flag for what the node cannot express."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hfsweep.cli import main
from hfsweep.core import records
from hfsweep.reports.node_terms import node_lines, node_way, plain_way, within_reach

FIX = Path(__file__).parent / "fixtures"
BASE = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0, "max_tokens": 128}


def test_a_setting_sent_as_named_is_translated_or_flagged():
    assert plain_way({**BASE, "temperature": 0.7}) == (["Sampling Temperature 0.7", "Maximum Number of Tokens 128"], [])
    assert plain_way({**BASE, "top_p": 0.9}) == (["Top P 0.9", "Maximum Number of Tokens 128"], [])
    _, flags = plain_way({**BASE, "temperature": 1.3, "top_k": 40, "presence_penalty": 0.5, "frequency_penalty": 0.5})
    assert [flag.split(" (")[0] for flag in flags] == ["temperature 1.3", "top_k 40", "frequency_penalty 0.5", "presence_penalty 0.5"]
    assert plain_way(BASE)[1] == ["sampling at temperature 1 with no top_k or top_p (a TGI endpoint decodes that greedily)"]
    assert plain_way({**BASE, "top_p": 0.95})[1] == ["top_p 0.95 (the UI takes steps of 0.1)"]
    assert plain_way({**BASE, "temperature": 0.0})[0][0].startswith("no sampler")


def test_with_the_newer_client_temperature_0_is_greedy_and_top_k_is_dropped():
    assert plain_way({**BASE, "temperature": 0.0}, "completions")[0][0] == "Sampling Temperature 0 (greedy on this client's route)"
    assert plain_way(BASE, "completions") == (["Maximum Number of Tokens 128"], [])  # temperature 1 samples on /v1/completions
    assert plain_way({**BASE, "top_k": 1}, "completions")[1] == ["top_k 1 (this client's route, TGI's /v1/completions, drops Top K)"]
    rec = pd.DataFrame([{"target": "m", "setting_id": "s1", **BASE, "top_p": 0.9}])
    cells = pd.DataFrame({"setting_id": ["s1"], "setting_name": [""], "top_p": [0.9]})
    line, = node_lines(rec, cells, {"compat": "langchain_hf_4_13"}, ["top_p"])
    assert line == ("in the workflow node (@n8n/n8n-nodes-langchain 2.41.1 with @huggingface/inference 4.13.30 in place of its pinned "
                    "4.0.5): add Top P 0.9, Maximum Number of Tokens 128; leave the other options out.")


def test_a_setting_sent_the_nodes_way_is_its_own_node_setting():
    assert node_way({**BASE, "frequency_penalty": 1.2, "top_p": 0.5}) == (
        ["Top P 0.5", "Frequency Penalty 1.2", "Maximum Number of Tokens 128"], [])


def test_only_a_sweep_within_the_nodes_reach_gets_the_line():
    cells = pd.DataFrame({"temperature": [1.5, 2.0], "top_p": [1.0, 1.0]})
    assert not within_reach(cells, ["temperature"]) and within_reach(cells.assign(temperature=[0.5, 2.0]), ["temperature"])
    rec = pd.DataFrame([{"target": "m", "setting_id": "s1", **BASE, "temperature": 2.0}])
    cells = pd.DataFrame({"setting_id": ["s1", "s2"], "setting_name": ["", ""], "temperature": [1.5, 2.0], "top_p": [1.0, 1.0]})
    assert node_lines(rec, cells, {"compat": "none"}, ["temperature"]) == []
    line, = node_lines(rec, cells, {"compat": "langchain_hf"}, ["temperature"])  # a node run always gets it
    assert line.startswith("in the workflow node (@n8n/n8n-nodes-langchain 2.41.1 with its pinned @huggingface/inference 4.0.5): add Sampling Temperature 2")


def test_the_report_states_the_recommendation_in_the_nodes_terms(tmp_path, capsys):
    page = tmp_path / "index.html"
    assert main(["report", str(FIX / "report_sweep"), "--out", str(page)]) == 0
    lines = json.loads((tmp_path / records.VERDICT).read_text())["lines"]
    node = [line for line in lines if "in the workflow node" in line]
    assert len(node) == 2  # one per target
    # the decision rule recommends the simplest of the tied settings (temperature=1, top_p=1) for both targets
    assert node[1] == ("tiny-bb: in the workflow node (@n8n/n8n-nodes-langchain 2.41.1 with its pinned @huggingface/inference 4.0.5): add Maximum Number of Tokens 24; "
                       "leave the other options out. The node cannot express: sampling at temperature 1 with no top_k or top_p "
                       "(a TGI endpoint decodes that greedily).")  # fmt: skip
    assert node[0].startswith("tiny-a: in the workflow node") and "The node cannot express: sampling at temperature 1" in node[0]
    assert "in the workflow node" in capsys.readouterr().out and "in the workflow node" in page.read_text()
