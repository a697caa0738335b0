"""Against llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``, a
server nobody here wrote), serving the packaged SmolLM2: with no ``model.server`` hfsweep
detects it, records its defaults, sends the neutral values that switch its own samplers off,
and the decoding preset gives no identical cells (issue 15; as a generic OpenAI server, "pure
sampling" and "top-k 40" came out identical).

llama-cpp-python is a test-only install: ``hfsweep setup --test-server`` (``make test`` runs
it) builds its wheel once and caches it; the runtime install has no ``llama_cpp``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pandas as pd
import pytest

from hfsweep.core.records import LATER_SAMPLERS
from hfsweep.sweeps.detect import detect
from hfsweep.sweeps.embedded import free_port, gguf_path
from hfsweep.sweeps.servers import KINDS
from tests.cli_helpers import start_cli
from tests.servers.processes import wait_until_serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed: `hfsweep setup --test-server` installs it (make test does)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def llama_cpp_python_server(tmp_path_factory):
    """The server on 127.0.0.1 and a free port, polled until it lists its model; stopped after."""
    port = free_port()
    log = (tmp_path_factory.mktemp("llcp") / "server.log").open("w")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path("smollm2")), "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "false"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/v1/models", proc, Path(log.name))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_detection_reads_its_kind_and_defaults(llama_cpp_python_server):
    info = detect(f"{llama_cpp_python_server}/v1")
    assert info.kind == "llama-cpp-python" and info.version
    assert {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}.items() <= info.defaults.items()


def test_decoding_with_auto_detection_has_no_identical_cells(llama_cpp_python_server, tmp_path):
    run_dir = tmp_path / "run"
    proc = start_cli(["run", "--run-dir", str(run_dir), "sweep=decoding", "model=endpoint", f"model.endpoint={llama_cpp_python_server}/v1",
                "model.id=smollm2", "model.mode=chat", "prompts.limit=4", "samples=2", "sampling.max_tokens=48",
                "runner.progress=false", "report.plots=false"])  # fmt: skip
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["server"]["kind"] == "llama-cpp-python" and summary["capability"] == "llama-cpp-python server"
    assert {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}.items() <= summary["server"]["defaults"].items()
    assert summary["errors"] == 0 and summary["finished"] == 7 * 4 * 2
    tables = run_dir / "report" / "tables"
    assert pd.read_csv(tables / "identical_cells.csv").empty  # "pure" and "top_k_40" differ now
    sent = pd.read_csv(tables / "server_defaults.csv", dtype=str).set_index("parameter")
    assert (sent.loc["min_p", "server_default"], sent.loc["min_p", "sent"]) == ("0.05", "0")
    assert (sent.loc["repeat_penalty", "server_default"], sent.loc["repeat_penalty", "sent"]) == ("1.1", "1")
    assert sent.loc["top_k", "sent"] == "swept: 0, 40, 640"
    page = (run_dir / "report" / "index.html").read_text()
    assert 'id="server"' in page and "llama-cpp-python" in page


def test_it_honours_the_later_samplers_its_request_schema_names(llama_cpp_python_server, tmp_path):
    """min_p, typical_p, top_n_sigma: honoured (sweepable) exactly where the server's chat and
    completions schemas name them; min_p swept through it changes the texts."""
    schemas = httpx2.get(f"{llama_cpp_python_server}/openapi.json", timeout=30).json()["components"]["schemas"]
    named = {name for name in LATER_SAMPLERS if all(name in schemas[s]["properties"]
                                                     for s in ("CreateChatCompletionRequest", "CreateCompletionRequest"))}  # fmt: skip
    honoured = KINDS["llama-cpp-python"].capability.honoured & set(LATER_SAMPLERS)
    assert honoured == named == {"min_p"}
    run_dir = tmp_path / "min_p"
    proc = start_cli(["run", "--run-dir", str(run_dir), "sweep=single", "+sweep.grid.min_p=[0,0.3]", "sampling.temperature=1.5",
                      "model=endpoint", f"model.endpoint={llama_cpp_python_server}/v1", "model.id=smollm2", "prompts.limit=3",
                      "samples=2", "sampling.max_tokens=16", "runner.progress=false", "++report.enabled=false",
                      "evaluators=[chars]"])  # fmt: skip
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    frame = pd.read_parquet(run_dir / "completions.parquet").sort_values(["prompt_id", "sample_index"])
    off, on = (frame[frame["min_p"] == value]["text"].tolist() for value in (0.0, 0.3))
    assert len(off) == len(on) == 6 and sum(a != b for a, b in zip(off, on)) >= 2
    refused = start_cli(["validate", "+sweep.grid.top_n_sigma=[-1,1]", "model=endpoint", f"model.endpoint={llama_cpp_python_server}/v1",
                         "model.id=smollm2", "model.server=llama-cpp-python"])  # fmt: skip
    _, err = refused.communicate(timeout=300)
    assert refused.returncode == 2 and "sweeps top_n_sigma, which llama-cpp-python server ignores" in err
