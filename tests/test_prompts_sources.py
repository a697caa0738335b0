"""Prompt sets where they live: Parquet files, column names mapped (prompts.column, id_column,
checks_column) in every file format, and hf:// files fetched from a local server that answers
like the Hub (HF_ENDPOINT), cached, with one line when the Hub is unreachable."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hfsweep.core.errors import ConfigError
from hfsweep.sweeps.config import Prompts
from hfsweep.sweeps.prompts import load_prompts
from tests.cli_helpers import run_cli
from tests.servers.hub import FakeHub
from tests.sweep_helpers import QUIET, SCORE_LIGHT, endpoint

CHECKS = [{"type": "icontains", "value": "paris"}, {"type": "max_words", "value": 8}]


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def questions() -> pa.Table:
    """Columns named as a data set names them: an int id, the question, the checks as JSON text."""
    return pa.table({"qid": [7, 8], "question": ["Capital of France?", "Say hi."], "tests": [json.dumps(CHECKS), None],
                     "source": ["atlas", "chat"]})  # fmt: skip


def test_a_parquet_file_with_mapped_columns_and_checks(tmp_path):
    path = tmp_path / "q.parquet"
    pq.write_table(questions(), path)
    prompts = load_prompts(Prompts(file=str(path), column="question", id_column="qid", checks_column="tests"))
    assert [(p.id, p.text) for p in prompts] == [("7", "Capital of France?"), ("8", "Say hi.")]
    assert [c.as_dict() for c in prompts[0].checks] == CHECKS and prompts[1].checks == ()


def test_parquet_checks_as_a_list_column_and_the_usual_names(tmp_path):
    path = tmp_path / "p.parquet"
    checks = pa.array([[{"type": "icontains", "value": "paris"}], []], pa.list_(pa.struct([("type", pa.string()), ("value", pa.string())])))
    pq.write_table(pa.table({"id": ["a", "b"], "prompt": ["Capital?", "Hi"], "checks": checks, "expected": [None, "hello"]}), path)
    prompts = load_prompts(Prompts(file=str(path)))
    assert [p.id for p in prompts] == ["a", "b"]
    assert [c.as_dict() for c in prompts[0].checks] == [{"type": "icontains", "value": "paris"}]
    assert [c.as_dict() for c in prompts[1].checks] == [{"type": "contains", "value": "hello"}]


def test_the_same_mapping_reads_csv_and_jsonl(tmp_path):
    (tmp_path / "q.csv").write_text("qid,question,tests\n7,Capital of France?,\"" + json.dumps(CHECKS).replace('"', '""') + "\"\n8,Say hi.,\n")
    (tmp_path / "q.jsonl").write_text(json.dumps({"qid": 7, "question": "Capital of France?", "tests": CHECKS}) + "\n"
                                      + json.dumps({"qid": 8, "question": "Say hi."}) + "\n")  # fmt: skip
    for name in ("q.csv", "q.jsonl"):
        prompts = load_prompts(Prompts(file=str(tmp_path / name), column="question", id_column="qid", checks_column="tests"))
        assert [(p.id, p.text) for p in prompts] == [("7", "Capital of France?"), ("8", "Say hi.")], name
        assert [c.as_dict() for c in prompts[0].checks] == CHECKS and prompts[1].checks == (), name


@pytest.mark.parametrize(("mapping", "message"), [
    ({"column": "prompt"}, "prompts.column = 'prompt' is not a field of prompts.file = "),
    ({"column": "question", "id_column": "id"}, "prompts.id_column = 'id' is not a field of"),
    ({"column": "question", "checks_column": "checks"}, "prompts.checks_column = 'checks' is not a field of"),
    ({}, "has no 'prompt' or 'text' column: found ['qid', 'question', 'tests', 'source'] (prompts.column=NAME names another)"),
])  # fmt: skip
def test_a_column_that_is_not_there_is_one_error_naming_the_key(tmp_path, mapping, message):
    path = tmp_path / "q.parquet"
    pq.write_table(questions(), path)
    with pytest.raises(ConfigError) as raised:
        load_prompts(Prompts(file=str(path), **mapping))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_file_that_is_not_parquet_is_one_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("id,text\n1,hi\n")
    with pytest.raises(ConfigError, match="is not a readable Parquet file"):
        load_prompts(Prompts(file=str(path)))


def hub_run(run_dir, hub_url: str, server_url: str, cache, file: str, *extra: str, offline: bool = False):
    env = {"HF_ENDPOINT": hub_url, "HF_HUB_CACHE": str(cache), "HF_TOKEN": "hf_fakeHubToken", "HF_HUB_OFFLINE": "1" if offline else "0"}
    return run_cli(["run", "--run-dir", str(run_dir), *QUIET, *SCORE_LIGHT, *endpoint(server_url), "samples=1",
                    f"prompts.file={file}", *extra], env=env)  # fmt: skip


def test_an_hf_dataset_file_is_fetched_cached_and_refused_in_one_line_offline(tmp_path, fault_server):
    uri = "hf://datasets/org/prompts/data/questions.parquet"
    mapped = ["prompts.column=question", "prompts.id_column=qid", "prompts.checks_column=tests"]
    hub = FakeHub({"org/prompts": {"data/questions.parquet": parquet_bytes(questions())}})
    try:
        done = hub_run(tmp_path / "r1", hub.url, fault_server.url, tmp_path / "hub", uri, *mapped)
        assert done.returncode == 0, done.stderr
        written = [json.loads(line) for line in (tmp_path / "r1" / "prompts.jsonl").read_text().splitlines()]
        assert [(p["id"], p["text"]) for p in written] == [("7", "Capital of France?"), ("8", "Say hi.")]
        assert written[0]["checks"] == CHECKS
        assert {path for _, path, _ in hub.requests} == {"/datasets/org/prompts/resolve/main/data/questions.parquet"}
        assert {auth for _, _, auth in hub.requests} == {"Bearer hf_fakeHubToken"}  # huggingface_hub's own token rules
        assert "hf_fakeHubToken" not in done.stdout + done.stderr
        missing = hub_run(tmp_path / "r0", hub.url, fault_server.url, tmp_path / "hub", "hf://datasets/org/prompts/nope.jsonl")
        assert missing.returncode == 2 and "has no file 'nope.jsonl'" in missing.stderr.strip()
        nobody = hub_run(tmp_path / "r0", hub.url, fault_server.url, tmp_path / "hub", "hf://datasets/org/other/p.jsonl")
        assert nobody.returncode == 2 and "there is no dataset org/other on the Hub" in nobody.stderr
    finally:
        hub.close()
    cached = hub_run(tmp_path / "r2", hub.url, fault_server.url, tmp_path / "hub", uri, *mapped)  # the Hub is gone
    assert cached.returncode == 0, cached.stderr
    assert (tmp_path / "r2" / "prompts.jsonl").read_text() == (tmp_path / "r1" / "prompts.jsonl").read_text()
    assert hub_run(tmp_path / "r3", hub.url, fault_server.url, tmp_path / "hub", uri, *mapped, offline=True).returncode == 0
    for offline in (False, True):  # the Hub unreachable, or HF_HUB_OFFLINE=1, and nothing cached
        refused = hub_run(tmp_path / "r4", hub.url, fault_server.url, tmp_path / "empty", uri, *mapped, offline=offline)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"prompts.file = '{uri}' could not be fetched: the Hub ({hub.url}) cannot be reached" in lines[0]
        assert not (tmp_path / "r4" / "completions.parquet").exists()
