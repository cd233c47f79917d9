"""The test suite's own layout: shared code lives in helpers.py and the support modules beside it,
never in a test module or a check script (a test module may import the check script it tests);
the repository's root is defined once (helpers.ROOT). And the repository tracks no lock files or
workflow outputs."""

import ast
import fnmatch
import subprocess

from helpers import ROOT

TESTS = ROOT / "tests"
#: modules under tests/ that are run (by pytest, CI or a person), never imported
RUN_ONLY = ("test_*", "check_*", "conftest", "bench_*", "*_check", "run_*")


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(TESTS.rglob("*.py"))
        if "fixtures" not in path.parts
    }


def _imported(tree: ast.Module) -> set[str]:
    """Top-level names of every module ``tree`` imports absolutely, at any depth."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _may_import(path: str, name: str) -> bool:
    if not any(fnmatch.fnmatch(name, pattern) for pattern in RUN_ONLY):
        return True  # helpers or a support module
    return path.startswith("tests/test_") and name.startswith("check_")  # the script it tests


def test_no_module_under_tests_imports_a_test_module_or_a_script():
    local = {path.stem for path in TESTS.rglob("*.py")}
    found = {
        f"{path} imports {name}"
        for path, tree in _modules().items()
        for name in _imported(tree) & local
        if not _may_import(path, name)
    }
    assert not found


def test_the_root_is_defined_only_in_helpers():
    defined = {
        path
        for path, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in ("ROOT", "REPO", "REPO_ROOT")
    }
    assert defined == {"tests/helpers.py"}


def test_the_suite_finds_what_it_checks():
    """The checks above see every module, the check scripts and the nested harnesses included."""
    modules = _modules()
    assert {"tests/check_demo.py", "tests/slurm/slurm_check.py"} <= set(modules)
    assert "tests/lighteval_diff/differential.py" in modules
    assert "helpers" in _imported(modules["tests/check_demo.py"])
    assert not _may_import("tests/test_errors.py", "test_eval_workflow")
    assert not _may_import("tests/check_run_identity.py", "check_added_benchmark")
    assert not _may_import("tests/slurm/slurm_check.py", "test_data_workflow")


# ---- the repository's tracked files -------------------------------------------------------------
LOCKS = ("*.lock", "*.flock", ".writer.lock")
#: outputs of the workflow and of its runs; each output folder keeps only its README
OUTPUTS = ("results/*", "resources/*", "logs/*", ".snakemake/*", "benchmarks/*")
KEPT = {"results/README.md", "resources/README.md"}


def tracked_files() -> list[str]:
    return subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")[:-1]


def stray(paths: list[str]) -> list[str]:
    """The paths among ``paths`` that are lock files or outputs."""
    return [
        path
        for path in paths
        if any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], lock) for lock in LOCKS)
        or (any(fnmatch.fnmatch(path, output) for output in OUTPUTS) and path not in KEPT)
    ]


def test_the_repository_tracks_no_lock_files_or_outputs():
    assert stray(tracked_files()) == []


def test_stray_files_are_found():
    paths = ["o/.writer.lock", "results/eval/x/score.json", "resources/README.md"]
    paths += ["scripts/tina_repro/results/make.py", "config/hub.lock.tsv", "a/b.flock"]
    paths += ["logs/train_grpo/still.log", ".snakemake/metadata/x", "results/README.md"]
    assert stray(paths) == [
        "o/.writer.lock",
        "results/eval/x/score.json",
        "a/b.flock",
        "logs/train_grpo/still.log",
        ".snakemake/metadata/x",
    ]
