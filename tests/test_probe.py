"""Probe says only what it saw (issue 22, part 7): on a server that is not deterministic under a
seed, `probe` tests nothing ("not deterministic: cannot test"), a run keeps nothing of the
hidden-defaults check in hidden-defaults.json, and every request either check sends is counted
by `validate`, `probe` and the run. Against tests/servers/hostile.py, which logs every request."""

from __future__ import annotations

import json

import pytest

from hfsweep.sweeps.probe import HIDDEN, PROBES, UNTESTABLE
from tests.cli_helpers import run_cli
from tests.servers.hostile import Behaviour
from tests.sweep_helpers import QUIET, SCORE_LIGHT

# model.server=auto: the hostile server answers no discovery route, so it is not identified
UNKNOWN = ["model=endpoint", "model.id=m", "model.server=auto", "prompts.limit=2", "samples=1"]
CHECK = 2 * (2 + len(HIDDEN))  # the hidden-defaults check over 2 prompts: omitted twice, then each sampler


def posts(server) -> int:
    return sum(seen.method == "POST" for seen in server.log)


def test_probe_on_a_server_that_is_not_deterministic_tests_nothing(hostile_server):
    hostile_server.behaviour = Behaviour(noisy=True)
    done = run_cli(["probe", "--prompts", "2", *UNKNOWN, f"model.endpoint={hostile_server.url}"])
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert set(lines) == {*PROBES, *HIDDEN}
    assert all(line.endswith(UNTESTABLE) for line in lines.values()), done.stdout
    assert "honoured" not in done.stdout and "IGNORED" not in done.stdout and "applies a default" not in done.stdout
    # the base request twice, then no parameter; the greedy check (temperature 0 under two seeds) still runs
    assert posts(hostile_server) == 4 + 4 and "sent 8 requests" in done.stdout
    assert "greedy decoding (temperature 0, two seeds): different outputs: runs send every sample of greedy cells" in done.stdout


def test_probe_on_a_deterministic_server_counts_its_requests(hostile_server):
    done = run_cli(["probe", "--prompts", "2", *UNKNOWN, f"model.endpoint={hostile_server.url}"])
    assert done.returncode == 0, done.stderr
    assert "temperature        -> 0.0    honoured (2/2 outputs changed)" in done.stdout  # the server's text hangs on it
    assert "top_p              -> 0.05   IGNORED" in done.stdout and UNTESTABLE not in done.stdout
    assert all(f"  {name:<18} no default applied" in done.stdout for name in HIDDEN)
    sent = 2 * (2 + len(PROBES)) + 2 * 2 + CHECK  # base twice, each parameter, greedy under two seeds, the hidden defaults
    assert posts(hostile_server) == sent and f"sent {sent} requests" in done.stdout


@pytest.mark.parametrize("noisy", [True, False], ids=["not_deterministic", "deterministic"])
def test_the_runs_hidden_defaults_check_is_counted_and_kept_only_when_proven(tmp_path, hostile_server, isolated_cache, noisy):
    hostile_server.behaviour = Behaviour(noisy=noisy)
    target = [*UNKNOWN, f"model.endpoint={hostile_server.url}"]
    validate = run_cli(["validate", *target])
    assert f"hidden-defaults check: a run first sends up to {CHECK} requests" in validate.stdout, validate.stdout
    run = run_cli(["run", "--run-dir", str(tmp_path / "run"), *QUIET, *SCORE_LIGHT, *target])
    assert run.returncode == 0, run.stderr
    checked = 4 if noisy else CHECK
    assert f"the hidden-defaults check of the unidentified server sent {checked} requests before the run" in run.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["check_requests"] == checked and summary["sent"] == 2
    assert posts(hostile_server) == checked + 2
    kept = isolated_cache / "hidden-defaults.json"
    warning = next(w for w in summary["warnings"] if "not identified" in w)
    if noisy:
        assert not kept.exists() and "not deterministic under a seed" in warning and "applies defaults" not in warning
        return
    assert list(json.loads(kept.read_text()).values()) == [dict.fromkeys(HIDDEN, 0)]
    assert "found no sampler default of its own" in warning
    again = run_cli(["validate", *target])
    assert "hidden-defaults check: measured already for this target" in again.stdout
    run = run_cli(["run", "--run-dir", str(tmp_path / "again"), *QUIET, *SCORE_LIGHT, *target])
    assert "hidden-defaults check" not in run.stdout
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["check_requests"] == 0
    assert posts(hostile_server) == checked + 2  # the check known, the completions cached: nothing sent
