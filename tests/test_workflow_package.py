"""Jobs import the package of the checkout whose Snakefile runs, not the environment's copy."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

# Every test runs Snakemake.
pytestmark = pytest.mark.slow


def test_a_second_checkout_runs_its_own_code(tmp_path):
    """A copy of the repository (a second checkout) sharing this environment, whose installed
    tina_repro is another checkout's: its job logs the copy's package, and the copy's edit ran."""
    second = tmp_path / "second"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (second / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, second / os.fsdecode(name))
    init = second / "scripts/tina_repro/__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "second"'))
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "resources/demo/train.jsonl"]
        + ["--configfile=config/demo/config.yaml"],
        cwd=second,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (second / "logs/make_demo_data.log").read_text()
    assert f"tina_repro second from {second / 'scripts/tina_repro'}" in log
