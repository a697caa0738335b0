"""The runner survives faults from a real HTTP server: retries, Retry-After, client errors,
attempts and deadline, the token check and adaptive concurrency (fault server on 127.0.0.1)."""

from __future__ import annotations

import threading

import pytest

from hfsweep.cli import main
from tests.servers.fault_server import FAULT_KINDS, Rule
from tests.sweep_helpers import endpoint, sweep


def test_30_percent_faults_of_every_kind_leave_no_completion_missing(tmp_path, fault_server):
    fault_server.configure(fault_rate=0.3, faults=FAULT_KINDS, retry_after=0, hang_seconds=5, latency=0.005)
    result, frame, summary = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=15", "samples=4",
                                                      "runner.timeout_s=0.5", "runner.max_attempts=12", "runner.concurrency=8"])  # fmt: skip
    stats = fault_server.stats
    faulted = sum(stats["faults"].values())
    assert set(stats["faults"]) == set(FAULT_KINDS), stats["faults"]  # every kind was met
    assert len(frame) == 60 and frame["error"].isna().all(), frame["error_message"].dropna().tolist()
    assert frame["text"].str.len().gt(0).all()
    assert frame["retries"].sum() == summary["retries"] == result.stats.retries == faulted
    assert summary["sent"] == stats["generation_requests"] == 60 + faulted
    assert summary["errors"] == 0 and summary["finished"] == 60


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_client_error_is_one_error_row_with_the_servers_message(tmp_path, fault_server, status):
    message = f"no such thing (status {status})"
    fault_server.configure(rules=[Rule(status=status, message=message, match={"seed": 1})])
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=4", "samples=3"])
    failed = frame[frame["seed"] == 1]
    assert len(frame) == 12 and len(failed) == 4
    assert (failed["error"] == f"http_{status}").all() and (failed["retries"] == 0).all()
    assert failed["error_message"].str.contains(message, regex=False).all()
    assert frame[frame["seed"] != 1]["error"].isna().all()  # the run went on
    assert fault_server.stats["generation_requests"] == 12  # nothing retried
    assert summary["errors"] == 4


def test_401_on_the_first_request_stops_the_run_with_a_message_about_the_token(tmp_path, fault_server, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_wrongToken123")
    fault_server.configure(required_token="hf_rightToken456")
    args = ["run", "--run-dir", str(tmp_path / "run"), "sweep=single", "prompts.limit=5", "samples=2",
            "runner.progress=false", "++report.enabled=false", *endpoint(fault_server.url)]  # fmt: skip
    assert main([*args, "model.api_key_env=HF_TOKEN"]) == 2  # the token sent on purpose, and refused
    err = capsys.readouterr().err
    assert "the key in $HF_TOKEN (api_key_env) was refused" in err and "401" in err
    assert "hf_wrongToken123" not in err
    assert fault_server.stats["generation_requests"] <= 8  # at most the first wave, none retried
    assert main(args) == 2  # no credential sent: a local server is not Hugging Face's
    err = capsys.readouterr().err
    assert "it wants a credential and none was sent" in err and "model.api_key_env=NAME" in err


def test_403_later_in_the_run_is_an_error_row(tmp_path, fault_server):
    fault_server.configure(rules=[Rule(status=403, message="this model is gated", match={"seed": 1})])
    _, frame, _ = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=3", "samples=2", "runner.concurrency=1"])
    assert frame.loc[frame["seed"] == 1, "error"].eq("http_403").all()
    assert frame.loc[frame["seed"] == 0, "error"].isna().all()


def test_retry_after_is_honoured(tmp_path, fault_server):
    fault_server.configure(schedule=["rate_limit"], retry_after=1)
    _, frame, _ = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=1", "samples=1"])
    first, second = fault_server.requests
    assert first["status"] == 429 and second["status"] == 200
    assert second["time"] - first["time"] >= 0.95  # backoff alone would have been ~0.01 s
    assert frame["retries"].tolist() == [1] and frame["error"].isna().all()


def test_a_permanent_503_ends_after_max_attempts_as_an_error_row(tmp_path, fault_server):
    fault_server.configure(fault_rate=1.0, faults=("unavailable",))
    _, frame, summary = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=2", "samples=1", "runner.max_attempts=3"])
    assert frame["error"].tolist() == ["http_503", "http_503"] and frame["retries"].tolist() == [2, 2]
    assert fault_server.stats["generation_requests"] == 6
    assert summary["errors"] == 2 and summary["retries"] == 4


def test_the_deadline_ends_retries(tmp_path, fault_server):
    fault_server.configure(fault_rate=1.0, faults=("unavailable",))
    result, frame, _ = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=1", "samples=1",
                                                "runner.max_attempts=1000", "runner.backoff_base_s=0.05",
                                                "runner.backoff_max_s=0.1", "runner.deadline_s=0.5"])  # fmt: skip
    assert frame["error"].tolist() == ["http_503"]
    assert frame["latency_s"].iloc[0] < 1.0 and result.wall_s < 3
    assert 3 <= fault_server.stats["generation_requests"] <= 15


def test_many_429s_cut_concurrency_and_it_never_exceeds_the_maximum(tmp_path, fault_server):
    fault_server.configure(schedule=["rate_limit"] * 8, fault_rate=0.1, faults=("rate_limit",), retry_after=0, latency=0.03)
    peaks: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peaks.append(fault_server.stats["in_flight"])
            done.wait(0.003)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _, frame, summary = sweep(tmp_path / "run", [*endpoint(fault_server.url), "prompts.limit=20", "samples=4", "runner.concurrency=8"])
    finally:
        done.set()
        watcher.join()
    assert frame["error"].isna().all() and len(frame) == 80
    assert summary["min_concurrency"] == 1  # eight 429s in a row: 8 -> 4 -> 2 -> 1
    assert max(peaks) <= 8
    assert max(peaks) >= 4  # the limit grew back after the cut
