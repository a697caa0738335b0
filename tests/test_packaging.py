"""Installable the Python way: a wheel built from the repo, in a fresh venv, run from another
directory, finds its config and (after `hfsweep setup`) runs a sweep on the embedded target.
It installs one top-level name, ``hfsweep``: the generic ``sweeps``, ``reports`` and ``evaluators``
(W&B's sweeps engine is ``sweeps``) are not installed."""

from __future__ import annotations

import subprocess
import sys
import venv

import pytest

from tests.cli_helpers import ROOT


@pytest.mark.slow
def test_a_wheel_installs_and_runs_setup_and_a_sweep(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path / "wheel")],
                   check=True, capture_output=True)  # fmt: skip
    wheel = next((tmp_path / "wheel").glob("hfsweep-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, hfsweep = env_dir / "bin" / "python", env_dir / "bin" / "hfsweep"
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    site = env_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert (site / "hfsweep" / "sweeps" / "runner.py").is_file() and (site / "hfsweep" / "conf" / "config.yaml").is_file()
    generic = [name for name in ("sweeps", "reports", "evaluators", "conf", "hfsweep_conf") if (site / name).exists()]
    assert not generic, f"generic top-level names installed: {generic}"
    names = subprocess.run([python, "-c", "import hfsweep.sweeps.runner, hfsweep.reports, hfsweep.evaluators; import sweeps"],
                           cwd=elsewhere, capture_output=True, text=True)  # fmt: skip
    assert names.returncode == 1 and "No module named 'sweeps'" in names.stderr, names.stderr

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([hfsweep, *args], cwd=elsewhere, capture_output=True, text=True, timeout=1200)

    missing = run("validate", "prompts.limit=1")
    assert missing.returncode == 2 and "run `hfsweep setup`" in missing.stderr, missing.stderr
    setup = run("setup")
    assert setup.returncode == 0, setup.stderr
    assert (env_dir / "bin" / "llama-server").is_file() and "llama-server:" in setup.stdout
    assert not (site / "llama_cpp").exists()
    result = run("run", "sweep=single", "prompts.limit=1", "samples=1", "sampling.max_tokens=8", "runner.progress=false",
                 "report.plots=false")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "report:" in result.stdout and list(elsewhere.glob("runs/*/report/index.html"))
