"""The house's rules, read from the source: imports at the top, no import circle, the core a leaf,
and each package importing only the layers below it (see docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.cli_helpers import ROOT

# package -> its folder in the repository (pyproject.toml maps them)
FOLDERS = {"hfsweep": ROOT / "hfsweep", "hfsweep.sweeps": ROOT / "sweeps", "hfsweep.evaluators": ROOT / "evaluators",
           "hfsweep.reports": ROOT / "reports"}  # fmt: skip
# what each layer may import of the project (the application modules at the top import everything)
ALLOWED = {
    "hfsweep.core": ("hfsweep.core",),
    "hfsweep.evaluators": ("hfsweep.core", "hfsweep.evaluators"),
    "hfsweep.sweeps": ("hfsweep.core", "hfsweep.evaluators", "hfsweep.sweeps"),
    "hfsweep.reports": ("hfsweep.core", "hfsweep.evaluators", "hfsweep.reports"),
}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            if not name.startswith("hfsweep.sweeps.") or package == "hfsweep.sweeps":
                found[name] = path
    return found


MODULES = modules()


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules an import statement loads (``from pkg import module`` names the module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    submodules = [f"{node.module}.{alias.name}" for alias in node.names]
    names = [name for name in submodules if name in MODULES]
    if len(names) < len(submodules):  # some names are attributes of the module itself
        names.append(node.module or "")
    return [name for name in names if name in MODULES]


def function_level_imports(tree: ast.AST) -> list[ast.AST]:
    return [sub for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom))]  # fmt: skip


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        edges[name] = {target for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                       for target in imported(node) if target != name}  # fmt: skip
    return edges


def test_the_modules_are_found():
    assert {"hfsweep.core.records", "hfsweep.sweeps.runner", "hfsweep.evaluators.registry", "hfsweep.reports.build",
            "hfsweep.cli"} <= set(MODULES)  # fmt: skip


def test_no_import_inside_a_function():
    """Optional extras load through hfsweep.core.extras.require, the one lazy import."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}" for path in MODULES.values()
             for node in function_level_imports(ast.parse(path.read_text()))]  # fmt: skip
    assert not found, "\n".join(found)


def test_no_import_circle():
    edges, state, circles = graph(), {}, []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges[name]):
            if state.get(target) == "open":
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)


def test_each_layer_imports_only_the_layers_below():
    wrong = []
    for name, targets in graph().items():
        layer = next((prefix for prefix in ALLOWED if name == prefix or name.startswith(prefix + ".")), None)
        if layer is None:
            continue  # hfsweep.cli, hfsweep.pipeline, hfsweep.multirun: the application on top
        wrong += [f"{name} imports {target}" for target in targets
                  if not any(target == allowed or target.startswith(allowed + ".") for allowed in ALLOWED[layer])]
    assert not wrong, "\n".join(wrong)


def test_the_checks_can_fail():
    tree = ast.parse("import json\ndef f():\n    from hfsweep.core import records\n")
    assert [ast.unparse(node) for node in function_level_imports(tree)] == ["from hfsweep.core import records"]
    assert imported(tree.body[1].body[0]) == ["hfsweep.core.records"]
    assert imported(ast.parse("from hfsweep.core.records import PARAMS").body[0]) == ["hfsweep.core.records"]
