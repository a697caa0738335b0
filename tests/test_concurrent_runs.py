"""Two runs at once lose nothing (issue 22, part 3): each gets a run directory of its own, created
atomically, and keeps exactly its own rows. Two runs sharing one cache: tests/test_resume.py."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from hfsweep.pipeline import new_run_dir
from hfsweep.sweeps.compose import compose_config
from tests.cli_helpers import start_cli
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint


def test_runs_started_in_the_same_second_get_directories_of_their_own(tmp_path):
    config, _ = compose_config([f"out_dir={tmp_path}", "model=endpoint", "model.endpoint=http://127.0.0.1:1", "model.id=m"])
    made: list = []
    start = threading.Barrier(8)

    def one() -> None:
        start.wait()
        made.append(new_run_dir(config))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(path.is_dir() for path in made)
    stems = {path.name.rsplit("-", 1)[0] if path.name.count("-") > 3 else path.name for path in made}
    assert len(stems) <= 2  # one name and its -2, -3, ... (two if the second turned meanwhile)


@pytest.mark.parametrize("same_config", [True, False], ids=["same_config", "other_configs"])
def test_two_runs_with_one_out_dir_keep_their_own_rows(tmp_path, fault_server, same_config):
    fault_server.configure(latency=0.02)
    common = [*QUIET, *SCORE_LIGHT, *endpoint(fault_server.url), f"out_dir={tmp_path / 'out'}", "runner.concurrency=2"]
    sizes = [(10, 3), (10, 3)] if same_config else [(10, 3), (6, 2)]
    procs = [start_cli(["run", *common, f"prompts.limit={limit}", f"samples={samples}"]) for limit, samples in sizes]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    run_dirs = [next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("run directory: ")) for out, _ in outputs]
    assert len(set(run_dirs)) == 2
    for run_dir, (limit, samples) in zip(run_dirs, sizes):
        frame = pd.read_parquet(f"{run_dir}/completions.parquet")
        lines = Path(run_dir, "completions.jsonl").read_text().splitlines()
        run_ids = {json.loads(line)["run_id"] for line in lines}
        assert len(frame) == len(lines) == limit * samples and len(run_ids) == 1 and frame["error"].isna().all()
        assert not list((tmp_path / "out").rglob("*.tmp"))
