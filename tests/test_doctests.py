"""Every docstring example in the package runs, on the modules as installed (one copy of each:
pytest's own ``--doctest-modules`` would import the source folders a second time, by path)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["hfsweep", "hfsweep.core", "hfsweep.sweeps", "hfsweep.evaluators", "hfsweep.reports"]


def modules() -> list[str]:
    names = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names += [info.name for info in pkgutil.iter_modules(package.__path__, package_name + ".")
                  if not info.ispkg and not info.name.endswith("__main__")]
    return sorted(set(names))


def test_the_doctests_cover_the_metrics():
    assert "hfsweep.evaluators.repetition" in modules() and "hfsweep.reports.stats" in modules()


@pytest.mark.parametrize("name", modules())
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # as pytest runs doctests
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
