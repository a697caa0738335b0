"""The brake on cost, through the CLI against the fault server: a run above runner.max_requests
or runner.max_tokens_total stops before it sends (or builds) anything, with the estimate;
--yes sends it; at a terminal the user is asked; an absurd max_tokens is refused."""

from __future__ import annotations

import os
import pty
import select
import time

import pytest

from tests.cli_helpers import run_cli, start_cli
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint


def settings(url: str, *extra: str) -> list[str]:
    return [*QUIET, *SCORE_LIGHT, *endpoint(url), *extra]


def one_line(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_huge_run_stops_before_anything_is_built_or_sent(tmp_path, fault_server, command):
    start = time.monotonic()
    line = one_line(run_cli([command, *settings(fault_server.url, "samples=100000", f"out_dir={tmp_path}/runs")]))
    assert line == ("hfsweep: this run would send 3,000,000 requests, at most 24,000,000 completion tokens (cached requests "
                    "included), above runner.max_requests = 20,000: pass --yes to send them, or set runner.max_requests=N "
                    "(null = no brake)")  # fmt: skip
    assert time.monotonic() - start < 60  # 3 million requests were never made
    assert fault_server.stats["generation_requests"] == 0 and not (tmp_path / "runs").exists()


def test_the_token_bound_brakes_too_and_an_absurd_max_tokens_is_refused(fault_server):
    line = one_line(run_cli(["run", *settings(fault_server.url, "prompts.limit=2", "samples=1", "sampling.max_tokens=10000000")]))
    assert "at most 20,000,000 completion tokens (cached requests included), above runner.max_tokens_total = 10,000,000" in line
    line = one_line(run_cli(["run", *settings(fault_server.url, f"sampling.max_tokens={10**12}")]))
    assert line.startswith(f"hfsweep: sampling.max_tokens = {10**12} is out of range: accepted an integer >= 1, at most 2147483647")
    assert fault_server.stats["generation_requests"] == 0


def test_yes_sends_what_the_brake_stops(tmp_path, fault_server):
    args = ["run", "--run-dir", str(tmp_path / "run"), *settings(fault_server.url, "prompts.limit=3", "samples=2", "runner.max_requests=5")]
    assert "6 requests" in one_line(run_cli(args))
    assert fault_server.stats["generation_requests"] == 0
    sent = run_cli([*args, "--yes"])
    assert sent.returncode == 0, sent.stderr
    assert "6 completions (0 from cache, 6 requests sent" in sent.stdout and fault_server.stats["generation_requests"] == 6


def ask(args: list[str], answer: str) -> tuple[int, str, str]:
    """Run the CLI at a pseudo-terminal (its stdin and stderr), answer the question it asks;
    return the exit code, stdout and what the terminal showed."""
    master, terminal = pty.openpty()
    proc = start_cli(args, terminal=terminal)
    os.close(terminal)
    shown, deadline = b"", time.monotonic() + 120
    while b"[y/N]" not in shown:
        assert time.monotonic() < deadline and proc.poll() is None, (shown, proc.poll())
        if select.select([master], [], [], 0.5)[0]:
            shown += os.read(master, 4096)
    os.write(master, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=120)
    while select.select([master], [], [], 0.1)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.returncode, out, shown.decode(errors="replace")


@pytest.mark.parametrize("answer", ["y", "n"])
def test_at_a_terminal_the_user_is_asked(tmp_path, fault_server, answer):
    code, out, shown = ask(["run", "--run-dir", str(tmp_path / "run"),
                            *settings(fault_server.url, "prompts.limit=3", "samples=2", "runner.max_requests=5")], answer)  # fmt: skip
    assert "this run would send 6 requests" in shown and "Send 6 requests? [y/N]" in shown
    if answer == "y":
        assert code == 0 and "6 completions (0 from cache, 6 requests sent" in out, (out, shown)
        assert fault_server.stats["generation_requests"] == 6
    else:
        assert code == 2 and fault_server.stats["generation_requests"] == 0
