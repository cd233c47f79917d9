"""A non-editable install works from any directory: its files ship as package data."""

import os
import subprocess
import sys

import pytest
from helpers import ROOT


@pytest.mark.slow
def test_wheel_validates_a_config_from_another_directory(tmp_path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheel_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("tina_repro-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy comes first on the path, ahead of this checkout's editable install.
    env = {**os.environ, "PYTHONPATH": str(site)}
    # The wheel's `tina-repro` entry point, as its console script runs it.
    code = (
        "import sys, tina_repro; from importlib.metadata import entry_points; "
        "(main,) = entry_points(group='console_scripts', name='tina-repro'); "
        "print(tina_repro.__file__); sys.exit(main.load()(sys.argv[1:]))"
    )
    demo = ROOT / "config" / "demo" / "config.yaml"
    run = subprocess.run(
        [sys.executable, "-c", code, "validate", "--configfile", str(demo)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    imported_from, verdict = run.stdout.splitlines()
    assert imported_from.startswith(str(site))
    assert verdict.startswith("configuration valid: 5 experiments")
