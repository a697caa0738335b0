"""MLflow export against a real `mlflow server` (SQLite backend store, artifacts served) on
127.0.0.1: a parent run per sweep, a child run per cell with its params and metrics, read back
through MLflow's client; exported twice, nothing is duplicated."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hfsweep.sweeps.embedded import free_port
from tests.cli_helpers import ROOT, run_cli
from tests.servers.processes import wait_until_serving
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra: pip install -e '.[mlflow]' (make test installs it)")
FIXTURE = ROOT / "tests" / "fixtures" / "report_decoding"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """`mlflow server` with a SQLite store and its own artifact folder, stopped (its process group) after the module."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    log = open(folder / "server.log", "w")  # noqa: SIM115 (the server writes it until the module ends)
    proc = subprocess.Popen([str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{folder / 'store.db'}",
                             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], cwd=folder, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/health", proc, folder / "server.log")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def runs_of(url: str, experiment: str) -> tuple[object, list]:
    client = mlflow.tracking.MlflowClient(tracking_uri=url)
    found = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([found.experiment_id]) if found is not None else [])


def test_a_run_is_a_parent_with_one_child_per_cell_and_exporting_twice_updates_it(tmp_path, tracking_server):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    args = ["export", str(run_dir), "--format", "mlflow", "--tracking-uri", tracking_server, "--experiment", "twice"]
    first = run_cli(args)
    assert first.returncode == 0, first.stderr
    assert "exported 4 cells (4 new) to MLflow" in first.stdout and "View run" not in first.stdout
    client, runs = runs_of(tracking_server, "twice")
    parents = [r for r in runs if "hfsweep.cell" not in r.data.tags]
    children = [r for r in runs if "hfsweep.cell" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    assert all(r.info.status == "FINISHED" for r in runs)
    assert parent.data.params["cells"] == "4" and parent.data.params["samples"] == "3"
    assert "No recommendation" in parent.data.tags["mlflow.note.content"]
    cells = pd.read_csv(run_dir / "report" / "tables" / "cells.csv").set_index("cell_id")
    estimates = pd.read_csv(run_dir / "report" / "tables" / "cell_metrics.csv")
    for child in children:
        cell_id = child.data.tags["hfsweep.cell"]
        params, metrics = child.data.params, child.data.metrics
        assert float(params["temperature"]) == cells.loc[cell_id, "temperature"] and int(params["top_k"]) == cells.loc[cell_id, "top_k"]
        assert params["setting_name"] == cells.loc[cell_id, "setting_name"]
        row = estimates[(estimates["cell_id"] == cell_id) & (estimates["metric"] == "distinct_2")].iloc[0]
        assert metrics["distinct_2"] == pytest.approx(row["mean"])
        assert metrics["distinct_2_ci_low"] == pytest.approx(row["ci_low"]) and metrics["distinct_2_ci_high"] == pytest.approx(row["ci_high"])
        assert metrics["requests"] == 12 and metrics["errors"] == 0 and metrics["completion_tokens"] > 0
        assert child.data.tags["hfsweep.recommended"] == "false"  # no quality measure: no recommendation
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"config.yaml", "summary.json", "report"} <= artifacts
    report = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/index.html", "report/verdict.json", "report/tables"} <= report
    assert "report/tables/cell_metrics.csv" in {a.path for a in client.list_artifacts(parent.info.run_id, "report/tables")}

    again = run_cli(args)
    assert again.returncode == 0 and "exported 4 cells (0 new)" in again.stdout, again.stderr
    _, rerun = runs_of(tracking_server, "twice")
    assert sorted(r.info.run_id for r in rerun) == sorted(r.info.run_id for r in runs)


def test_report_mlflow_exports_at_the_end_of_a_run_with_the_recommendation_as_tags(tmp_path, tracking_server, fault_server):
    done = run_cli(["run", "--run-dir", str(tmp_path / "run"), *[o for o in QUIET if "report.enabled" not in o], *SCORE_LIGHT,
                    *endpoint(fault_server.url), "sweep=quick", "prompts.limit=4", "samples=2", "report.plots=false", "objective.metric=words",
                    "report.mlflow.enabled=true", f"report.mlflow.tracking_uri={tracking_server}", "report.mlflow.experiment=at-end"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, runs = runs_of(tracking_server, "at-end")
    parent = next(r for r in runs if "hfsweep.cell" not in r.data.tags)
    children = [r for r in runs if "hfsweep.cell" in r.data.tags]
    recommendation = pd.read_csv(tmp_path / "run" / "report" / "tables" / "recommendation.csv")
    cells = pd.read_csv(tmp_path / "run" / "report" / "tables" / "cells.csv")
    assert len(children) == len(cells) == 6 and len(recommendation) == 1
    tags = {k.removeprefix("recommendation."): v for k, v in parent.data.tags.items() if k.startswith("recommendation.")}
    assert set(tags) <= set(recommendation.columns) and str(recommendation["metric"].iloc[0]) == tags["metric"] == "words"
    recommended = [r for r in children if r.data.tags["hfsweep.recommended"] == "true"]
    assert [r.data.params["setting_id"] for r in recommended] == [recommendation["setting_id"].iloc[0]]
    assert all({"words", "words_ci_low", "words_ci_high", "requests"} <= set(r.data.metrics) for r in children)


def test_an_unreachable_tracking_server_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    result = run_cli(["export", str(run_dir), "--format", "mlflow", "--tracking-uri", f"http://127.0.0.1:{free_port()}"],
                     env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "MLflow at http://127.0.0.1:" in lines[0] and "refused the export" in lines[0]
