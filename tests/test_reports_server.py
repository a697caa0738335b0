"""The report's Server section: what served each target, its default sampler settings beside
what the sweep sent, all of it escaped (a server's answers are as untrusted as model output).
Runs made here against a local llama-cpp-python look-alike (real HTTP, real detection)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hfsweep import reports
from tests.servers.kinds import LLAMA_CPP_PYTHON_CHAT_SCHEMA, LLAMA_CPP_PYTHON_DEFAULTS, llama_cpp_python_openapi
from tests.servers.planted import PlantedServer
from tests.sweep_helpers import SCORE_LIGHT, sweep

FIX = Path(__file__).resolve().parent / "fixtures"
PAYLOAD = "<script>window.__xss=1</script>"
COMMON = [*SCORE_LIGHT, "sweep=decoding", "model.mode=chat", "prompts.limit=2", "samples=1", "sampling.max_tokens=8",
          "runner.allow_ignored=true"]  # fmt: skip


def _report(run_dir, tmp_path):
    page = reports.build_report(run_dir, out=tmp_path / "report" / "index.html", options={"plots": False, "bootstrap_resamples": 200})
    tables = page.parent / "tables"
    return page.read_text(), pd.read_csv(tables / "server.csv"), pd.read_csv(tables / "server_defaults.csv").set_index("parameter")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One sweep with detection, one with model.server=openai, against the same look-alike."""
    base = tmp_path_factory.mktemp("server")
    schema = {"properties": {**LLAMA_CPP_PYTHON_CHAT_SCHEMA["properties"], "typical_p": {"type": "number", "default": PAYLOAD}}}
    routes = {"/openapi.json": llama_cpp_python_openapi(version=PAYLOAD, schema=schema)}
    with PlantedServer(routes=routes, hidden=LLAMA_CPP_PYTHON_DEFAULTS) as server:
        target = ["model=endpoint", f"model.endpoint={server.url}", "model.id=smollm2"]
        sweep(base / "auto", [*target, *COMMON])
        sweep(base / "blind", [*target, "model.server=openai", *COMMON])
    return base


def test_detected_server_and_its_defaults_beside_what_was_sent(runs, tmp_path):
    page, servers, defaults = _report(runs / "auto", tmp_path)
    assert servers.loc[0, "kind"] == "llama-cpp-python" and servers.loc[0, "version"] == PAYLOAD
    assert servers.loc[0, "capability"] == "llama-cpp-python server"
    assert defaults.loc["top_k", "server_default"] == "40" and defaults.loc["top_k", "sent"] == "swept: 0, 40, 640"
    assert defaults.loc["temperature", "sent"] == "swept: 0, 0.7, 0.9, 1"
    assert (defaults.loc["min_p", "server_default"], defaults.loc["min_p", "sent"]) == ("0.05", "0")  # the neutral value
    assert (defaults.loc["repeat_penalty", "server_default"], defaults.loc["repeat_penalty", "sent"]) == ("1.1", "1")
    assert defaults.loc["typical_p", "sent"] == "1"  # the planted server's typical_p default is a payload
    # the section is the run's metadata: after the evidence, before the run summary; every server string is escaped
    assert page.index('id="leaderboard"') < page.index('id="server"') < page.index('id="summary"')
    section = page[page.index('id="server"'):page.index('id="summary"')]
    assert "llama-cpp-python" in section and "sent by the sweep" in section
    assert PAYLOAD not in page and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in section


def test_without_detection_the_server_default_applies_to_what_was_not_sent(runs, tmp_path):
    _, servers, defaults = _report(runs / "blind", tmp_path)
    assert servers.loc[0, "kind"].startswith("not detected") and servers.loc[0, "capability"] == "generic OpenAI-compatible server"
    # top_k 0 is "off" for a generic server: not sent, so the server's own top_k applied in those cells
    assert defaults.loc["top_k", "sent"] == "swept: 40, 640; not sent by 4 of 7 cells (the server's default applies there)"
    assert defaults.loc["top_k", "server_default"] == "server not detected"
    assert "min_p" not in defaults.index and "extra_body" not in defaults.index  # neither sent nor known


def test_runs_recorded_before_request_params_show_the_cells_values(tmp_path):
    _, servers, defaults = _report(FIX / "report_decoding", tmp_path)
    assert servers.loc[0, "kind"].startswith("not detected")
    assert defaults.loc["top_k", "sent"].startswith("cells' values (the request was not recorded): 0, 40")
