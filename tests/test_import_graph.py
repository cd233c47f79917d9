"""The package's import graph, read from the source with ast (lazy imports inside functions
included): no circle, and no import from a lower floor to a higher one (tina_repro.FLOORS)."""

import ast
from pathlib import Path

import pytest
from helpers import ROOT

from tina_repro import FLOORS

PACKAGE = ROOT / "scripts" / "tina_repro"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(module: str, node: ast.AST) -> list[str]:
    """The tina_repro modules one import statement loads (``from pkg import mod`` names mod)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the importing module's package
            is_package = MODULES[module].name == "__init__.py"
            package = module.split(".")[: len(module.split(".")) - node.level + is_package]
            base = ".".join([*package, base] if base else package)
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names
        ]
    else:
        return []
    found = []
    for name in names:
        while name and name not in MODULES:  # `import tina_repro.a.b.c` of a name in a module
            name = name.rpartition(".")[0]
        if name.startswith("tina_repro") and name != module:
            found.append(name)
    return found


def imports_in(module: str, source: str) -> set[str]:
    """The tina_repro modules ``source`` imports anywhere, inside functions too."""
    return {target for node in ast.walk(ast.parse(source)) for target in _imported(module, node)}


def import_graph() -> dict[str, set[str]]:
    """Every module -> the tina_repro modules it imports."""
    return {module: imports_in(module, path.read_text()) for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _unit(module: str) -> str:
    """The top-level module or subpackage a module belongs to (the root package: '')."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


FLOOR_OF = {unit: floor for floor, units in enumerate(FLOORS) for unit in units}
FLOOR_OF[""] = 0  # tina_repro/__init__.py: the version and FLOORS


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that break the floor rule, as ``importer -> imported (floor a -> floor b)``."""
    wrong = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            unit, other = _unit(module), _unit(target)
            if unit == other:
                continue
            floor, other_floor = FLOOR_OF[unit], FLOOR_OF[other]
            if other_floor > floor or (other_floor == floor and floor > 0):
                wrong.append(f"{module} -> {target} (floor {floor} -> {other_floor})")
    return wrong


GRAPH = import_graph()


def test_every_module_stands_on_one_floor():
    units = {_unit(module) for module in MODULES}
    assert units - set(FLOOR_OF) == set(), "add these to tina_repro.FLOORS"
    assert set(FLOOR_OF) - units == set(), "FLOORS names modules that do not exist"
    assert len(FLOOR_OF) == sum(map(len, FLOORS)) + 1, "a module on two floors"


def test_no_import_circles():
    assert cycles(GRAPH) == []


def test_no_import_from_a_lower_floor_to_a_higher_one():
    assert upward_imports(GRAPH) == []


def test_the_graph_is_read_from_the_source():
    # so that the checks above cannot pass on an empty graph
    assert {"tina_repro.config", "tina_repro.config.rows"} <= GRAPH["tina_repro.data.spec"]
    assert GRAPH["tina_repro.eval.grading_pool"] >= {"tina_repro.eval.grading", "tina_repro.files"}
    assert FLOOR_OF["config"] < FLOOR_OF["train"] < FLOOR_OF["results"] < FLOOR_OF["figures"]


def test_lazy_and_relative_imports_are_edges():
    source = (
        "import numpy\n"
        "from . import grading\n"
        "from .process_pool import run_bounded\n"
        "def grade():\n"
        "    from tina_repro.train import mapping\n"
        "    import tina_repro.results.stats\n"
        "    from tina_repro.config import Experiment\n"
    )
    assert imports_in("tina_repro.eval.grading_pool", source) == {
        "tina_repro.eval.grading",
        "tina_repro.eval.process_pool",
        "tina_repro.train.mapping",
        "tina_repro.results.stats",
        "tina_repro.config",
    }


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycles_finds_circles(graph, expected):
    assert cycles(graph) == expected


def test_an_upward_or_sideways_import_is_reported():
    graph = {
        "tina_repro.config.workflow": {"tina_repro.train.rewards_x"},
        "tina_repro.eval.grading": {"tina_repro.train.mapping", "tina_repro.paths"},
        "tina_repro.locks": {"tina_repro.errors"},
        "tina_repro.figures.data": {"tina_repro.results.stats"},
    }
    assert upward_imports(graph) == [
        "tina_repro.config.workflow -> tina_repro.train.rewards_x (floor 1 -> 2)",
        "tina_repro.eval.grading -> tina_repro.train.mapping (floor 2 -> 2)",
    ]
