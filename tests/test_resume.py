"""Resume and cache: a real `hfsweep run` killed mid-sweep finishes only what is missing; re-runs,
wider grids, refresh and cache=false send exactly what they should; two processes share a cache."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import httpx2
import pandas as pd
import pytest

from tests.cli_helpers import run_cli, start_cli
from tests.servers.fault_server import spawn
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint, grid_keys, sweep


@pytest.fixture
def server_process():
    """The fault server as a subprocess with some latency: (url, stats())."""
    proc, url = spawn(["--latency", "0.08"])

    def stats() -> dict:
        return httpx2.get(f"{url}/stats", timeout=5).json()

    yield url, stats
    proc.terminate()
    proc.wait(10)


def lines(path) -> int:
    return sum(1 for _ in path.open()) if path.exists() else 0


def wait_for_lines(path, at_least: int, proc, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = lines(path)
        if count >= at_least:
            return count
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {at_least} lines")


def settled(stats) -> dict:
    """Server counters once the requests of a killed client have been answered."""
    time.sleep(0.3)
    return stats()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_a_run_stopped_mid_sweep_finishes_only_the_missing_requests(tmp_path, server_process, stop):
    url, stats = server_process
    run_dir = tmp_path / "run"
    args = ["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(url), "prompts.limit=30", "samples=4", "runner.concurrency=2"]
    first = start_cli(args)
    written = wait_for_lines(run_dir / "completions.jsonl", 30, first)
    first.send_signal(stop)
    out, err = first.communicate(timeout=30)
    if stop == signal.SIGINT:
        assert first.returncode == 130 and "Run the same command again" in err, (out, err)
    else:
        assert first.returncode == -signal.SIGKILL
    sent_first = settled(stats)["generation_requests"]
    assert written <= sent_first < 120  # really stopped mid-sweep

    second = run_cli(args)
    assert second.returncode == 0, second.stderr
    sent_second = stats()["generation_requests"] - sent_first
    summary = json.loads((run_dir / "summary.json").read_text())
    frame = pd.read_parquet(run_dir / "completions.parquet")

    assert len(frame) == 120 and len(set(grid_keys(frame))) == 120  # exactly the grid
    assert frame["error"].isna().all() and frame["text"].str.len().gt(0).all()
    assert summary["sent"] == sent_second and summary["cache_hits"] + summary["sent"] == 120
    assert summary["cache_hits"] >= written  # everything the first run recorded was reused
    assert sent_first + sent_second - 120 <= 2  # only requests in flight at the kill were paid twice


def test_rerun_widen_refresh_and_no_cache(tmp_path, fault_server, isolated_cache):
    base = [*endpoint(fault_server.url), "prompts.limit=3", "samples=2"]

    def run(name: str, *extra: str) -> tuple[int, pd.DataFrame, dict]:
        before = fault_server.stats["generation_requests"]
        _, frame, summary = sweep(tmp_path / name, [*base, *extra])
        sent = fault_server.stats["generation_requests"] - before
        assert sent == summary["sent"] and frame["error"].isna().all()
        return sent, frame, summary

    sent, first, _ = run("first")
    assert sent == 6 and not first["cached"].any()

    sent, again, summary = run("again")
    assert sent == 0 and summary["cache_hits"] == 6 and again["cached"].all()
    assert again["text"].tolist() == first["text"].tolist()

    sent, wider, summary = run("wider", "prompts.limit=4", "samples=3")
    assert sent == 12 - 6 and summary["cache_hits"] == 6 and len(wider) == 12
    new_prompt = set(wider["prompt_id"]) - set(first["prompt_id"])
    assert (~wider["cached"]).tolist() == ((wider["sample_index"] == 2) | wider["prompt_id"].isin(new_prompt)).tolist()

    sent, refreshed, summary = run("refresh", "runner.refresh=true")
    assert sent == 6 and summary["cache_hits"] == 0 and not refreshed["cached"].any()

    def snapshot() -> dict:
        return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()) for p in isolated_cache.iterdir()}

    before = snapshot()
    sent, uncached, _ = run("nocache", "runner.cache=false", "prompts.limit=5")
    assert sent == 10 and not uncached["cached"].any()  # all 10 sent though 6 are cached: not read
    assert snapshot() == before  # and not written
    sent, _, _ = run("nocache2", "runner.cache=false", "prompts.limit=5")
    assert sent == 10  # nothing was stored by the first cache=false run


def test_a_line_torn_by_a_crash_does_not_swallow_the_next_record(tmp_path, fault_server):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "completions.jsonl").write_text('{"run_id": "killed-while-writi')
    _, frame, _ = sweep(run_dir, [*endpoint(fault_server.url), "prompts.limit=1", "samples=1", "runner.cache=false"])
    assert len(frame) == 1 and frame["error"].isna().all()


def test_the_cache_place_is_configurable(tmp_path, fault_server, isolated_cache):
    place = tmp_path / "elsewhere" / "my.sqlite"
    sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=2", "samples=1", f"runner.cache_path={place}"])
    assert place.exists() and not (isolated_cache / "completions.sqlite").exists()
    with sqlite3.connect(place) as db:
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (2,)


def test_same_run_dir_with_a_narrower_grid_keeps_only_its_rows(tmp_path, fault_server):
    run_dir = tmp_path / "run"
    sweep(run_dir, [*endpoint(fault_server.url), "prompts.limit=4", "samples=2"])
    _, frame, summary = sweep(run_dir, [*endpoint(fault_server.url), "prompts.limit=2", "samples=2"])
    assert len(frame) == 4 and summary["finished"] == 4


@pytest.mark.slow
def test_two_processes_share_one_cache(tmp_path, server_process, isolated_cache):
    url, stats = server_process
    common = [*QUIET, *SCORE_LIGHT, *endpoint(url), "runner.concurrency=4"]
    a = start_cli(["run", "--run-dir", str(tmp_path / "a"), *common, "prompts.limit=20", "samples=3"])
    b = start_cli(["run", "--run-dir", str(tmp_path / "b"), *common, "prompts.limit=30", "samples=2"])
    for proc in (a, b):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    frame_a = pd.read_parquet(tmp_path / "a" / "completions.parquet")
    frame_b = pd.read_parquet(tmp_path / "b" / "completions.parquet")
    assert len(frame_a) == 60 and len(frame_b) == 60
    assert frame_a["error"].isna().all() and frame_b["error"].isna().all()
    with sqlite3.connect(isolated_cache / "completions.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (20 * 3 + 10 * 2,)
    # the same request gives the same answer in both runs, whichever process stored it
    both = frame_a.merge(frame_b, on=["cache_key"], suffixes=("_a", "_b"))
    assert len(both) == 40 and (both["text_a"] == both["text_b"]).all()
    # a third run of either grid sends nothing
    before = stats()["generation_requests"]
    _, again, summary = sweep(tmp_path / "c", [*endpoint(url), "prompts.limit=30", "samples=3"])
    assert summary["sent"] == stats()["generation_requests"] - before == 10 and len(again) == 90
