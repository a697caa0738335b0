"""The steps a run takes, callable from the CLI, Hydra jobs, tests and notebooks alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from hfsweep.core import records, secrets
from hfsweep.core.errors import StorageError
from hfsweep.core.report_options import ReportOptions
from hfsweep.evaluators.scoring import score_run
from hfsweep.reports import build_report
from hfsweep.reports.tracking import export_mlflow
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.config import Config
from hfsweep.sweeps.credentials import credential_line, hf_token
from hfsweep.sweeps.judge import judge_run, merge_scores
from hfsweep.sweeps.plan import Plan, check_plan_cost, check_target, make_plan, objective_metric, resolve_target
from hfsweep.sweeps.probe import PROMPTS, known_hidden_defaults, requests_of_hidden_defaults
from hfsweep.sweeps.runner import RunResult, run_sweep
from hfsweep.sweeps.store import RUN_DIR_FIX, check_cache, check_writable_dir, default_cache_path, parquet_problem, rebuild_parquet


def validate(overrides: list[str]) -> list[str]:
    """What ``hfsweep validate`` prints: the target, the server detected, the cells, the judge, the
    search and the request count and token bound, after every check a run makes; which credential goes where,
    and what validate itself sent (never a completion)."""
    out: list[str] = []
    config, _ = compose_config(overrides)
    make_plan(config)  # every check that needs no network first
    check_target(config.model)
    resolved, server = resolve_target(config)
    plan = make_plan(resolved)
    target = plan.config.model
    provider = f", provider {target.provider}" + (" (resolved from auto)" if config.model.provider in (None, "auto") else "")
    out.append(f"target: {target.kind} {target.id} ({plan.capability.name}, mode {target.mode}"
               f"{provider if target.kind == 'hf' else ''})")  # fmt: skip
    out.append(credential_line(target))
    if server is not None:
        found = f"{server.kind} {server.version or ''}".strip() if server.kind != "unknown" else "not identified"
        out.append(f"server: {found} (detected; model.server=KIND overrides)")
        if server.defaults:
            out.append(f"server defaults: {', '.join(f'{k}={v}' for k, v in server.defaults.items())} (hfsweep sends its own values)")
        if server.kind == "unknown":
            out.append(_hidden_defaults_line(plan))
    out.append(f"sweep: {config.sweep.name}; swept: {', '.join(plan.swept) or 'nothing'}")
    for cell in plan.cells:
        params = ", ".join(f"{k}={v}" for k, v in cell.setting.params.as_dict().items())
        name = f" [{cell.setting.name}]" if cell.setting.name else ""
        out.append(f"  cell {cell.id} setting {cell.setting.id}{name}: {params}")
    if config.judge.model is not None:
        judge = config.judge.model
        out.append(f"judge: {judge.kind} {judge.id} ({config.judge.parse}): up to {len(plan.jobs)} more requests, "
                   f"at most {config.judge.max_tokens} tokens each")  # fmt: skip
        out.append(f"judge {credential_line(judge, 'judge.model')}")
    search = config.search
    if search.strategy != "grid":
        caps = [f"{search.budget.requests} requests" if search.budget.requests else "",
                f"{search.budget.tokens} completion tokens" if search.budget.tokens else "",
                f"${search.budget.cost:g} at runner.price" if search.budget.cost else ""]  # fmt: skip
        bound = " and ".join(c for c in caps if c) or "no budget: at most the full grid"
        out.append(f"search: {search.strategy} for {config.objective.goal} {objective_metric(plan)}; budget: {bound}")
    out += [f"warning: {warning}" for warning in plan.warnings]
    out.append(storage(config))
    refused = plan.refused_before_sending()
    out.append(f"{len(plan.cells)} cells x {len(plan.prompts)} prompts x {config.samples} samples = {len(plan.jobs)} requests"
               f"{f' ({refused} refused by TGI rules: answered without sending)' if refused else ''}; "
               f"at most {plan.token_budget} completion tokens. {_what_was_sent(config, server)}")
    return out


def storage(config: Config, run_dir: Path | None = None) -> str:
    """Check that a run can write its directory (``run_dir``, else a new one under ``out_dir``)
    and the cache, creating nothing (StorageError otherwise); say where they are."""
    if run_dir is None:
        check_writable_dir(config.out_dir, "out_dir", RUN_DIR_FIX)
    else:
        check_writable_dir(run_dir, "--run-dir", RUN_DIR_FIX)
    where = f"run directories under {config.out_dir}" if run_dir is None else f"the run directory {run_dir}"
    if not config.runner.cache:
        return f"writes: {where} (writable); no cache (runner.cache=false)"
    cache = config.runner.cache_path or default_cache_path()
    check_cache(cache)
    return f"writes: {where}, the cache {cache} (both writable)"


def _hidden_defaults_line(plan: Plan) -> str:
    """What the hidden-defaults check will cost a run against this unidentified server."""
    if known_hidden_defaults(plan.config) is not None:
        return "hidden-defaults check: measured already for this target (hidden-defaults.json); a run sends none"
    most = requests_of_hidden_defaults(min(PROMPTS, len(plan.prompts)))
    return f"hidden-defaults check: a run first sends up to {most} requests to test the server's own sampler defaults"


def _what_was_sent(config: Config, server) -> str:
    """What validate itself sent: never a completion; the detection GETs, the Hub's provider list."""
    sent = []
    if server is not None and server.sent:
        routes = ", ".join(url.rsplit("/", 1)[-1] for url in server.sent)
        sent.append(f"{len(server.sent)} detection GETs ({routes}) to {config.model.endpoint}")
    if config.model.kind == "hf" and config.model.provider in (None, "auto") and config.compat == "none":
        token = hf_token()
        sent.append(f"one request to the Hub for the model's providers (with {token.source if token else 'no credential'})")
    return f"Sent no completion; sent {' and '.join(sent)}." if sent else "Nothing was sent."


def new_run_dir(config: Config) -> Path:
    """A new directory under ``out_dir`` named by time, sweep and model (no secret in the name),
    created here: the first free of ``STEM``, ``STEM-2``, ... (mkdir is atomic, so two runs
    started in the same second get two directories)."""
    stem = secrets.redact(f"{datetime.now():%Y%m%d-%H%M%S}-{config.sweep.name}-{config.model.id}")
    stem = stem.replace(secrets.MARK, "redacted").replace("/", "_")
    base = Path(config.out_dir)
    for n in range(1, 10_000):
        run_dir = base / (stem if n == 1 else f"{stem}-{n}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
        except OSError as error:
            raise StorageError(f"out_dir = {str(base)!r} cannot hold a run directory ({error.strerror or error}): "
                               "choose a writable directory, e.g. out_dir=runs") from None
    raise StorageError(f"out_dir {str(base)!r} holds 10000 runs named {stem!r}: choose another out_dir")


def restore_runs(paths: list[Path]) -> list[str]:
    """Make every run directory at or under ``paths`` readable, and say what was done: a
    ``completions.parquet`` that is missing (a run killed before its end) or unreadable
    (truncated, empty) is rebuilt from the run's ``completions.jsonl``, which holds every
    finished completion; unreadable scores are removed, to be scored again. An unreadable
    ``completions.parquet`` with no jsonl to rebuild it from is a StorageError."""
    notes = []
    for path in map(Path, paths):
        found = {f.parent for name in (records.COMPLETIONS, records.COMPLETIONS_JSONL) for f in path.rglob(name)} if path.is_dir() else set()
        for run_dir in sorted(found):
            notes += _restore(run_dir)
    return notes


def _restore(run_dir: Path) -> list[str]:
    notes = []
    parquet = run_dir / records.COMPLETIONS
    problem = parquet_problem(parquet)
    if problem is not None:
        if not (run_dir / records.COMPLETIONS_JSONL).is_file():
            raise StorageError(f"{parquet} cannot be read ({problem}) and {run_dir} has no {records.COMPLETIONS_JSONL} to "
                               f"rebuild it from: run the same `hfsweep run` again with --run-dir {run_dir}: it is rebuilt "
                               "from the cache, nothing is sent again")  # fmt: skip
        rows = rebuild_parquet(run_dir)
        notes.append(f"{parquet} was {'missing' if problem == 'missing' else f'unreadable ({problem})'}: "
                     f"rebuilt from {records.COMPLETIONS_JSONL} ({rows} completions)")  # fmt: skip
    scores = [run_dir / name for name in (records.SCORES, records.GROUP_SCORES)]
    broken = [path for path in scores if path.exists() and parquet_problem(path) is not None]
    if problem is not None or broken:  # scores of other rows, or unreadable: scored again
        for path in scores:
            path.unlink(missing_ok=True)
        if broken:
            notes.append(f"{broken[0]} was unreadable: the run is scored again")
    return notes


def score(run_dir: Path, names: list[str] | None = None) -> dict:
    """Score a run's completions into scores.parquet and group_scores.parquet."""

    path = records.check_run_dir(run_dir) / records.COMPLETIONS
    records.check_version(pq.read_table(path, columns=["schema_version"]).column(0).to_pylist(), run_dir)
    counts = score_run(run_dir, names)
    merge_scores(run_dir)
    return counts


def run_and_score(config: Config, mapping: dict, run_dir: Path) -> RunResult:
    """Run the sweep, judge it (with a judge) and score it: one run, or one job of a multirun."""
    result = run_sweep(config, run_dir, mapping)
    if result.interrupted or result.failed:
        return result
    if config.judge.model is not None:
        judge_run(config, run_dir)
    score(run_dir, list(config.evaluators) if config.evaluators else None)
    return result


def report(paths: list[Path], options: ReportOptions) -> Path:
    """The report of a run or sweep, then its export to MLflow when ``report.mlflow.enabled``."""
    page = build_report(paths, options=options)
    if options.mlflow.enabled:
        export_mlflow(paths, options.mlflow.tracking_uri, options.mlflow.experiment, page=page)
    return page


def run_score_report(config: Config, mapping: dict, run_dir: Path) -> tuple[RunResult, Path | None]:
    """:func:`run_and_score`, then the :func:`report` (unless ``report.enabled`` is false)."""
    result = run_and_score(config, mapping, run_dir)
    if result.interrupted or result.failed or not config.report.enabled:
        return result, None
    return result, report([run_dir], config.report)


@dataclass(frozen=True)
class Finished:
    """What :func:`run_overrides` leaves: the run directory, the runner's counts, and the report's
    page (None when ``report.enabled`` is false, or the run was interrupted or every request failed)."""

    run_dir: Path
    result: RunResult
    report: Path | None


def run_overrides(overrides: list[str], run_dir: str | Path | None = None) -> Finished:
    """Compose the config from Hydra overrides, then :func:`run_score_report` into ``run_dir``
    (default: :func:`new_run_dir`): ``hfsweep run`` and ``hfsweep.run()`` both call this."""
    config, mapping = compose_config(overrides)
    check_plan_cost(config)  # before a run directory is made
    storage(config, Path(run_dir) if run_dir else None)
    path = Path(run_dir) if run_dir else new_run_dir(config)
    result, report = run_score_report(config, mapping, path)
    return Finished(path, result, report)
