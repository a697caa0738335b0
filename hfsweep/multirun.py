"""``hfsweep run -m``: Hydra's multirun over coarse axes (model, endpoint, prompt set).

Each job is one ordinary run (its own run directory ``SWEEP_DIR/<job number>``, its own target
and server); Hydra's launcher decides where jobs execute (in turn, joblib processes, Ray,
SLURM). A job that fails writes ``failed.json`` instead of stopping the others; the merged
report over ``SWEEP_DIR`` says which job failed and why.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import datetime
from importlib.util import find_spec
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from hfsweep.core import records, secrets
from hfsweep.core.errors import ConfigError, HfsweepError, TargetError
from hfsweep.core.report_options import ReportOptions
from hfsweep.pipeline import run_and_score
from hfsweep.reports.options import resolve_options
from hfsweep.sweeps.compose import CONF_DIR, from_mapping

# hydra/launcher=NAME -> the plugin that provides it (installed by the ``launchers`` extra)
LAUNCHER_PLUGINS = {
    "joblib": "hydra_joblib_launcher",
    "ray": "hydra_ray_launcher",
    "ray_aws": "hydra_ray_launcher",
    "ray_cluster": "hydra_ray_launcher",
    "submitit_local": "hydra_submitit_launcher",
    "submitit_slurm": "hydra_submitit_launcher",
    "slurm_example": "hydra_submitit_launcher",
}


def _override_value(overrides: list[str], key: str) -> str | None:
    for override in overrides:
        name, _, value = override.partition("=")
        if name.lstrip("+") == key:
            return value
    return None


def sweep_dir_for(overrides: list[str]) -> Path:
    """Where a multirun writes: ``hydra.sweep.dir`` if given, else ``<out_dir>/<time>-multirun``."""
    given = _override_value(overrides, "hydra.sweep.dir")
    if given:
        return Path(given)
    out_dir = _override_value(overrides, "out_dir") or "runs"
    return Path(out_dir) / f"{datetime.now():%Y%m%d-%H%M%S}-multirun"


def check_launcher(overrides: list[str]) -> None:
    """Stop early, with the install command, when ``hydra/launcher=NAME`` needs a missing plugin."""
    name = _override_value(overrides, "hydra/launcher")
    plugin = LAUNCHER_PLUGINS.get(name or "")
    if not plugin:
        return
    try:
        found = find_spec(f"hydra_plugins.{plugin}") is not None
    except ModuleNotFoundError:  # no Hydra plugin installed at all: no hydra_plugins namespace
        found = False
    if not found:
        package = plugin.replace("_", "-")
        raise ConfigError(f"hydra/launcher={name} needs the {package} plugin, which is not installed: "
                          "pip install 'hfsweep[launchers]'")


def run_job(cfg) -> dict:
    """One Hydra job: validate, run, judge (with a judge) and score into the job's output directory."""
    for noisy in ("httpx", "httpx2"):  # Hydra's job logging is INFO: one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    hydra_config = HydraConfig.get()
    run_dir = Path(hydra_config.runtime.output_dir)
    overrides = list(hydra_config.overrides.task)
    try:
        mapping = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        mapping.pop("hydra", None)
        config = from_mapping(mapping)
        result = run_and_score(config, mapping, run_dir)
        if result.failed:  # as `hfsweep run` exits 1: nothing to score
            raise TargetError(f"every request failed: {result.failure_summary()}")
        status = {"status": "ok", "overrides": overrides, "requests": result.requests, "errors": result.stats.errors}
    except Exception as error:  # a failed job must not hide the others: record it and go on
        message = str(error) if isinstance(error, HfsweepError) else f"{type(error).__name__}: {error}"
        status = {"status": "failed", "error": message, "overrides": overrides}
        if not isinstance(error, HfsweepError):
            status["traceback"] = traceback.format_exc()
        status = secrets.redact(status)  # a job may run in a process of its own: scrubbed here, not only at the CLI
        (run_dir / records.FAILED).write_text(json.dumps(status, indent=2))
        print(f"hfsweep: job {hydra_config.job.num} ({' '.join(overrides)}) failed: {status['error']}", file=sys.stderr)
    return status


def multirun(overrides: list[str]) -> Path:
    """Run Hydra's multirun with the user's overrides; returns the sweep directory."""


    check_launcher(overrides)
    sweep_dir = sweep_dir_for(overrides)
    extra = [] if _override_value(overrides, "hydra.sweep.dir") else [f"hydra.sweep.dir={sweep_dir}"]
    main = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)(run_job)
    argv = sys.argv
    sys.argv = ["hfsweep", "--multirun", *overrides, *extra]
    try:
        main()
    finally:
        sys.argv = argv
    return sweep_dir


def failed_jobs(sweep_dir: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(sweep_dir.glob("*/failed.json"))]


def report_options(sweep_dir: Path) -> ReportOptions | None:
    """The ``report.*`` options the jobs were composed with (the first job's); None if disabled.

    Read from each job's ``.hydra/config.yaml``, which Hydra writes before the job runs, so the
    merged report honours ``report.*`` overrides exactly as a single run does.
    """

    for path in sorted(sweep_dir.glob("*/.hydra/config.yaml"), key=lambda p: (len(p.parent.parent.name), p.parent.parent.name)):
        report = OmegaConf.load(path).get("report")
        options = resolve_options(OmegaConf.to_container(report, resolve=True) if report is not None else None)
        return options if options.enabled else None
    return ReportOptions()
