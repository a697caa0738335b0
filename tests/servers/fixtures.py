"""pytest fixtures for the test servers.

Use them from a test module (`from tests.servers.fixtures import fault_server, tgi_server`) or
for the whole suite from `tests/conftest.py` (`pytest_plugins = ["tests.servers.fixtures"]`).
Each test gets a fresh server on a free port, stopped after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fault_server import FaultServer
from .hostile import HostileServer
from .tgi_server import start_tgi_server


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A started `FaultServer` with no faults; change it with `.configure(...)`."""
    with FaultServer() as server:
        yield server


@pytest.fixture
def tgi_server() -> Iterator[FaultServer]:
    """A started server answering with TGI's error bodies on every route."""
    with start_tgi_server() as server:
        yield server


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A started `HostileServer` answering normally; change it with `.behaviour = Behaviour(...)`."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def second_server() -> Iterator[HostileServer]:
    """Another `HostileServer` (another origin: a redirect's destination)."""
    with HostileServer() as server:
        yield server
