"""Files, through the CLI: prompts load in linear time with the limit applied first, a BOM is
accepted, a directory is named a directory; every filesystem or corruption error is one line
and exit 2 naming the path and the fix (read-only or file out_dir, read-only or garbage cache,
truncated or empty completions.parquet, report --out under a file, export --out into a
read-only directory); after SIGINT, SIGTERM or SIGKILL the counts are true and score, report
and export read what the jsonl holds.

Read-only paths are made read-only for real: with chmod for a normal user, and for root (whom
file modes do not stop) with ``chattr +i``, the immutable flag, which stops root too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx2
import pandas as pd
import pytest

from tests.cli_helpers import run_cli, start_cli
from tests.servers.fault_server import spawn
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint


@contextlib.contextmanager
def read_only(path: Path):
    """``path`` unwritable while the block runs, for whoever runs the tests."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i does not work: no way to make a path read-only for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def one_line(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def settings(url: str, *extra: str) -> list[str]:
    """The overrides of a small quiet run against ``url``."""
    return [*QUIET, *SCORE_LIGHT, *endpoint(url), "prompts.limit=2", "samples=1", *extra]


# --- prompts ------------------------------------------------------------------------------


def test_prompts_load_in_linear_time_and_the_limit_comes_first(tmp_path):
    lines = [json.dumps({"id": f"q{i}", "prompt": f"prompt number {i}"}) for i in range(60_000)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines[:100] + ["{not json"] + lines[100:]) + "\n", encoding="utf-8")
    limited = run_cli(["validate", "sweep=single", "samples=1", f"prompts.file={path}", "prompts.limit=5"])
    assert limited.returncode == 0, limited.stderr  # line 101 is past the limit: never parsed
    assert "1 cells x 5 prompts x 1 samples = 5 requests" in limited.stdout
    assert "line 101 is not valid JSON" in one_line(run_cli(["validate", "sweep=single", f"prompts.file={path}"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.monotonic()
    whole = run_cli(["validate", "sweep=single", "samples=1", f"prompts.file={path}", "runner.max_requests=null"])
    assert whole.returncode == 0, whole.stderr
    assert "60000 prompts" in whole.stdout
    assert time.monotonic() - start < 60  # the duplicate-id check was quadratic: 40k prompts took 45 s, 60k ~100 s


def test_a_duplicate_id_within_the_limit_is_still_refused(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "y"}\n{"id": "a", "prompt": "z"}\n')
    assert "prompt id 'a' appears twice" in one_line(run_cli(["validate", f"prompts.file={path}"]))
    assert run_cli(["validate", f"prompts.file={path}", "prompts.limit=2"]).returncode == 0


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path, fault_server):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffprompt,id\nhello there,a\nsecond one,b\n".encode())
    result = run_cli(["run", "--run-dir", str(tmp_path / "run"), *settings(fault_server.url, f"prompts.file={path}")])
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line) for line in (tmp_path / "run" / "prompts.jsonl").read_text().splitlines()]
    assert [(p["id"], p["text"]) for p in kept] == [("a", "hello there"), ("b", "second one")]


def test_a_directory_as_the_prompts_file_is_named_a_directory(tmp_path):
    line = one_line(run_cli(["validate", f"prompts.file={tmp_path}"]))
    assert f"prompts.file = '{tmp_path}' is a directory: accepted a path to a .jsonl" in line


# --- out_dir and the cache ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only", "under a read-only directory"])
def test_an_out_dir_that_cannot_be_written_stops_validate_and_run(tmp_path, fault_server, where):
    (tmp_path / "file").write_text("x")
    (tmp_path / "locked").mkdir()
    out_dir = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "runs",
               "read-only": tmp_path / "locked", "under a read-only directory": tmp_path / "locked" / "runs"}[where]  # fmt: skip
    problem = {"a file": "is a file, not a directory", "under a file": f"is under {tmp_path / 'file'}, which is a file",
               "read-only": "is not writable", "under a read-only directory": "is not writable"}[where]  # fmt: skip
    with read_only(tmp_path / "locked"):
        for command in (["validate", *settings(fault_server.url)], ["run", *settings(fault_server.url)]):
            line = one_line(run_cli([*command, f"out_dir={out_dir}"]))
            assert f"out_dir {out_dir} {problem}" in line and line.endswith("choose a writable directory with out_dir=PATH (or --run-dir PATH)")
    assert fault_server.stats["generation_requests"] == 0


def test_validate_says_where_a_run_writes(tmp_path, fault_server):
    result = run_cli(["validate", *settings(fault_server.url), f"out_dir={tmp_path}/runs", f"runner.cache_path={tmp_path}/c.sqlite"])
    assert f"writes: run directories under {tmp_path}/runs, the cache {tmp_path}/c.sqlite (both writable)" in result.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "c.sqlite").exists()  # validate creates nothing


@pytest.mark.parametrize("case", ["garbage file", "read-only file", "read-only directory", "garbage entry"])
def test_a_cache_that_cannot_be_used_is_one_line_with_the_fix(tmp_path, fault_server, case):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache = cache_dir / "completions.sqlite"
    if case in ("read-only file", "garbage entry"):  # a real cache, made by a run
        assert run_cli(["run", "--run-dir", str(tmp_path / "first"), *settings(fault_server.url, f"runner.cache_path={cache}")]).returncode == 0
        fault_server.reset()
    if case == "garbage file":
        cache.write_bytes(b"this is not a database, just some bytes" * 100)
    if case == "garbage entry":
        with sqlite3.connect(cache) as db:
            db.execute("UPDATE completions SET value = '{broken'")
    locked = {"read-only file": cache, "read-only directory": cache_dir}.get(case)
    with read_only(locked) if locked else contextlib.nullcontext():
        for command in ("validate", "run"):
            if command == "validate" and case == "garbage entry":  # validate opens the cache, it does not read its entries
                continue
            line = one_line(run_cli([command, *settings(fault_server.url, f"runner.cache_path={cache}", f"out_dir={tmp_path / 'runs'}")]))
            assert "runner.cache" in line and str(cache_dir) in line
            fix = "delete it or set runner.cache=false" if "garbage" in case else "runner.cache_path=PATH, or set runner.cache=false"
            assert line.endswith(fix), line
    assert fault_server.stats["generation_requests"] == 0
    assert run_cli(["run", *settings(fault_server.url, f"runner.cache_path={cache}", "runner.cache=false", f"out_dir={tmp_path / 'runs'}")]).returncode == 0


# --- a run directory's records ------------------------------------------------------------


@pytest.fixture
def finished_run(tmp_path, fault_server) -> Path:
    run_dir = tmp_path / "run"
    assert run_cli(["run", "--run-dir", str(run_dir), *settings(fault_server.url)]).returncode == 0
    return run_dir


def broken(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(b"" if how == "empty" else data[: len(data) // 2])


COMMANDS = {"score": lambda d, out: ["score", str(d)], "report": lambda d, out: ["report", str(d), "--out", str(out / "page.html")],
            "export": lambda d, out: ["export", str(d), "--out", str(out / "rows.jsonl")]}  # fmt: skip


@pytest.mark.parametrize(("command", "how"), [("score", "truncated"), ("report", "empty"), ("export", "truncated")])
def test_a_broken_parquet_is_rebuilt_from_the_jsonl(finished_run, tmp_path, command, how):
    broken(finished_run / "completions.parquet", how)
    result = run_cli(COMMANDS[command](finished_run, tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"note: {finished_run / 'completions.parquet'} was unreadable (" in result.stderr
    assert "rebuilt from completions.jsonl (2 completions)" in result.stderr
    assert len(pd.read_parquet(finished_run / "completions.parquet")) == 2


def test_unreadable_scores_are_scored_again(finished_run, tmp_path):
    broken(finished_run / "scores.parquet", "truncated")
    result = run_cli(COMMANDS["report"](finished_run, tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"note: {finished_run / 'scores.parquet'} was unreadable: the run is scored again" in result.stderr
    assert len(pd.read_parquet(finished_run / "scores.parquet")) == 2


def test_a_broken_parquet_with_no_jsonl_says_how_to_rebuild_it_and_that_is_true(finished_run, tmp_path, fault_server):
    broken(finished_run / "completions.parquet", "truncated")
    (finished_run / "completions.jsonl").unlink()
    fault_server.reset()
    for command in COMMANDS.values():
        line = one_line(run_cli(command(finished_run, tmp_path)))
        assert line.endswith(f"run the same `hfsweep run` again with --run-dir {finished_run}: it is rebuilt from the cache, "
                             "nothing is sent again")  # fmt: skip
    again = run_cli(["run", "--run-dir", str(finished_run), *settings(fault_server.url)])
    assert again.returncode == 0, again.stderr
    assert "(2 from cache, 0 requests sent" in again.stdout and fault_server.stats["generation_requests"] == 0
    for command in COMMANDS.values():
        assert run_cli(command(finished_run, tmp_path)).returncode == 0


def test_report_out_under_a_file_and_export_out_into_a_read_only_directory(finished_run, tmp_path):
    (tmp_path / "file").write_text("x")
    line = one_line(run_cli(["report", str(finished_run), "--out", str(tmp_path / "file" / "page.html")]))
    assert f"--out {tmp_path / 'file' / 'page.html'}: its directory {tmp_path / 'file'} is a file" in line
    assert line.endswith("choose a writable place with --out PATH")
    (tmp_path / "locked").mkdir()
    with read_only(tmp_path / "locked"):
        line = one_line(run_cli(["export", str(finished_run), "--out", str(tmp_path / "locked" / "rows.csv"), "--format", "csv"]))
    assert f"its directory {tmp_path / 'locked'} is not writable" in line and line.endswith("--out PATH")


def test_score_in_a_read_only_run_directory_is_one_line(finished_run):
    (finished_run / "scores.parquet").unlink()
    with read_only(finished_run):
        line = one_line(run_cli(["score", str(finished_run)]))
    assert line == f"hfsweep: the run directory {finished_run} is not writable: scoring writes scores.parquet into the run directory: make it writable"


# --- stopped runs -------------------------------------------------------------------------


@pytest.fixture
def slow_server():
    """The fault server as a process, answering in 0.08 s: (url, generation requests so far)."""
    proc, url = spawn(["--latency", "0.08"])
    yield url, lambda: httpx2.get(f"{url}/stats", timeout=5).json()["generation_requests"]
    proc.terminate()
    proc.wait(10)


def stop_midway(run_dir: Path, url: str, how: signal.Signals) -> tuple[subprocess.Popen, str, str]:
    proc = start_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(url), "prompts.limit=30", "samples=4",
                      "runner.concurrency=2"])  # fmt: skip
    jsonl, deadline = run_dir / "completions.jsonl", time.monotonic() + 60
    while not (jsonl.exists() and sum(1 for _ in jsonl.open()) >= 20):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(how)
    out, err = proc.communicate(timeout=60)
    return proc, out, err


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_prints_and_records_true_counts(tmp_path, slow_server, how):
    url, sent_so_far = slow_server
    run_dir = tmp_path / "run"
    proc, out, err = stop_midway(run_dir, url, how)
    assert proc.returncode == 130, (out, err)
    kept = sum(1 for _ in (run_dir / "completions.jsonl").open())
    summary = json.loads((run_dir / "summary.json").read_text())
    time.sleep(0.3)  # the server finishes answering what was in flight
    assert summary["interrupted"] and summary["finished"] == kept < 120
    assert kept <= summary["sent"] <= sent_so_far() and summary["sent"] > 0
    assert f"{kept} of 120 completions (0 from cache, {summary['sent']} requests sent" in out
    assert "Run the same command again to finish the rest" in err
    assert len(pd.read_parquet(run_dir / "completions.parquet")) == kept
    scored = run_cli(["score", str(run_dir)])
    assert scored.returncode == 0 and f"'completions': {kept}" in scored.stdout, scored.stderr


def test_a_killed_run_is_read_from_its_jsonl(tmp_path, slow_server):
    url, _ = slow_server
    run_dir = tmp_path / "run"
    proc, _, _ = stop_midway(run_dir, url, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL and not (run_dir / "completions.parquet").exists()
    kept = sum(1 for _ in (run_dir / "completions.jsonl").open())
    page = run_cli(["report", str(run_dir)])
    assert page.returncode == 0, page.stderr
    assert f"{run_dir / 'completions.parquet'} was missing: rebuilt from completions.jsonl ({kept} completions)" in page.stderr
    assert (run_dir / "report" / "index.html").is_file()
    exported = run_cli(["export", str(run_dir)])
    assert exported.returncode == 0 and f"exported {kept} completions" in exported.stdout, exported.stderr
