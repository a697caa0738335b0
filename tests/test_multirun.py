"""`hfsweep run -m`: Hydra multirun with the basic, joblib and Ray launchers, merged reports, failed jobs.

Every multirun is a real `python -m hfsweep run -m ...` subprocess (Hydra's launchers start
processes, Ray workers and global state of their own) against the embedded llama.cpp models or
the fault-injecting server on 127.0.0.1. The SLURM example is checked as far as a machine without
SLURM allows: it composes, and submitit accepts every key and writes the expected sbatch script.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from hfsweep.cli import main
from hfsweep.sweeps.compose import CONF_DIR
from hfsweep.sweeps.embedded import free_port
from tests.cli_helpers import ROOT, run_cli
from tests.servers.fault_server import FaultServer

TIMEOUT = 240  # s, for a whole multirun: its launchers start processes, llama-servers or Ray workers
TINY = ["sweep=single", "prompts.limit=2", "samples=2", "sampling.max_tokens=8", "runner.progress=false",
        "report.bootstrap_resamples=200", "report.plots=false"]  # fmt: skip


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted((d for d in sweep_dir.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))


def interval(job: Path) -> tuple[datetime, datetime]:
    summary = json.loads((job / "summary.json").read_text())
    return datetime.fromisoformat(summary["started_at"]), datetime.fromisoformat(summary["finished_at"])


def assert_model_comparison(sweep_dir: Path, targets: list[str]) -> None:
    """One merged report over the sweep: the targets compared setting by setting, prompt by prompt."""
    assert (sweep_dir / "report" / "index.html").is_file()
    tables = sweep_dir / "report" / "tables"
    cells = pd.read_csv(tables / "cells.csv")
    assert sorted(cells["target"]) == sorted(targets)
    assert cells["setting_id"].nunique() == 1  # the same setting id in every job: they pair
    pairs = pd.read_csv(tables / "model_pairs.csv")
    assert not pairs.empty
    assert {frozenset(p) for p in zip(pairs["target_a"], pairs["target_b"])} == {frozenset(targets)}
    per_setting = pairs[pairs["setting_id"] != "(all)"]
    assert (per_setting["setting_id"] == cells["setting_id"].iloc[0]).all()
    assert (per_setting["n"] == 2).all()  # paired over the 2 prompts


@pytest.mark.slow
def test_basic_launcher_two_embedded_models_one_merged_report(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = run_cli(["run", "-m", "model=smollm2,gemma3", *TINY, f"hydra.sweep.dir={sweep_dir}"], timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"report: {sweep_dir / 'report' / 'index.html'}" in done.stdout
    jobs = job_dirs(sweep_dir)
    assert [d.name for d in jobs] == ["0", "1"]
    for job, model in zip(jobs, ["smollm2", "gemma3"]):
        assert len(pd.read_parquet(job / "completions.parquet")) == 4  # 1 cell x 2 prompts x 2 samples
        assert json.loads((job / "summary.json").read_text())["targets"][0]["model"] == model
        assert not (job / "failed.json").exists()
    first, second = interval(jobs[0]), interval(jobs[1])
    assert first[1] <= second[0]  # the basic launcher runs the jobs in turn
    assert_model_comparison(sweep_dir, ["smollm2", "gemma3"])


@pytest.mark.slow
def test_joblib_launcher_serves_two_embedded_models_side_by_side(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = run_cli(["run", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=smollm2,gemma3",
                    *TINY, f"hydra.sweep.dir={sweep_dir}"], timeout=TIMEOUT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in done.stdout + done.stderr
    jobs = job_dirs(sweep_dir)
    assert [d.name for d in jobs] == ["0", "1"]
    (start_a, end_a), (start_b, end_b) = interval(jobs[0]), interval(jobs[1])
    assert start_a < end_b and start_b < end_a  # two processes, each with its llama-server, at once
    assert_model_comparison(sweep_dir, ["smollm2", "gemma3"])


def test_failed_job_does_not_hide_the_other(tmp_path):
    """One job's endpoint refuses connections: the other finishes, failed.json and the report say why, exit 1."""
    sweep_dir = tmp_path / "sweep"
    with FaultServer(latency=0.0) as server:
        done = run_cli(["run", "-m", "model=endpoint", f"model.endpoint=http://127.0.0.1:9,{server.url}",
                        "model.id=fault-server-model", *TINY, f"hydra.sweep.dir={sweep_dir}"], timeout=TIMEOUT)  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "failed job (" in done.stderr and "http://127.0.0.1:9' refused the connection" in done.stderr
    bad, good = job_dirs(sweep_dir)
    failed = json.loads((bad / "failed.json").read_text())
    assert failed["status"] == "failed"
    assert "refused the connection" in failed["error"] and "127.0.0.1:9" in failed["error"]
    assert "model.id=fault-server-model" in failed["overrides"]
    assert "traceback" not in failed  # a user error, not a bug
    assert not (good / "failed.json").exists()
    assert len(pd.read_parquet(good / "completions.parquet")) == 4
    html = (sweep_dir / "report" / "index.html").read_text()
    assert "Failed jobs" in html and "refused the connection" in html

    # `hfsweep report SWEEP_DIR` alone finds both jobs again and lists the failed one.
    out = tmp_path / "again" / "index.html"
    assert main(["report", str(sweep_dir), "--out", str(out)]) == 0
    assert "Failed jobs" in out.read_text() and str(bad) in out.read_text()


def test_every_job_failing_exits_1_without_a_report(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = run_cli(["run", "-m", "model=endpoint", "model.endpoint=http://127.0.0.1:9,http://127.0.0.1:7", "model.id=m",
                    *TINY, f"hydra.sweep.dir={sweep_dir}"], timeout=TIMEOUT)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("failed job (") == 2
    assert all((job / "failed.json").is_file() for job in job_dirs(sweep_dir))
    assert not (sweep_dir / "report").exists()


def test_report_overrides_reach_the_merged_report(tmp_path):
    """report.* overrides are the jobs' config: report.enabled=False skips the merged report."""
    sweep_dir = tmp_path / "sweep"
    with FaultServer(latency=0.0) as server:
        done = run_cli(["run", "-m", "model=endpoint", "model.server=openai", f"model.endpoint={server.url}", "model.id=a,b", *TINY,
                        "report.enabled=False", f"hydra.sweep.dir={sweep_dir}"], timeout=TIMEOUT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [d.name for d in job_dirs(sweep_dir)] == ["0", "1"]
    assert "report:" not in done.stdout and not (sweep_dir / "report").exists()


@pytest.fixture
def ray_cluster(tmp_path):
    """A one-node Ray cluster on 127.0.0.1 started with `ray start --head --block`; yields (address, env).

    Its workers get this process's environment plus a cache directory of their own, so the test
    can tell that the jobs ran inside Ray. Stopped by killing its process group (ray stop would
    stop every Ray instance on the machine).
    """
    port = free_port()
    # A private temp dir: Ray records its "current cluster" there (a killed cluster left in /tmp/ray
    # would be what a later plain ray.init() tries to join). Short: Ray's socket paths must fit 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="hfsweep-ray-"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep 127.0.0.1
           "RAY_USAGE_STATS_ENABLED": "0", "HFSWEEP_CACHE_DIR": str(tmp_path / "ray-worker-cache")}  # fmt: skip
    log = (tmp_path / "ray-start.log").open("w")
    ray = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                            f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                            f"--temp-dir={temp_dir}"],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in (tmp_path / "ray-start.log").read_text():
            assert ray.poll() is None, (tmp_path / "ray-start.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ray start did not come up in 120 s"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(ray.pid, signal.SIGTERM)
        try:
            ray.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:  # `ray start --block` may leave gcs_server and workers behind: end the whole group
            os.killpg(ray.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        ray.wait()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_launcher_on_a_local_cluster(tmp_path, ray_cluster):
    address, env = ray_cluster
    sweep_dir = tmp_path / "sweep"
    driver_cache = tmp_path / "driver-cache"
    with FaultServer(latency=0.0) as server:
        done = run_cli(["run", "-m", "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={address}",
                        "model=endpoint", "model.server=openai", f"model.endpoint={server.url}", "model.id=alpha,beta", *TINY,
                        f"hydra.sweep.dir={sweep_dir}"],
                       env={**env, "HFSWEEP_CACHE_DIR": str(driver_cache)}, timeout=TIMEOUT)  # fmt: skip
        sent = server.stats["requests"]
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    output = done.stdout + done.stderr
    assert "Ray Launcher is launching 2 jobs" in output and "Connected to Ray cluster" in output
    assert [d.name for d in job_dirs(sweep_dir)] == ["0", "1"]
    # The jobs ran in Ray's workers: they used the cache of the workers' environment, not the driver's.
    assert (Path(env["HFSWEEP_CACHE_DIR"]) / "completions.sqlite").is_file()
    assert not (driver_cache / "completions.sqlite").exists()
    assert sent == 8  # 2 jobs x 2 prompts x 2 samples, each answered once
    assert_model_comparison(sweep_dir, ["alpha", "beta"])


def _compose_launcher(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_ray_cluster_config_composes():
    cfg = _compose_launcher(["hydra/launcher=ray_cluster", "hydra.launcher.ray.init.address=10.0.0.1:6379"])
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert cfg.hydra.launcher.ray.init.address == "10.0.0.1:6379"
    assert "object_store_memory" in cfg.hydra.launcher.ray.init and cfg.hydra.launcher.ray.init.object_store_memory is None


def test_slurm_example_composes_and_submitit_writes_its_sbatch_script(tmp_path):
    """Every key of conf/hydra/launcher/slurm_example.yaml is one submitit accepts; the script has them."""
    from omegaconf import OmegaConf

    cfg = _compose_launcher(["hydra/launcher=slurm_example", "hydra.launcher.partition=gpu", "hydra.launcher.account=proj42",
                             f"hydra.sweep.dir={tmp_path}"])  # fmt: skip
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher.pop("_target_") == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher["partition"] == "gpu" and launcher["timeout_min"] == 120
    assert any("HFSWEEP_CACHE_DIR" in line for line in launcher["setup"])

    # What the SLURM launcher hands submitit (hydra_submitit_launcher.submitit_launcher.launch), turned
    # into sbatch options as submitit's SlurmExecutor does; the executor itself needs `srun` on PATH.
    from submitit.slurm import slurm as submitit_slurm

    launcher["name"] = "hfsweep"
    folder = launcher.pop("submitit_folder").replace("${hydra.sweep.dir}", str(tmp_path))
    launcher.pop("max_num_timeout")  # an executor argument, not an sbatch option
    equivalent = submitit_slurm.SlurmExecutor._equivalence_dict()
    params = {equivalent.get(key, key): value for key, value in launcher.items()}
    assert set(params) <= submitit_slurm.SlurmExecutor._valid_parameters()
    params["mem"] = submitit_slurm._convert_mem(params["mem"])
    script = submitit_slurm._make_sbatch_string(command="python -m submitit.core._submit", folder=folder, **params)
    for line in ["#SBATCH --partition=gpu", "#SBATCH --account=proj42", "#SBATCH --time=120", "#SBATCH --cpus-per-task=4",
                 "#SBATCH --mem=8GB", "#SBATCH --nodes=1", "#SBATCH --job-name=hfsweep",
                 "export HFSWEEP_CACHE_DIR=/tmp/$USER/hfsweep-cache"]:  # fmt: skip
        assert line in script, f"{line!r} not in the sbatch script:\n{script}"
