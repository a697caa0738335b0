"""Shared fixtures: an isolated cache per test, the real embedded server, and the test servers."""

from __future__ import annotations

import signal

import pytest

from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.embedded import LlamaServer

pytest_plugins = ["tests.servers.fixtures"]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own completion cache, so no test is served another's answers."""
    cache_dir = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HFSWEEP_CACHE_DIR", str(cache_dir))
    return cache_dir


@pytest.fixture(scope="session")
def smollm2_server():
    """One real llama-server with SmolLM2 for the whole session (tests reach it as model=endpoint)."""
    target = ModelTarget(kind="embedded", id="smollm2", gguf="smollm2", server="llama.cpp", slots=4)
    with LlamaServer(target) as server:
        yield server


@pytest.fixture(scope="session")
def smollm2_endpoint(smollm2_server) -> list[str]:
    """Overrides that point a run at the session's running llama-server."""
    return ["model=endpoint", f"model.endpoint={smollm2_server.url}", "model.id=smollm2", "model.server=llama.cpp"]


def pytest_addoption(parser):
    """``--update-golden``: rewrite the report tests' golden CSVs instead of comparing."""
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden CSV files (tests/fixtures/golden/) from the current output")


# Tests press Ctrl-C on runs they start (SIGINT). Started in the background by a shell without
# job control, pytest inherits SIGINT ignored, and so would every run it starts: handle it
# (a handled signal is reset to the default in an exec'd child).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
