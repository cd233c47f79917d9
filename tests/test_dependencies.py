"""Dependencies as imported: pyproject.toml declares what the code imports, nothing it does not,
and every conda environment file pins exactly pyproject.toml's versions."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest
import yaml
from helpers import ROOT

# Declared although no module imports them, and why.
NOT_IMPORTED = {
    "accelerate": "multi-GPU training is launched as `python -m accelerate.commands.launch`",
    "antlr4-python3-runtime": "math-verify's LaTeX parser needs this exact runtime version",
    "snakemake": "runs the workflow",
    "snakemake-executor-plugin-slurm": "profiles/slurm",
    "tabulate": "pandas' DataFrame.to_markdown imports it for the Markdown tables",
}
ENVS = ("analysis", "cpu", "gpu")


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[ ;]", requirement, maxsplit=1)[0]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements) -> dict[str, str]:
    """{canonical name: version} of ``name==version`` lines; pip options are skipped."""
    pins = {}
    for requirement in requirements:
        if requirement.startswith("-"):
            continue
        name, _, version = requirement.partition("==")
        assert version, f"{requirement!r} is not pinned exactly"
        pins[_canonical(name)] = version
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared() -> dict[str, str]:
    """Runtime dependencies and the GPU extra (vLLM); the test tools are not the code's."""
    project = _pyproject()
    return _pins([*project["dependencies"], *project["optional-dependencies"]["gpu"]])


def _env_pins(env: str) -> dict[str, str]:
    spec = yaml.safe_load((ROOT / "envs" / f"{env}.yaml").read_text())
    (pip,) = [item["pip"] for item in spec["dependencies"] if isinstance(item, dict)]
    return _pins(pip)


def _imported_modules() -> set[str]:
    """Top-level third-party modules imported anywhere under scripts/."""
    modules = set()
    for path in (ROOT / "scripts").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "tina_repro"}


def test_every_imported_module_is_declared_and_every_declaration_imported():
    distributions = packages_distributions()
    imported = {}
    for module in _imported_modules():
        # an extra not installed here (vLLM on a CPU host) is named like its module
        for distribution in distributions.get(module, [module]):
            imported[_canonical(distribution)] = module
    declared = set(_declared())
    assert not set(imported) - declared, "imported but not declared in pyproject.toml"
    assert declared - set(imported) == {_canonical(name) for name in NOT_IMPORTED}
    # the code's imports this test was written against, so that it cannot pass vacuously
    assert {"httpx", "pyyaml", "safetensors", "vllm", "torch"} <= set(imported)
    assert "psutil" not in declared


@pytest.mark.parametrize("env", ENVS)
def test_environment_files_pin_pyprojects_versions(env):
    declared, pins = _declared(), _env_pins(env)
    assert pins, env
    assert {name: declared.get(name) for name in pins} == pins


def test_the_cpu_environment_is_the_gpu_one_without_vllm_or_cuda_wheels():
    assert _env_pins("cpu") == {k: v for k, v in _env_pins("gpu").items() if k != "vllm"}
    assert "vllm" in _env_pins("gpu")
    cpu_pip = yaml.safe_load((ROOT / "envs/cpu.yaml").read_text())["dependencies"][-1]["pip"]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in cpu_pip
    # everything the jobs import, except the figures' plotting libraries (the analysis env's)
    runtime = set(_declared()) - {_canonical(n) for n in NOT_IMPORTED}
    assert runtime - set(_env_pins("gpu")) == {"seaborn", "matplotlib"}
    assert {"seaborn", "matplotlib"} <= set(_env_pins("analysis"))
